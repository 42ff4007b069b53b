"""Bytes in, messages out: the AMI wire format and nothing else.

AMI is line based: ``Key: Value\\r\\n`` lines, a blank line ends a frame, and the
manager greets with one banner line. Framing is done on bytes, and only complete
frames are decoded, so a multi-byte UTF-8 character split across two TCP reads is
never cut in half (the frame terminator is ASCII, and UTF-8 never uses ASCII bytes
inside a multi-byte sequence).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from callcenter.ami.errors import AMIFrameTooLarge, AMIInjectionError, AMIProtocolError

TERMINATOR = b"\r\n\r\n"
DEFAULT_MAX_FRAME_BYTES = 1 << 20  # far above any real event; a runaway peer is cut here


class Message(dict[str, str]):
    """One AMI frame: header name -> value.

    A header that repeats (``Output:`` lines of a Command response, ``Variable:``)
    keeps every value, joined with a newline, so nothing from the wire is lost.
    """

    __slots__ = ()

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


@dataclass(frozen=True, slots=True)
class FrameError:
    """A frame that could not be parsed; the stream goes on after it."""

    error: AMIProtocolError
    raw: bytes  # at most a short prefix, for the log


def _names_ok(names: Collection[str]) -> bool:
    """The one rule for header names, on the fast path and the slow path alike.

    A name is not empty, holds no colon, and has no white space at either end. Checked
    on all the names of a frame at once, in C loops: the fast path stays fast.
    """
    joined = "".join(names)
    return (
        "" not in names and ":" not in joined and len("".join(map(str.strip, names))) == len(joined)
    )


def _parse_lines(text: str) -> Message:
    """Slow path: repeated headers, empty values, or junk lines."""
    msg = Message()
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep or not _names_ok((key,)):
            raise AMIProtocolError(f"not an AMI header line: {line[:80]!r}")
        if value.startswith(" "):
            value = value[1:]
        if key in msg:
            msg[key] = msg[key] + "\n" + value
        else:
            msg[key] = value
    return msg


def parse_frame(text: str) -> Message:
    """Parse one frame's text (without its terminating blank line)."""
    lines = text.split("\r\n")
    try:
        # Fast path: every line is "Key: Value" and no key repeats. Its result stands
        # only if every name passes the slow path's rule (a name with a colon would be
        # cut at another place there); else the slow path decides, and refuses alike.
        msg = Message(line.split(": ", 1) for line in lines)
    except ValueError:
        return _parse_lines(text)
    if len(msg) != len(lines) or not _names_ok(msg):
        return _parse_lines(text)
    return msg


def _decode(frame: bytes) -> str:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        # A peer may send a caller name in another charset; keep the bytes visible
        # rather than dropping the event.
        return frame.decode("utf-8", "backslashreplace")


def _skip_blank_lines(buf: bytearray) -> int:
    """Drop the CR/LF bytes at the start of ``buf``; how many were dropped."""
    if not buf or buf[0] not in (0x0D, 0x0A):
        return 0  # the usual case, in constant time
    n = len(buf) - len(buf.lstrip(b"\r\n"))
    del buf[:n]
    return n


def _parse_into(text: str, out: list[Message | FrameError]) -> None:
    try:
        out.append(parse_frame(text))
    except AMIProtocolError as exc:
        out.append(FrameError(exc, text[:80].encode()))


class AMIFramer:
    """Incremental framer: ``feed()`` bytes as they arrive, get complete messages back."""

    def __init__(
        self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, expect_banner: bool = True
    ) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes
        self._discarding = False
        self.banner: str | None = None
        self._expect_banner = expect_banner

    def feed(self, data: bytes) -> list[Message | FrameError]:
        buf = self._buf
        # Each feed scans only the new bytes (and the few before them that may hold the
        # start of a separator), and the buffer never keeps blank lines before a frame:
        # the work is linear in the bytes received and the buffer bounded by the limit,
        # whatever the peer sends (a flood of CR or LF included).
        old = len(buf)
        buf += data
        out: list[Message | FrameError] = []
        if self._expect_banner:
            nl = buf.find(b"\r\n", max(0, old - 1))
            if nl < 0:
                if len(buf) > self._max:
                    raise AMIProtocolError("no AMI banner line from the peer")
                return out
            self.banner = _decode(bytes(buf[:nl]))
            del buf[: nl + 2]
            old = 0
            self._expect_banner = False
            if not self.banner.startswith("Asterisk Call Manager"):
                out.append(
                    FrameError(
                        AMIProtocolError(f"unexpected banner {self.banner[:80]!r}"),
                        self.banner.encode()[:80],
                    )
                )
        # The pending bytes never hold a whole terminator (each feed consumes up to the
        # last one), so only the new bytes and the 3 before them need scanning.
        scan_from = max(0, old - 3)
        if self._discarding:
            end = buf.find(TERMINATOR, scan_from)
            if end < 0:
                # Keep only a tail long enough to hold a split terminator.
                del buf[:-3]
                return out
            del buf[: end + 4]
            scan_from = 0
            self._discarding = False
        # Outside a discarded frame the buffer starts at a frame: blank lines there are
        # stray (every frame is stripped of CR/LF at its edges), so they are dropped as
        # they arrive instead of being kept, and scanned again, until a frame comes.
        scan_from = max(0, scan_from - _skip_blank_lines(buf))
        end = buf.rfind(TERMINATOR, scan_from)
        if end < 0:
            # One unfinished frame, perhaps before the first bytes of its terminator,
            # which do not count towards the frame's size: where the reads are cut never
            # decides whether a frame is too large.
            if len(buf) > self._max + len(TERMINATOR) - 1:
                out.append(
                    FrameError(
                        AMIFrameTooLarge(
                            f"frame larger than {self._max} bytes without a terminator; "
                            "skipped to the next frame"
                        ),
                        bytes(buf[:80]),
                    )
                )
                del buf[:-3]
                self._discarding = True
            return out
        chunk = bytes(buf[:end])
        del buf[: end + 4]
        _skip_blank_lines(buf)
        if len(chunk) > self._max:
            # Some frame in it may be over the limit: measure each one, in bytes (not
            # in decoded characters, which multi-byte text or escapes would skew).
            for raw in chunk.split(TERMINATOR):
                raw = raw.strip(b"\r\n")
                if len(raw) > self._max:
                    out.append(
                        FrameError(
                            AMIFrameTooLarge(f"frame of {len(raw)} bytes, larger than {self._max}"),
                            raw[:80],
                        )
                    )
                elif raw:
                    _parse_into(_decode(raw), out)
            return out
        try:
            frames: Iterable[str] = chunk.decode("utf-8").split("\r\n\r\n")
        except UnicodeDecodeError:
            frames = (_decode(f) for f in chunk.split(TERMINATOR))
        for text in frames:
            # An extra CRLF after a frame (Asterisk sends one after some events) leaves
            # CR/LF at a frame's edges once the overlapping terminator is found.
            text = text.strip("\r\n")
            if text:  # stray blank lines between frames are harmless
                _parse_into(text, out)
        return out

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)


HeaderValue = str | int | float | Sequence[str]

# What an action's header names and values cannot carry: every C0 control character (CR
# and LF would start a header or end the frame, NUL ends the C string Asterisk reads it
# into, the others are no text a PBX should store), DEL, and lone surrogates (no UTF-8).
AMI_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_NAMES = {"\r": "CR", "\n": "LF", "\x00": "NUL", "\t": "TAB", "\x1b": "ESC", "\x7f": "DEL"}


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that AMI cannot carry, or None."""
    found = AMI_UNSAFE.search(text)
    return None if found is None else found.group()


def describe_character(ch: str) -> str:
    """``U+0000 (NUL)``: a character named so that a log or an error shows it."""
    name = _NAMES.get(ch)
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _check(text: str, what: str, header: str) -> str:
    ch = unsafe_character(text)
    if ch is not None:
        kind = "a lone surrogate" if 0xD800 <= ord(ch) <= 0xDFFF else "a control character"
        raise AMIInjectionError(
            f"{what} contains {kind}, {describe_character(ch)}: refused (AMI injection)",
            header=header,
        )
    return text


def encode_action(action: str, headers: Mapping[str, HeaderValue], action_id: str) -> bytes:
    """Serialise an action. Refuses any control character (CR, LF, NUL, ... DEL) that
    would let a value start a new header, end the frame or cut a value short."""
    lines = [
        f"Action: {_check(action, 'the action name (Action)', 'Action')}",
        f"ActionID: {_check(action_id, 'ActionID', 'ActionID')}",
    ]
    for key, value in headers.items():
        if not key or ":" in key or key != key.strip() or key.lower() in ("action", "actionid"):
            raise AMIInjectionError(f"bad header name {key[:40]!r}", header=key[:40])
        _check(key, f"header name {key[:40]!r}", key[:40])
        values = [value] if isinstance(value, str | int | float) else list(value)
        for v in values:
            lines.append(f"{key}: {_check(str(v), f'value of {key}', key)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
