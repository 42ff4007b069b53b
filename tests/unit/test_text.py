"""The one-line text rule shared by the pause reason, the service-mode note and the API."""

from __future__ import annotations

import pytest

from callcenter.text import describe, forbidden_character

CONTROLS = [*map(chr, range(32)), "\x7f", *map(chr, range(0x80, 0xA0))]


@pytest.mark.parametrize("ch", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_control_character_is_found(ch: str) -> None:
    assert forbidden_character(f"ok{ch}x{ch}") == ch


@pytest.mark.parametrize("ch", [chr(0xD800), chr(0xDFFF), "\u2028", "\u2029"])
def test_lone_surrogates_and_separators_are_found(ch: str) -> None:
    assert forbidden_character(f"a{ch}") == ch


@pytest.mark.parametrize(
    "text", ["", "lunch", "昼休み", "会議　中", "emoji \U0001f600", "a\u200bb"]
)
def test_ordinary_text_passes(text: str) -> None:
    assert forbidden_character(text) is None


def test_white_space_may_be_allowed_but_no_other_control() -> None:
    assert forbidden_character("a\tb\r\nc\x85d\u2028e\x1f", spaces=True) is None
    assert forbidden_character("a\tb\x00", spaces=True) == "\x00"
    assert forbidden_character("a\tb\x1b", spaces=True) == "\x1b"
    assert forbidden_character("a\ud800", spaces=True) == "\ud800"


def test_describe() -> None:
    assert describe("\x00") == "U+0000"
    assert describe("\ud800") == "U+D800"
