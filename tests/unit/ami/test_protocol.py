"""The AMI wire format: framing on any read boundary, parsing, and action encoding."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.ami import (
    AMIError,
    AMIFramer,
    AMIFrameTooLarge,
    AMIInjectionError,
    AMIProtocolError,
    FrameError,
    Message,
    encode_action,
    parse_frame,
)
from callcenter.ami.protocol import HeaderValue

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
NAME = "山田 太郎"

# A stream as a manager sends it: the banner, then frames of every common shape.
FRAMES: list[tuple[bytes, dict[str, str]]] = [
    (
        b"Response: Success\r\nActionID: cc-1\r\nMessage: Authentication accepted\r\n\r\n",
        {"Response": "Success", "ActionID": "cc-1", "Message": "Authentication accepted"},
    ),
    (
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n",
        {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"},
    ),
    (
        "Event: Newchannel\r\nChannel: PJSIP/100-00000001\r\nCallerIDNum: 100\r\n"
        f"CallerIDName: {NAME}\r\nUniqueid: 1700000000.1\r\n\r\n".encode(),
        {
            "Event": "Newchannel",
            "Channel": "PJSIP/100-00000001",
            "CallerIDNum": "100",
            "CallerIDName": NAME,
            "Uniqueid": "1700000000.1",
        },
    ),
    (
        b"Response: Success\r\nActionID: cc-2\r\nOutput: line one\r\nOutput: line two\r\n\r\n",
        {"Response": "Success", "ActionID": "cc-2", "Output": "line one\nline two"},
    ),
    (
        b"Event: Hangup\r\nCause: 16\r\nCause-txt: Normal Clearing\r\nConnectedLineName:\r\n\r\n",
        {"Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing", "ConnectedLineName": ""},
    ),
]
STREAM = BANNER + b"".join(raw for raw, _ in FRAMES)
EXPECTED = [expected for _, expected in FRAMES]


Item = tuple[str, object]


def feed_all(framer: AMIFramer, chunks: Iterable[bytes]) -> list[Message | FrameError]:
    out: list[Message | FrameError] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def summary(items: Sequence[Message | FrameError]) -> list[Item]:
    """Messages as plain dicts, errors as their class: comparable across feeds."""
    return [
        ("error", type(i.error).__name__) if isinstance(i, FrameError) else ("msg", dict(i))
        for i in items
    ]


def split_at(data: bytes, *points: int) -> list[bytes]:
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# -- framing on any read boundary -------------------------------------------------------


def test_whole_stream_in_one_read() -> None:
    framer = AMIFramer()
    items = framer.feed(STREAM)
    assert items == EXPECTED
    assert all(type(i) is Message for i in items)
    assert framer.banner == "Asterisk Call Manager/9.0.0"
    assert framer.pending_bytes == 0


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_every_split_point_gives_the_same_messages(cut: int) -> None:
    framer = AMIFramer()
    assert feed_all(framer, split_at(STREAM, cut)) == EXPECTED
    assert framer.banner == "Asterisk Call Manager/9.0.0"
    assert framer.pending_bytes == 0


def test_byte_by_byte_gives_the_same_messages() -> None:
    framer = AMIFramer()
    assert feed_all(framer, byte_by_byte(STREAM)) == EXPECTED
    assert framer.pending_bytes == 0


def test_split_inside_a_multibyte_character_keeps_the_name_whole() -> None:
    # Every cut strictly inside one of the 3-byte characters of the name.
    inside: list[int] = []
    pos = STREAM.index(NAME.encode())
    for ch in NAME:
        width = len(ch.encode())
        inside.extend(pos + k for k in range(1, width))
        pos += width
    assert len(inside) == 8
    for cut in inside:
        head, tail = STREAM[:cut], STREAM[cut:]
        with pytest.raises(UnicodeDecodeError):
            head.decode("utf-8")  # the cut really does split a character
        framer = AMIFramer()
        first = framer.feed(head)
        assert first == EXPECTED[:2]
        second = framer.feed(tail)
        assert second == EXPECTED[2:]
        (newchannel,) = (m for m in second if isinstance(m, Message) and m.event == "Newchannel")
        assert newchannel["CallerIDName"] == NAME


def test_three_reads_at_every_pair_of_cuts_in_the_unicode_frame() -> None:
    lo = STREAM.index(b"Event: Newchannel")
    hi = STREAM.index(b"Response", lo)
    for a in range(lo, hi, 3):
        for b in range(a, hi, 5):
            assert feed_all(AMIFramer(), split_at(STREAM, a, b)) == EXPECTED


# Stray blank lines between frames are harmless, wherever the reads are cut.
STRAY = (
    BANNER
    + b"Event: A\r\nSeq: 1\r\n\r\n\r\n"  # one extra CRLF
    + b"Event: B\r\nSeq: 2\r\n\r\n\r\n\r\n\r\n"  # three extra
    + b"\r\nEvent: C\r\nSeq: 3\r\n\r\n"
)
STRAY_EXPECTED = [
    {"Event": "A", "Seq": "1"},
    {"Event": "B", "Seq": "2"},
    {"Event": "C", "Seq": "3"},
]


def test_stray_blank_lines_at_every_split_point() -> None:
    for cut in range(len(STRAY) + 1):
        items = feed_all(AMIFramer(), split_at(STRAY, cut))
        assert summary(items) == [("msg", m) for m in STRAY_EXPECTED], f"cut at {cut}"


def test_stray_blank_lines_byte_by_byte() -> None:
    assert feed_all(AMIFramer(), byte_by_byte(STRAY)) == STRAY_EXPECTED


def test_no_banner_expected() -> None:
    framer = AMIFramer(expect_banner=False)
    assert framer.feed(b"Event: X\r\n\r\n") == [{"Event": "X"}]
    assert framer.banner is None


def test_banner_split_across_reads() -> None:
    framer = AMIFramer()
    assert framer.feed(b"Asterisk Call Man") == []
    assert framer.banner is None
    assert framer.feed(b"ager/2.10.4\r") == []
    assert framer.feed(b"\nEvent: X\r\n\r\n") == [{"Event": "X"}]
    assert framer.banner == "Asterisk Call Manager/2.10.4"


# -- property: random frames, random chunks -----------------------------------------------

header_names = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    min_size=1,
    max_size=12,
)
header_values = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=30,
)
# What an action may carry: no C0 control character, no DEL (encode_action refuses them).
action_values = st.text(
    alphabet=st.characters(
        exclude_categories=["Cs"], exclude_characters="".join(map(chr, [*range(32), 127]))
    ),
    max_size=30,
)
frames_strategy = st.lists(
    st.dictionaries(header_names, header_values, min_size=1, max_size=6), min_size=1, max_size=6
)


def encode_frame(headers: Mapping[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


@settings(max_examples=150, deadline=None, database=None)
@given(frames=frames_strategy, data=st.data())
def test_random_frames_in_random_chunks_parse_back_exactly(
    frames: list[dict[str, str]], data: st.DataObject
) -> None:
    stream = BANNER + b"".join(encode_frame(f) for f in frames)
    cuts = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12).map(sorted)
    )
    framer = AMIFramer()
    items = feed_all(framer, split_at(stream, *cuts))
    assert items == frames
    messages = [m for m in items if isinstance(m, Message)]
    assert [list(m) for m in messages] == [list(f) for f in frames]  # header order kept too
    assert framer.pending_bytes == 0


@settings(max_examples=100, deadline=None, database=None)
@given(
    action=header_names,
    headers=st.dictionaries(
        header_names.filter(lambda k: k.lower() not in ("action", "actionid")),
        action_values,
        max_size=6,
    ),
)
def test_encode_action_round_trips_through_the_framer(action: str, headers: dict[str, str]) -> None:
    raw = encode_action(action, headers, "id-7")
    assert raw.endswith(b"\r\n\r\n")
    assert raw.count(b"\r\n\r\n") == 1
    (msg,) = AMIFramer(expect_banner=False).feed(raw)
    assert msg == {"Action": action, "ActionID": "id-7", **headers}


# -- parse_frame -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Event: X", {"Event": "X"}, id="single"),
        pytest.param(
            "Response: Follows\r\nOutput: a\r\nOutput: b",
            {"Response": "Follows", "Output": "a\nb"},
            id="repeated-twice",
        ),
        pytest.param(
            "Output: a\r\nX: 1\r\nOutput: b\r\nOutput: c",
            {"Output": "a\nb\nc", "X": "1"},
            id="repeated-thrice-interleaved",
        ),
        pytest.param(
            "Variable: A=1\r\nVariable:\r\nVariable: C=3",
            {"Variable": "A=1\n\nC=3"},
            id="repeated-with-empty",
        ),
        pytest.param("Event: X\r\nKey:", {"Event": "X", "Key": ""}, id="empty-value"),
        pytest.param("Event: X\r\nKey: ", {"Event": "X", "Key": ""}, id="empty-value-space"),
        pytest.param("Key:", {"Key": ""}, id="only-empty-value"),
        pytest.param(
            "Event: X\r\nMessage: a: b: c", {"Event": "X", "Message": "a: b: c"}, id="colon-space"
        ),
        pytest.param(
            "Event: X\r\nMessage: a: b\r\nOutput: 1\r\nOutput: 2",
            {"Event": "X", "Message": "a: b", "Output": "1\n2"},
            id="colon-space-slow-path",
        ),
        pytest.param("Event:X", {"Event": "X"}, id="no-space"),
        pytest.param("Event: X\r\nKey:  two", {"Event": "X", "Key": " two"}, id="extra-space-kept"),
        pytest.param(
            "Event: X\r\nTime: 12:30:00", {"Event": "X", "Time": "12:30:00"}, id="colons-no-space"
        ),
        pytest.param(
            "Event: X\r\nAppData: a:b: c", {"Event": "X", "AppData": "a:b: c"}, id="colon-in-value"
        ),
        pytest.param("Event: X\r\nLine: a\nb", {"Event": "X", "Line": "a\nb"}, id="bare-lf"),
    ],
)
def test_parse_frame(text: str, expected: dict[str, str]) -> None:
    msg = parse_frame(text)
    assert type(msg) is Message
    assert msg == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Event: X\r\nthis is junk", id="no-colon"),
        pytest.param("Event: X\r\n", id="blank-line"),
        pytest.param("Output: a\r\nOutput: b\r\njunk", id="junk-slow-path"),
    ],
)
def test_parse_frame_rejects_junk_lines(text: str) -> None:
    with pytest.raises(AMIProtocolError, match="not an AMI header line"):
        parse_frame(text)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(": value", id="empty-name"),
        pytest.param(" Key: value", id="leading-space"),
        pytest.param("\tKey: value", id="leading-tab"),
        pytest.param("Key : value", id="trailing-space"),
        pytest.param("Key\u3000: value", id="trailing-ideographic-space"),
    ],
)
@pytest.mark.parametrize("path", ["fast", "slow"])
def test_both_paths_refuse_the_same_header_names(line: str, path: str) -> None:
    # Issue 11: the fast path (no repeated name) took "" and " Key" as names; the slow
    # path (a repeated name sends a frame there) refused them. One rule now.
    text = f"Event: X\r\n{line}"
    if path == "slow":
        text += "\r\nOutput: a\r\nOutput: b"
    with pytest.raises(AMIProtocolError, match="not an AMI header line"):
        parse_frame(text)
    items = AMIFramer(expect_banner=False).feed(text.encode() + b"\r\n\r\nEvent: Y\r\n\r\n")
    assert summary(items) == [("error", "AMIProtocolError"), ("msg", {"Event": "Y"})]


@pytest.mark.parametrize("path", ["fast", "slow"])
def test_both_paths_cut_a_name_at_its_first_colon(path: str) -> None:
    # "Ke:y: v" is the name "Ke" with the value "y: v" on either path (the fast path
    # split it at ": " into the name "Ke:y").
    text = "Event: X\r\nKe:y: v" + ("\r\nOutput: a\r\nOutput: b" if path == "slow" else "")
    msg = parse_frame(text)
    assert msg["Ke"] == "y: v"
    assert "Ke:y" not in msg


@settings(max_examples=300, deadline=None, database=None)
@given(
    lines=st.lists(
        st.lists(st.sampled_from(["a", "B", " ", "\t", ":", ": ", "\u3000", "-"])).map("".join),
        min_size=1,
        max_size=4,
    )
)
def test_fast_path_agrees_with_the_slow_path(lines: list[str]) -> None:
    from callcenter.ami.protocol import _parse_lines

    text = "\r\n".join(lines)
    try:
        slow: Message | type[AMIProtocolError] = _parse_lines(text)
    except AMIProtocolError:
        slow = AMIProtocolError
    try:
        fast: Message | type[AMIProtocolError] = parse_frame(text)
    except AMIProtocolError:
        fast = AMIProtocolError
    assert fast == slow


def test_message_properties() -> None:
    ev = parse_frame("Event: Hangup\r\nActionID: a-1")
    assert (ev.event, ev.response, ev.action_id) == ("Hangup", None, "a-1")
    resp = parse_frame("Response: Success")
    assert (resp.event, resp.response, resp.action_id) == (None, "Success", None)


# -- errors inside the stream ------------------------------------------------------------


def test_junk_line_gives_a_frame_error_and_the_next_frame_still_parses() -> None:
    framer = AMIFramer()
    items = framer.feed(
        BANNER
        + b"Event: A\r\n\r\n"
        + b"Event: Broken\r\nthis line is junk\r\nSeq: 2\r\n\r\n"
        + b"Event: C\r\nSeq: 3\r\n\r\n"
    )
    assert len(items) == 3
    assert items[0] == {"Event": "A"}
    err = items[1]
    assert isinstance(err, FrameError)
    assert type(err.error) is AMIProtocolError
    assert isinstance(err.error, ValueError)
    assert err.raw.startswith(b"Event: Broken")
    assert items[2] == {"Event": "C", "Seq": "3"}


@pytest.mark.parametrize("step", [1, 2, 7, 1000])
def test_junk_frame_in_any_chunking(step: int) -> None:
    stream = BANNER + b"Event: A\r\n\r\nnonsense\r\n\r\nEvent: C\r\n\r\n"
    chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
    assert summary(feed_all(AMIFramer(), chunks)) == [
        ("msg", {"Event": "A"}),
        ("error", "AMIProtocolError"),
        ("msg", {"Event": "C"}),
    ]


MAX = 200


def test_oversized_frame_without_terminator_is_cut_and_the_framer_resyncs() -> None:
    framer = AMIFramer(max_frame_bytes=MAX)
    assert framer.feed(BANNER + b"Event: A\r\n\r\n") == [{"Event": "A"}]
    head = b"Event: Huge\r\nData: " + b"x" * MAX
    items = framer.feed(head)
    assert len(items) == 1
    err = items[0]
    assert isinstance(err, FrameError)
    assert isinstance(err.error, AMIFrameTooLarge)
    assert isinstance(err.error, AMIProtocolError)
    assert str(MAX) in str(err.error)
    assert err.raw == head[:80]
    # The runaway frame goes on; it is discarded, never buffered.
    for _ in range(50):
        assert framer.feed(b"y" * 1000) == []
        assert framer.pending_bytes <= 3
    items = framer.feed(b"zz\r\n\r\nEvent: Next\r\nSeq: 9\r\n\r\n")
    assert items == [{"Event": "Next", "Seq": "9"}]
    assert framer.feed(b"Event: Later\r\n\r\n") == [{"Event": "Later"}]


def test_oversized_frame_resyncs_on_a_terminator_split_across_reads() -> None:
    framer = AMIFramer(max_frame_bytes=MAX, expect_banner=False)
    items = framer.feed(b"Data: " + b"x" * (MAX + 50) + b"\r\n\r")
    assert summary(items) == [("error", "AMIFrameTooLarge")]
    assert framer.feed(b"\n") == []
    assert framer.feed(b"Event: Next\r\n\r\n") == [{"Event": "Next"}]


def test_oversized_frame_complete_in_one_chunk() -> None:
    framer = AMIFramer(max_frame_bytes=MAX)
    big = b"Event: Huge\r\nData: " + b"x" * (2 * MAX) + b"\r\n\r\n"
    items = framer.feed(BANNER + b"Event: A\r\n\r\n" + big + b"Event: B\r\n\r\n")
    assert summary(items) == [
        ("msg", {"Event": "A"}),
        ("error", "AMIFrameTooLarge"),
        ("msg", {"Event": "B"}),
    ]
    err = items[1]
    assert isinstance(err, FrameError)
    assert err.raw.startswith(b"Event: Huge")
    assert len(err.raw) <= 80
    assert framer.pending_bytes == 0


def _sized_frame(size: int, filler: str = "x") -> bytes:
    head = b"Event: Sized\r\nData: "
    body = (filler * size).encode()
    frame = head + body[: size - len(head)]
    assert len(frame) == size
    return frame


@pytest.mark.parametrize("cut", range(MAX - 10, MAX + 12))
def test_frame_of_exactly_the_limit_is_accepted_at_any_split(cut: int) -> None:
    stream = _sized_frame(MAX) + b"\r\n\r\nEvent: B\r\n\r\n"
    items = feed_all(AMIFramer(max_frame_bytes=MAX, expect_banner=False), split_at(stream, cut))
    assert [i.event for i in items if isinstance(i, Message)] == ["Sized", "B"]
    assert not [i for i in items if isinstance(i, FrameError)]


@pytest.mark.parametrize("cut", range(MAX - 10, MAX + 12))
def test_frame_one_byte_over_the_limit_is_refused_at_any_split(cut: int) -> None:
    stream = _sized_frame(MAX + 1) + b"\r\n\r\nEvent: B\r\n\r\n"
    items = feed_all(AMIFramer(max_frame_bytes=MAX, expect_banner=False), split_at(stream, cut))
    assert summary(items) == [("error", "AMIFrameTooLarge"), ("msg", {"Event": "B"})]


@pytest.mark.parametrize("chunking", ["whole", "bytes"])
def test_limit_counts_bytes_not_characters(chunking: str) -> None:
    # 100 three-byte characters: 100 characters, but 300+ bytes, over a 200-byte limit.
    stream = b"Event: Wide\r\nName: " + ("山" * 100).encode() + b"\r\n\r\nEvent: B\r\n\r\n"
    chunks = [stream] if chunking == "whole" else byte_by_byte(stream)
    items = feed_all(AMIFramer(max_frame_bytes=MAX, expect_banner=False), chunks)
    assert summary(items) == [("error", "AMIFrameTooLarge"), ("msg", {"Event": "B"})]


@pytest.mark.parametrize("chunking", ["whole", "bytes"])
def test_invalid_utf8_under_the_limit_is_not_too_large(chunking: str) -> None:
    # 40 invalid bytes: 4 characters each once escaped, still 40 bytes on the wire.
    stream = b"Event: Latin\r\nName: " + b"\xff" * 40 + b"\r\n\r\n"
    chunks = [stream] if chunking == "whole" else byte_by_byte(stream)
    items = feed_all(AMIFramer(max_frame_bytes=100, expect_banner=False), chunks)
    assert items == [{"Event": "Latin", "Name": "\\xff" * 40}]


def test_invalid_utf8_in_a_value_is_kept_with_backslash_escapes() -> None:
    stream = (
        BANNER
        + b"Event: A\r\n\r\n"
        + b"Event: Newchannel\r\nCallerIDName: Jos\xe9 M\xfcller\r\n\r\n"
        + f"Event: C\r\nCallerIDName: {NAME}\r\n\r\n".encode()
    )
    expected = [
        {"Event": "A"},
        {"Event": "Newchannel", "CallerIDName": "Jos\\xe9 M\\xfcller"},
        {"Event": "C", "CallerIDName": NAME},  # the neighbours still decode normally
    ]
    assert AMIFramer().feed(stream) == expected
    assert feed_all(AMIFramer(), byte_by_byte(stream)) == expected


def test_truncated_utf8_sequence_is_escaped_not_dropped() -> None:
    name = NAME.encode()[:-1]  # last character cut short on the wire
    items = AMIFramer(expect_banner=False).feed(b"Event: X\r\nName: " + name + b"\r\n\r\n")
    assert items == [{"Event": "X", "Name": "山田 太\\xe9\\x83"}]


@pytest.mark.parametrize(
    "banner",
    [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 400 Bad Request\r\n", b"\r\n"],
)
def test_unexpected_banner_is_a_frame_error_and_framing_continues(banner: bytes) -> None:
    framer = AMIFramer()
    items = framer.feed(banner + b"Event: A\r\n\r\n")
    assert summary(items) == [("error", "AMIProtocolError"), ("msg", {"Event": "A"})]
    err = items[0]
    assert isinstance(err, FrameError)
    assert "unexpected banner" in str(err.error)
    assert framer.banner == banner[:-2].decode()
    assert framer.feed(b"Event: B\r\n\r\n") == [{"Event": "B"}]


def test_unexpected_banner_byte_by_byte() -> None:
    stream = b"Welcome to something else\r\nEvent: A\r\n\r\n"
    items = feed_all(AMIFramer(), byte_by_byte(stream))
    assert summary(items) == [("error", "AMIProtocolError"), ("msg", {"Event": "A"})]


def test_banner_never_ending_is_refused() -> None:
    framer = AMIFramer(max_frame_bytes=MAX)
    assert framer.feed(b"x" * MAX) == []
    with pytest.raises(AMIProtocolError, match="banner"):
        framer.feed(b"x")


# -- hostile streams: bounded buffer, linear work ---------------------------------------

JUNK_CHUNK = 64 * 1024
JUNK_TOTAL = 8 * 1024 * 1024


class CountingBuffer(bytearray):
    """The framer's buffer, counting the bytes each scan, strip or copy of it covers."""

    work = 0

    def _covers(self, args: tuple[Any, ...]) -> None:
        start = args[1] if len(args) > 1 and args[1] is not None else 0
        begin = start if start >= 0 else len(self) + start
        CountingBuffer.work += max(0, len(self) - max(0, begin)) + 1

    def find(self, *args: Any) -> int:
        self._covers(args)
        return super().find(*args)

    def rfind(self, *args: Any) -> int:
        self._covers(args)
        return super().rfind(*args)

    def lstrip(self, *args: Any) -> bytearray:
        self._covers(())
        return super().lstrip(*args)

    def strip(self, *args: Any) -> bytearray:
        self._covers(())
        return super().strip(*args)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            CountingBuffer.work += len(range(*key.indices(len(self)))) + 1
        return super().__getitem__(key)


def junk_work(junk: bytes, total: int, *, expect_banner: bool = False) -> int:
    """Bytes of buffer work the framer does on ``total`` bytes of ``junk`` in 64 KiB reads."""
    framer = AMIFramer(max_frame_bytes=MAX, expect_banner=expect_banner)
    if expect_banner:
        assert framer.feed(BANNER) == []
    framer._buf = CountingBuffer()
    CountingBuffer.work = 0
    chunk = junk * (JUNK_CHUNK // len(junk))
    for _ in range(total // len(chunk)):
        assert framer.feed(chunk) == []
    return CountingBuffer.work


JUNK = [
    pytest.param(b"\r", id="CR"),
    pytest.param(b"\n", id="LF"),
    pytest.param(b"\n\r", id="LFCR"),
    pytest.param(b"\r\n\r\n", id="CRLF-runs"),
]


@pytest.mark.parametrize("expect_banner", [False, True], ids=["no-banner", "after-banner"])
@pytest.mark.parametrize("junk", JUNK)
def test_blank_line_flood_keeps_the_buffer_bounded(junk: bytes, expect_banner: bool) -> None:
    # Issue 11: 40 MiB of CR alone grew the buffer past max_frame_bytes (it never held
    # a frame to refuse) and cost quadratic CPU. Blank lines are dropped as they come.
    framer = AMIFramer(max_frame_bytes=MAX, expect_banner=expect_banner)
    if expect_banner:
        assert framer.feed(BANNER) == []
    chunk = junk * (JUNK_CHUNK // len(junk))
    for _ in range(JUNK_TOTAL // len(chunk)):
        assert framer.feed(chunk) == []
        assert framer.pending_bytes <= MAX
        assert framer.pending_bytes <= 3  # only what could start a terminator
    # The stream is still in step: a frame after the flood parses, split or whole.
    assert framer.feed(b"Event: After\r\nSeq: 1\r") == []
    assert framer.feed(b"\n\r\n" + junk) == [{"Event": "After", "Seq": "1"}]
    assert framer.feed(b"Event: Next\r\n\r\n") == [{"Event": "Next"}]


@pytest.mark.parametrize("junk", JUNK)
def test_blank_line_flood_costs_work_linear_in_the_bytes(junk: bytes) -> None:
    small = junk_work(junk, JUNK_TOTAL // 2)
    large = junk_work(junk, JUNK_TOTAL)
    # Twice the bytes, about twice the work (quadratic would be four times), and no
    # more than a few passes over each byte.
    assert large <= 2.2 * small
    assert large <= 3 * JUNK_TOTAL


def test_blank_line_flood_before_a_frame_is_not_counted_in_its_size() -> None:
    # Blank lines before a frame are stray, as ever: a frame of exactly the limit
    # after a flood of them is still accepted, in any chunking.
    stream = b"\r\n\r" * (3 * MAX) + _sized_frame(MAX) + b"\r\n\r\n"
    for step in (1, 7, MAX - 1, len(stream)):
        chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
        items = feed_all(AMIFramer(max_frame_bytes=MAX, expect_banner=False), chunks)
        assert [i.event for i in items if isinstance(i, Message)] == ["Sized"], step


def test_runaway_frame_among_blank_lines_is_still_cut() -> None:
    framer = AMIFramer(max_frame_bytes=MAX, expect_banner=False)
    items = feed_all(framer, [b"\r\n" * 1000, b"x\r" * MAX, b"\r" * 1000])
    assert summary(items) == [("error", "AMIFrameTooLarge")]
    assert framer.pending_bytes <= 3
    assert framer.feed(b"\r\n\r\nEvent: B\r\n\r\n") == [{"Event": "B"}]


def test_banner_scan_is_linear_byte_by_byte() -> None:
    # A banner arriving one byte at a time is scanned once, not once per read.
    framer = AMIFramer(max_frame_bytes=MAX)
    framer._buf = CountingBuffer()
    CountingBuffer.work = 0
    for b in byte_by_byte(b"x" * (MAX - 2)):
        assert framer.feed(b) == []
    assert CountingBuffer.work <= 4 * MAX
    assert framer.feed(b"\r\nEvent: A\r\n\r\n")[1:] == [{"Event": "A"}]


# -- encode_action -----------------------------------------------------------------------


def test_encode_action_bytes() -> None:
    raw = encode_action(
        "Originate",
        {"Channel": "PJSIP/100", "Timeout": 30000, "Priority": 1.5, "Variable": ["A=1", "B=2"]},
        "cc-abc-1",
    )
    assert raw == (
        b"Action: Originate\r\n"
        b"ActionID: cc-abc-1\r\n"
        b"Channel: PJSIP/100\r\n"
        b"Timeout: 30000\r\n"
        b"Priority: 1.5\r\n"
        b"Variable: A=1\r\n"
        b"Variable: B=2\r\n"
        b"\r\n"
    )


def test_encode_action_without_headers() -> None:
    assert encode_action("Ping", {}, "id") == b"Action: Ping\r\nActionID: id\r\n\r\n"


@pytest.mark.parametrize(
    ("value", "lines"),
    [
        (["A=1", "B=2", "C=3"], [b"Variable: A=1", b"Variable: B=2", b"Variable: C=3"]),
        (("x", "y"), [b"Variable: x", b"Variable: y"]),
        (["only"], [b"Variable: only"]),
        ([], []),
    ],
)
def test_list_values_are_repeated_lines(value: Sequence[str], lines: list[bytes]) -> None:
    raw = encode_action("Setvar", {"Variable": value}, "id")
    assert raw.split(b"\r\n")[2:-2] == lines


def test_non_ascii_values_are_utf8() -> None:
    raw = encode_action("Originate", {"CallerID": f"{NAME} <100>"}, "id")
    assert f"CallerID: {NAME} <100>\r\n".encode() in raw
    assert "山".encode() in raw
    (msg,) = AMIFramer(expect_banner=False).feed(raw)
    assert isinstance(msg, Message)
    assert msg["CallerID"] == f"{NAME} <100>"


EVIL = ["\r", "\n", "\r\n", "x\r\nAction: Originate", "x\nAction: Originate"]


def _inject(where: str, evil: str) -> tuple[str, Mapping[str, HeaderValue], str]:
    if where == "action":
        return f"Ping{evil}", {}, "id"
    if where == "action_id":
        return "Ping", {}, f"id{evil}"
    if where == "name":
        return "Ping", {f"Na{evil}me": "v"}, "id"
    if where == "value":
        return "Ping", {"Name": f"v{evil}"}, "id"
    if where == "list_element":
        return "Ping", {"Variable": ["A=1", f"B={evil}", "C=3"]}, "id"
    raise AssertionError(where)


@pytest.mark.parametrize("evil", EVIL)
@pytest.mark.parametrize("where", ["action", "action_id", "name", "value", "list_element"])
def test_cr_or_lf_anywhere_is_refused(where: str, evil: str) -> None:
    action, headers, action_id = _inject(where, evil)
    with pytest.raises(AMIInjectionError) as info:
        encode_action(action, headers, action_id)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AMIError)


@pytest.mark.parametrize(
    "name",
    ["Action", "ActionID", "action", "ACTIONID", "Actionid", "Na:me", ":", "", " Lead", "Trail "],
)
def test_bad_header_names_are_refused(name: str) -> None:
    with pytest.raises(AMIInjectionError, match="bad header name"):
        encode_action("Ping", {name: "v"}, "id")


CONTROLS = [*map(chr, range(32)), "\x7f"]


@pytest.mark.parametrize("ch", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize("where", ["action", "action_id", "name", "value", "list_element"])
def test_every_control_character_anywhere_is_refused(where: str, ch: str) -> None:
    # Issue 11: only CR and LF were refused; a NUL in the service-mode note reached the
    # wire (Asterisk reads a value as a C string: the NUL cuts it short).
    action, headers, action_id = _inject(where, ch)
    with pytest.raises(AMIInjectionError, match=f"U\\+{ord(ch):04X}") as info:
        encode_action(action, headers, action_id)
    header = {"action": "Action", "action_id": "ActionID", "value": "Name"}.get(where)
    if header is not None:
        assert info.value.header == header
        assert header in str(info.value)


@pytest.mark.parametrize(
    ("headers", "header", "shown"),
    [
        ({"Family": "callcenter", "Val": "closed|1|停電\x00x"}, "Val", "U+0000 (NUL)"),
        ({"Val": "a\tb"}, "Val", "U+0009 (TAB)"),
        ({"Val": "\x1b[31m"}, "Val", "U+001B (ESC)"),
        ({"Val": "x\x7f"}, "Val", "U+007F (DEL)"),
        ({"Variable": ["A=1", "B=\x01"]}, "Variable", "U+0001"),
        ({"Reason": "lunch\ud800"}, "Reason", "U+D800"),
    ],
)
def test_the_refusal_names_the_header_and_the_character(
    headers: Mapping[str, HeaderValue], header: str, shown: str
) -> None:
    with pytest.raises(AMIInjectionError) as info:
        encode_action("DBPut", headers, "id")
    assert info.value.header == header
    assert f"value of {header}" in str(info.value)
    assert shown in str(info.value)


@pytest.mark.parametrize("text", ["停電のため", "a b", "x\x80y", "\u2028", "emoji \U0001f600"])
def test_text_without_c0_or_del_is_sent(text: str) -> None:
    raw = encode_action("DBPut", {"Val": text}, "id")
    (msg,) = AMIFramer(expect_banner=False).feed(raw)
    assert msg == {"Action": "DBPut", "ActionID": "id", "Val": text}


def test_refusal_happens_even_after_good_headers() -> None:
    with pytest.raises(AMIInjectionError):
        encode_action("Originate", {"Channel": "PJSIP/100", "Variable": ["ok", "bad\n"]}, "id")
