"""PostgreSQL stopped for a few seconds while a call runs: no event is lost or doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from callcenter.daemon import Daemon
from callcenter.store.models import AMIEvent
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.postgres import PostgresServer
from tests.support.sipp import Sipp, finish, stop


@pytest.mark.parametrize(
    "buffer_limit",
    [
        pytest.param(200_000, id="held-in-memory"),
        pytest.param(5, id="spilled-to-spool"),  # the bound is hit: events go to disk
    ],
)
async def test_database_outage_loses_no_event(
    daemon_factory: Callable[..., Daemon],
    postgres: PostgresServer,
    sipp: Sipp,
    agent_ports: dict[str, int],
    buffer_limit: int,
) -> None:
    rd = RunningDaemon(daemon_factory(postgres.url, buffer_limit=buffer_limit))
    await rd.start()
    d = rd.daemon
    el = d.eventlog
    try:
        agent = sipp.agent(agent_ports["agent1"], answer_ms=300)
        caller = sipp.caller("1000", [("0355556666", "高橋 美咲")], talk_ms=2500)
        try:
            await wait_for(lambda: len(d.live.channels) == 2, 15, "the call to be connected")
            await wait_for(lambda: el.pending == 0, 5, "the buffer to drain before the outage")
            await asyncio.to_thread(postgres.stop, "fast")
            # The call ends while the database is down.
            await asyncio.to_thread(finish, caller)
            await asyncio.to_thread(finish, agent)
        finally:
            stop(agent)
            stop(caller)
        await asyncio.sleep(1.0)
        assert el.stats.failures > 0, "the outage was not noticed"
        assert not el.healthy
        if buffer_limit < 100:
            assert el.stats.spilled > 0
        during = el.stats.appended
        await asyncio.to_thread(postgres.start)
        await wait_for(
            lambda: el.healthy and el.pending == 0 and not el._spool_files(),
            20,
            "the backlog to be written after the outage",
        )
    finally:
        await rd.shutdown()

    with d.engine.connect() as conn:
        seqs = conn.scalars(select(AMIEvent.seq).where(AMIEvent.run_id == el.run_id)).all()
        names = conn.scalars(
            select(AMIEvent.event).where(AMIEvent.run_id == el.run_id).order_by(AMIEvent.seq)
        ).all()
        hangups = conn.scalars(select(AMIEvent.headers).where(AMIEvent.event == "Hangup")).all()
    d.engine.dispose()
    # Every event received, including all those of the outage, stored exactly once.
    assert sorted(seqs) == list(range(1, el.stats.appended + 1))
    assert el.stats.appended >= during
    assert "AgentComplete" in names
    assert any(h["CallerIDName"] == "高橋 美咲" for h in hangups)


async def test_daemon_started_before_its_database_waits_for_it(
    daemon_factory: Callable[..., Daemon],
) -> None:
    pg = PostgresServer()  # initialised, not started yet
    try:
        rd = RunningDaemon(daemon_factory(pg.url))
        rd.task = asyncio.create_task(rd.daemon.run(rd.stop))
        await asyncio.sleep(1.5)
        assert not rd.daemon.ready.is_set()
        assert not rd.task.done()
        await asyncio.to_thread(pg.start)
        await asyncio.wait_for(rd.daemon.ready.wait(), 20)
        await wait_for(lambda: rd.daemon.eventlog.stats.written > 0, 10, "events written")
        await rd.shutdown()
    finally:
        pg.destroy()


async def test_stop_while_waiting_for_the_database(daemon_factory: Callable[..., Daemon]) -> None:
    pg = PostgresServer()  # never started
    try:
        rd = RunningDaemon(daemon_factory(pg.url))
        rd.task = asyncio.create_task(rd.daemon.run(rd.stop))
        await asyncio.sleep(0.5)
        await rd.shutdown()  # returns promptly, no traceback
        assert rd.task.exception() is None
    finally:
        pg.destroy()
