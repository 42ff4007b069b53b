"""The recorded real AMI stream (tests/fixtures/ami/lab_traffic.raw) replayed offline."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from callcenter.ami.protocol import AMIFramer, FrameError, Message
from callcenter.telephony.live import LiveState

STREAM = Path(__file__).resolve().parents[1] / "fixtures" / "ami" / "lab_traffic.raw"
DATA = STREAM.read_bytes()
JAPANESE = (
    "山田 太郎",
    "佐藤 花子",
    "鈴木 一郎",
    "高橋 美咲",
    "田中 健太",
    "渡辺 さくら",
    "株式会社テスト 受付",
    "伊藤 翔",
)


def chunks(size: int | None, seed: int = 7) -> list[bytes]:
    if size is not None:
        return [DATA[i : i + size] for i in range(0, len(DATA), size)]
    rng, out, i = random.Random(seed), [], 0
    while i < len(DATA):
        n = rng.randint(1, 3000)
        out.append(DATA[i : i + n])
        i += n
    return out


def replay(parts: list[bytes]) -> tuple[list[Message], list[FrameError]]:
    framer = AMIFramer()
    msgs: list[Message] = []
    errors: list[FrameError] = []
    for part in parts:
        for item in framer.feed(part):
            (errors if isinstance(item, FrameError) else msgs).append(item)  # type: ignore[arg-type]
    assert framer.pending_bytes == 0
    return msgs, errors


@pytest.mark.parametrize("size", [65536, 1400, 1, None], ids=["64KiB", "1400B", "1B", "random"])
def test_every_frame_parses_at_any_chunking(size: int | None) -> None:
    msgs, errors = replay(chunks(size))
    assert errors == []
    counts = Counter(m.get("Event") for m in msgs if "Event" in m)
    # Frame count agrees with a plain byte count of header lines that start a frame.
    assert sum(counts.values()) == DATA.count(b"\nEvent: ") + DATA.startswith(b"Event: ")
    assert counts["QueueCallerJoin"] == 150
    assert counts["AgentConnect"] == counts["AgentComplete"] == 117
    assert counts["QueueCallerAbandon"] == 33
    names = [m["CallerIDName"] for m in msgs if m.get("CallerIDName", "") in JAPANESE]
    garbled = [
        m["CallerIDName"]
        for m in msgs
        if "\\x" in m.get("CallerIDName", "") or "\ufffd" in m.get("CallerIDName", "")
    ]
    assert len(names) == 6489
    assert garbled == []


def test_live_state_ends_idle_after_the_whole_stream() -> None:
    msgs, _ = replay(chunks(65536))
    live = LiveState()
    peak = 0
    for m in msgs:
        live.apply(m)
        peak = max(peak, len(live.channels))
    assert peak >= 6  # several calls at once
    assert live.channels == {}  # every channel that started also hung up
    assert all(q.entries == {} for q in live.queues.values())
