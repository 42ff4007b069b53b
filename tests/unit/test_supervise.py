"""The supervisor: a crash is logged and the task restarted; one that keeps crashing
fails the supervisor."""

from __future__ import annotations

import asyncio

import pytest
import structlog.testing

from callcenter.supervise import Supervisor


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_a_crashed_task_is_logged_and_restarted() -> None:
    t = FakeTime()
    sup = Supervisor(clock=t.clock, sleep=t.sleep)
    runs: list[int] = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise KeyError("a bug")

    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(sup.start("worker", work), 5)
    assert runs == [0, 1]
    crashed = [e for e in logs if e["event"] == "task.crashed"]
    assert len(crashed) == 1
    assert crashed[0]["task"] == "worker"
    assert crashed[0]["exc_info"] is True  # with its traceback
    assert sup.crashes == {"worker": 1}
    assert not sup.failed.is_set()


async def test_a_task_that_keeps_crashing_fails_the_supervisor() -> None:
    t = FakeTime()
    sup = Supervisor(max_crashes=5, window=60.0, retry_max=2.0, clock=t.clock, sleep=t.sleep)
    runs = 0

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("always")

    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(sup.start("broken", broken), 5)
    assert runs == 5
    assert sup.failed.is_set()
    assert sup.failure == "broken"
    assert any(e["event"] == "supervisor.failed" for e in logs)


async def test_crashes_spread_over_time_do_not_fail_it() -> None:
    t = FakeTime()
    sup = Supervisor(max_crashes=3, window=60.0, clock=t.clock, sleep=t.sleep)
    runs = 0

    async def rare() -> None:
        nonlocal runs
        runs += 1
        if runs <= 10:
            t.now += 100.0  # ran fine for a while before crashing
            raise RuntimeError("now and then")

    await asyncio.wait_for(sup.start("rare", rare), 5)
    assert runs == 11
    assert not sup.failed.is_set()


async def test_cancelling_a_supervised_task_stops_it_for_good() -> None:
    sup = Supervisor()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = sup.start("forever", forever)
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sup.crashes == {}
    await sup.stop()
