"""A real SIP call into the queue, answered by an agent, lands whole in the event log."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from callcenter.store.models import AMIEvent
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop

CALLER = ("0312345678", "山田 太郎")


def _events_for(rd: RunningDaemon, linkedid: str | None = None) -> list[dict[str, Any]]:
    stmt = select(AMIEvent.headers).order_by(AMIEvent.received_at, AMIEvent.id)
    if linkedid is not None:
        stmt = stmt.where(AMIEvent.linkedid == linkedid)
    with rd.daemon.engine.connect() as conn:
        return [dict(h) for h in conn.scalars(stmt)]


async def test_queue_call_answered_by_agent_is_logged_with_japanese_name(
    running: RunningDaemon, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    # The lab is shared by the whole session: a caller an earlier test left waiting in
    # this queue would be served first, take agent1's one answer, and this call would
    # never see an agent (no AgentComplete). Start once the queue is empty.
    queue = running.daemon.live.queues["support"]
    await wait_for(lambda: not queue.entries, 30, "the support queue to be empty")
    agent = sipp.agent(agent_ports["agent1"], answer_ms=600)
    try:
        caller = sipp.caller("1000", [CALLER], talk_ms=3000)
        await asyncio.to_thread(finish, caller)
        await asyncio.to_thread(finish, agent)
    finally:
        stop(agent)

    el = running.daemon.eventlog

    # Flushed within a few batches; the call's last events are the Hangups.
    def call_done() -> bool:
        # The queue reports AgentComplete around the caller's Hangup, in either order.
        # Both carry the caller's number: another call's AgentComplete (one from an
        # earlier test still ending in the lab) must not count.
        seen = {e.get("Event") for e in _events_for(running) if e.get("CallerIDNum") == CALLER[0]}
        return {"Hangup", "AgentComplete"} <= seen

    await wait_for(call_done, 10, "the caller's Hangup and AgentComplete in the event log")

    first = next(
        e
        for e in _events_for(running)
        if e.get("Event") == "Newchannel" and e.get("CallerIDNum") == CALLER[0]
    )
    call = _events_for(running, first["Linkedid"])
    names = [e["Event"] for e in call]
    for expected in (
        "Newchannel",
        "UserEvent",
        "QueueCallerJoin",
        "AgentCalled",
        "AgentConnect",
        "QueueCallerLeave",
        "AgentComplete",
        "Hangup",
    ):
        assert expected in names, f"{expected} missing from {sorted(set(names))}"
    # Order that the call-metrics work relies on.
    assert (
        names.index("QueueCallerJoin") < names.index("AgentConnect") < names.index("AgentComplete")
    )

    # The Japanese caller name arrives whole wherever Asterisk reports it.
    join = next(e for e in call if e["Event"] == "QueueCallerJoin")
    assert join["CallerIDName"] == "山田 太郎"
    assert join["Queue"] == "support"
    connect = next(e for e in call if e["Event"] == "AgentConnect")
    assert connect["CallerIDName"] == "山田 太郎"
    assert connect["MemberName"] == "Agent 1"
    assert int(connect["HoldTime"]) >= 0
    stages = [e.get("Stage") for e in call if e["Event"] == "UserEvent"]
    assert stages[:2] == ["entered", "queued"]
    assert all(e["UserEvent"] == "CallCenter" for e in call if e["Event"] == "UserEvent")

    # Every event received was stored, once: appended == rows for this run.
    assert el.stats.failures == 0
    await wait_for(lambda: el.pending == 0, 5, "the buffer to drain")
    with running.daemon.engine.connect() as conn:
        rows = conn.scalars(select(AMIEvent.seq).where(AMIEvent.run_id == el.run_id)).all()
    assert sorted(rows) == list(range(1, el.stats.appended + 1))
    # Each row keeps its server id and raw headers.
    assert all(e["SystemName"] == "cclab" for e in call if "SystemName" in e)
