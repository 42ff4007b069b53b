"""Agent activity on the lab: an agent logs in through the API, pauses with a reason,
resumes and logs out; the activity route gives exactly those intervals, with the times
Asterisk's events came at, and a rebuild from the stored events finds nothing to add.

The lab's queues.conf makes agent1 a static member of ``support`` (it stays logged in
there, seen by the daemon's first resync) and agent2 of ``support``, ``small`` and
``svq``; the membership under test is agent1's dynamic one in ``small``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.agents.record import AGENT_EVENTS, rebuild_activity
from callcenter.daemon import Daemon
from callcenter.store.models import AMIEvent
from tests.integration.test_api_pbx import Desk, serving, undo_agent_changes


@pytest.fixture
async def desk(daemon_factory: Callable[..., Daemon]) -> AsyncIterator[Desk]:
    async with serving(daemon_factory()) as d:
        yield d


def received(d: Daemon, event: str, **headers: str) -> list[datetime]:
    """When the daemon received each such event (the event log's times)."""
    with d.engine.connect() as conn:
        rows = conn.execute(
            select(AMIEvent.received_at, AMIEvent.headers)
            .where(AMIEvent.event == event)
            .order_by(AMIEvent.received_at)
        ).all()
    return [
        (at if at.tzinfo else at.replace(tzinfo=UTC))
        for at, h in rows
        if all(h.get(k) == v for k, v in headers.items())
    ]


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


async def test_login_pause_resume_logout_give_their_intervals(desk: Desk) -> None:
    d = desk.daemon
    small = {"Queue": "small", "Interface": "PJSIP/agent1"}
    try:
        r = await desk.call("POST", "/agents/agent1/login", "a1", {"queues": ["small"]})
        assert (r.status, r.body["joined"]) == (200, ["small"])
        await asyncio.sleep(0.5)
        # Paused in every queue it is in (support and small): the agent is paused.
        r = await desk.call("POST", "/agents/agent1/pause", "a1", {"reason": "休憩"})
        assert r.status == 200, r.body
        await asyncio.sleep(1.2)
        assert (await desk.call("POST", "/agents/agent1/resume", "a1", {})).status == 200
        await asyncio.sleep(0.5)
        r = await desk.call("POST", "/agents/agent1/logout", "a1", {"queues": ["small"]})
        assert (r.status, r.body["left"]) == (200, ["small"])
    finally:
        await undo_agent_changes(d)

    day = datetime.now(d.tz).date()
    period = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}

    async def activity() -> dict[str, Any]:
        r = await desk.call("GET", "/agents/agent1/activity", "a1", **period)
        assert r.status == 200, r.body
        (one,) = r.body["days"]
        return dict(one)

    deadline = time.monotonic() + 10
    while "small" not in (doc := await activity())["queues"] or not any(
        i["kind"] == "paused" for i in doc["intervals"]
    ):
        assert time.monotonic() < deadline, doc
        await asyncio.sleep(0.1)
    # Wait until the log-out is recorded too (small's time stops growing).
    while True:
        before = doc["queues"]["small"]["login_seconds"]
        await asyncio.sleep(0.3)
        doc = await activity()
        if doc["queues"]["small"]["login_seconds"] == before:
            break
        assert time.monotonic() < deadline, doc

    (added,) = received(d, "QueueMemberAdded", **small)
    (removed,) = received(d, "QueueMemberRemoved", **small)
    pauses = received(d, "QueueMemberPause", Interface="PJSIP/agent1", Paused="1")
    resumes = received(d, "QueueMemberPause", Interface="PJSIP/agent1", Paused="0")
    # (The clean-up's resume, after the log-out, changes nothing: it was not paused.)
    resumes = [r for r in resumes if r < removed]
    assert len(pauses) == 2  # one per queue it is in
    assert len(resumes) == 2
    # The agent counts as paused once paused in both its queues, until the first resume.
    paused = [i for i in doc["intervals"] if i["kind"] == "paused"]
    assert [(p["from"], p["to"], p["reason"]) for p in paused] == [
        (iso(max(pauses)), iso(min(resumes)), "休憩")
    ]
    assert doc["pause_by_reason"] == {
        "休憩": round((min(resumes) - max(pauses)).total_seconds(), 3)
    }
    assert doc["queues"]["small"]["login_seconds"] == round((removed - added).total_seconds(), 3)
    small_paused = (
        received(d, "QueueMemberPause", Queue="small", Interface="PJSIP/agent1", Paused="0")[0]
        - received(d, "QueueMemberPause", Queue="small", Interface="PJSIP/agent1", Paused="1")[0]
    )
    assert doc["queues"]["small"]["pause_seconds"] == round(small_paused.total_seconds(), 3)
    # Logged in to support since the daemon's first resync saw it there; before that, the
    # day is not known to this daemon, and the answer says so.
    (listed,) = received(d, "QueueStatusComplete")
    (login,) = [i for i in doc["intervals"] if i["kind"] == "logged_in"]
    assert login["from"] == iso(listed)
    assert doc["complete"] is False
    assert doc["unknown"][-1]["to"] == iso(listed)
    assert (doc["talk_seconds"], doc["calls"]) == (0.0, 0)
    assert doc["occupancy"] == 0.0

    # Staff see everyone; the record is what the stored events say: a rebuild adds nothing.
    r = await desk.call("GET", "/activity", "sup", **period)
    assert {x["agent"] for x in r.body["days"]} >= {"agent1", "agent2"}
    with d.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(AGENT_EVENTS)).scalar_one()
    start = datetime.now(UTC) - timedelta(hours=1)
    found = await asyncio.to_thread(
        rebuild_activity, d.engine, d.cfg.server.id, start, datetime.now(UTC)
    )
    with d.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AGENT_EVENTS)).scalar_one() == rows
    assert found == rows
