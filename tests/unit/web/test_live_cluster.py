"""The publishing side of the shared live state (web.live_cluster.ClusterLive): when a
daemon writes its state for the others, without a database (the write is replaced)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import create_engine

from callcenter.cluster.settings import ClusterSettings
from callcenter.metrics.settings import MetricsConfig
from callcenter.store import live_states
from callcenter.store.live_states import LiveState
from callcenter.web.live_cluster import ClusterLive


class Writes:
    """Stands for live_states.publish: records when each write starts and ends, and takes
    ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spans: list[tuple[float, float]] = []
        self.written = asyncio.Event()

    async def __call__(self, _conn: Any, _state: LiveState) -> None:
        start = time.monotonic()
        await asyncio.sleep(self.seconds)
        self.spans.append((start, time.monotonic()))
        self.written.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.written.wait(), 5)
        self.written.clear()


class Conn:
    closed = False

    async def close(self) -> None:
        self.closed = True


def cluster(interval: float) -> ClusterLive:
    n = iter(range(1_000_000))

    def own(_now: float) -> dict[str, Any]:
        return {"queues": [{"name": "support", "changes": next(n)}]}  # always something new

    c = ClusterLive(
        create_engine("sqlite://"),
        "pbx1",
        ClusterSettings(publish_interval=interval, heartbeat=60),
        MetricsConfig(),
        own,
        dict,
        ticking=(),
    )

    async def connect() -> Any:
        return Conn()

    c.connect = connect
    return c


async def run_two(c: ClusterLive, writes: Writes, gap: float) -> list[tuple[float, float]]:
    """A change, and another ``gap`` seconds after the first write has ended."""
    task = asyncio.create_task(c.publish_loop())
    try:
        c.changed()
        await writes.next()
        await asyncio.sleep(gap)
        c.changed()
        await writes.next()
    finally:
        task.cancel()
    return writes.spans


async def test_a_slow_write_is_followed_at_once_by_the_next_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A write that takes longer than the interval: the next change goes out as soon as it
    # comes, not one more interval after the write (which added ~20 ms to the other
    # servers' wallboards, and capped the writes at one per write time + interval).
    writes = Writes(0.5)
    monkeypatch.setattr(live_states, "publish", writes)
    (_, e1), (s2, _) = await run_two(cluster(0.4), writes, 0.0)
    assert s2 - e1 < 0.3  # the old loop slept 0.4 s here


async def test_at_most_one_write_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    writes = Writes(0.0)
    monkeypatch.setattr(live_states, "publish", writes)
    (s1, _), (s2, _) = await run_two(cluster(0.4), writes, 0.05)
    assert s2 - s1 >= 0.39


class Recorded:
    """Stands for live_states.publish: keeps what was written."""

    def __init__(self) -> None:
        self.states: list[LiveState] = []
        self.written = asyncio.Event()

    async def __call__(self, _conn: Any, state: LiveState) -> None:
        self.states.append(state)
        self.written.set()

    async def next(self) -> LiveState:
        await asyncio.wait_for(self.written.wait(), 5)
        self.written.clear()
        return self.states[-1]


async def test_a_change_is_built_once_for_the_hub_and_the_publication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes = Recorded()
    monkeypatch.setattr(live_states, "publish", writes)
    builds: list[float] = []
    clock = {"t": 1000.0}

    def own(at: float) -> dict[str, Any]:
        builds.append(at)
        return {"queues": [{"name": "support", "built": len(builds)}]}

    c = ClusterLive(
        create_engine("sqlite://"),
        "pbx1",
        ClusterSettings(publish_interval=0.2, heartbeat=60),
        MetricsConfig(),
        own,
        dict,
        ticking=(),
        clock=lambda: clock["t"],
    )

    async def connect() -> Any:
        return Conn()

    c.connect = connect
    task = asyncio.create_task(c.publish_loop())
    try:
        c.changed()
        first = await writes.next()  # nothing built before: the publication builds
        assert builds == [1000.0]
        c.changed()
        clock["t"] = 1000.05
        snapshot = c()  # the hub's snapshot after the change, before the next write
        assert snapshot["queues"][0]["built"] == 2
        second = await writes.next()  # paced 0.2 s after the first: the hub's build
        assert builds == [1000.0, 1000.05]
        assert second.data["queues"] == snapshot["queues"]
        assert second.at.timestamp() == 1000.05  # the build's time, not the write's
        assert second.seq == first.seq + 1
        c()  # a snapshot, then a change after it: the publication builds anew
        c.changed()
        clock["t"] = 1000.5
        third = await writes.next()
        assert builds == [1000.0, 1000.05, 1000.05, 1000.5]
        assert third.data["queues"][0]["built"] == 4
    finally:
        task.cancel()
    # Nothing changed since: nothing more is written before the heartbeat.
    assert len(writes.states) == 3
