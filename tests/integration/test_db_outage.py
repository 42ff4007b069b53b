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
