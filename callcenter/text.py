"""One rule for the short, one-line texts people send to the PBX (a pause reason, the
service mode's note): no control characters, no line or paragraph separators, no lone
surrogates. The AMI client refuses the control characters anyway (``encode_action``);
checking first lets each layer name the field the text came from."""

from __future__ import annotations

import unicodedata

# Control characters (C0, DEL, C1), lone surrogates (no UTF-8), line and paragraph separators.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def forbidden_character(text: str, *, spaces: bool = False) -> str | None:
    """The first character of ``text`` that one-line text must not hold, or None.

    ``spaces``: white space is allowed (tab, line breaks...), for a caller that folds it
    into single spaces itself.
    """
    for ch in text:
        if unicodedata.category(ch) in FORBIDDEN_CATEGORIES and not (spaces and ch.isspace()):
            return ch
    return None


def describe(ch: str) -> str:
    """``U+0000``: a character as an error message shows it."""
    return f"U+{ord(ch):04X}"
