"""The agents' activity while the daemon is down, recovered from Asterisk's queue_log.

On the lab: agent1 logs in to ``small`` through a running daemon; the daemon stops; on
the PBX's own console agent1 is paused with a reason (in every queue it is in) and
resumed; a daemon starts again on the same database, more than the coverage's slack
later (so the AMI record alone names the stretch unknown). Once it has read the
queue_log, agent1's day has the pause with its reason at the times Asterisk wrote, is
logged in across the stretch, and has no unknown stretch there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callcenter.agents.record import activity_by_agent
from callcenter.coverage import SLACK, query_coverage
from callcenter.daemon import Daemon
from callcenter.lab import Lab, LabState
from callcenter.pbxrecord.queuelog import QueueLogParseError, parse_line
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.store.models import AgentEventRow, CoverageRow
from tests.integration.conftest import RunningDaemon, wait_for
from tests.integration.test_api_pbx import undo_agent_changes
from tests.integration.test_pbx_record import fresh_cel_file

SETTINGS = PbxRecordSettings(poll_interval=0.3, settle_seconds=2.0)


def queue_log_lines(lab_state: LabState, since: float) -> list[Any]:
    """agent1's pause lines the lab's Asterisk wrote since ``since`` (what it says)."""
    path = Path(lab_state.workdir) / "log" / "queue_log"
    out = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            line = parse_line(raw)
        except QueueLogParseError:
            continue
        if line.time >= int(since) and line.agent == "Agent 1" and "PAUSE" in line.event:
            out.append(line)
    return out


def ami_intervals(d: Daemon) -> list[tuple[datetime, datetime]]:
    with d.engine.connect() as conn:
        rows = conn.execute(
            select(CoverageRow.started_at, CoverageRow.ended_at).order_by(CoverageRow.id)
        ).all()
    return [(a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)) for a, b in rows]


def day_of(d: Daemon) -> dict[str, Any]:
    today = datetime.now(d.tz).date()
    (doc,) = [
        x.to_dict()
        for x in activity_by_agent(
            d.engine, d.cfg.server.id, d.tz, today, today + timedelta(days=1), agent="agent1"
        )
    ]
    return doc


def stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def test_a_pause_while_the_daemon_is_down_is_read_from_the_queue_log(
    daemon_factory: Callable[..., Daemon], lab: Lab, lab_state: LabState
) -> None:
    fresh_cel_file(lab_state)  # the CEL follower beside it reads no earlier test's calls
    first = RunningDaemon(daemon_factory(pbx_record=SETTINGS))
    await first.start()
    d = first.daemon
    try:
        assert await d.agents.login("agent1", ["small"]) == ("small",)
        assert d.queue_log is not None
        qlog = d.queue_log
        await wait_for(lambda: qlog.recorded > 0, 10, "the queue_log read")
        # Seen a while (the coverage is extended every 5 s): the login is inside it.
        await wait_for(
            lambda: any(b - a > timedelta(seconds=4) for a, b in ami_intervals(d)),
            15,
            "the AMI coverage",
        )
    finally:
        await first.shutdown()
    (seen,) = ami_intervals(d)
    await asyncio.sleep(1.1)  # past the second the daemon stopped in (whole seconds below)

    # The daemon is down: on the PBX's console agent1 is paused in both its queues with
    # a reason (the console takes a reason only with a queue), then resumed everywhere.
    began = time.time()
    lab.cli("queue pause member PJSIP/agent1 queue support reason 休憩")
    lab.cli("queue pause member PJSIP/agent1 queue small reason 休憩")
    await asyncio.sleep(2.5)
    lab.cli("queue unpause member PJSIP/agent1")
    # Down longer than the coverage's slack: the AMI record alone names the stretch.
    await asyncio.sleep(SLACK.total_seconds() + 1 - (time.time() - began))
    lines = queue_log_lines(lab_state, began)
    assert [ln.event for ln in lines] == ["PAUSE", "PAUSE", "UNPAUSEALL", "UNPAUSE", "UNPAUSE"]
    assert {ln.queue for ln in lines if ln.event == "PAUSE"} == {"support", "small"}
    paused_at = max(ln.time for ln in lines if ln.event == "PAUSE")
    first_pause = min(ln.time for ln in lines if ln.event == "PAUSE")
    last_resume = max(ln.time for ln in lines if ln.event == "UNPAUSE")
    resumed_at = min(ln.time for ln in lines if ln.event == "UNPAUSE")

    second = RunningDaemon(daemon_factory(pbx_record=SETTINGS))
    await second.start()
    d2 = second.daemon
    try:
        await wait_for(lambda: len(ami_intervals(d2)) == 2, 10, "the new AMI coverage")
        back = ami_intervals(d2)[1][0]
        # The AMI record alone has an unknown stretch where the pause was.
        (cov,) = query_coverage(d2.engine, seen[0], back, server_id=d2.cfg.server.id)
        assert [(g[0], g[1]) for g in cov.gaps] == [(seen[1], back)]
        assert back - seen[1] > SLACK
        assert seen[1].timestamp() < paused_at < resumed_at < back.timestamp()

        def filled() -> bool:
            doc = day_of(d2)
            return any(i["kind"] == "paused" for i in doc["intervals"]) and not [
                u for u in doc["unknown"] if u["to"] > seen[1].isoformat()
            ]

        await wait_for(filled, 20, "the gap filled from the queue_log")
        doc = day_of(d2)
        paused = [
            (i["from"], i["to"], i["reason"]) for i in doc["intervals"] if i["kind"] == "paused"
        ]
        assert paused == [(stamp(paused_at), stamp(resumed_at), "休憩")]
        assert doc["pause_by_reason"] == {"休憩": resumed_at - paused_at}
        assert doc["queues"]["small"]["pause_seconds"] >= resumed_at - paused_at
        # Logged in across the stretch the daemon did not see (support and small).
        logged = [(i["from"], i["to"]) for i in doc["intervals"] if i["kind"] == "logged_in"]
        assert any(f <= seen[1].isoformat() and t >= back.isoformat() for f, t in logged), logged
        # The rows are the queue_log's (source pbx), under the agent's id, not its name.
        with d2.engine.connect() as conn:
            pbx = conn.execute(
                select(AgentEventRow.agent, AgentEventRow.queue, AgentEventRow.kind).where(
                    AgentEventRow.source == "pbx",
                    # The two console commands may fall in two different seconds.
                    AgentEventRow.at >= datetime.fromtimestamp(first_pause, UTC),
                    AgentEventRow.at <= datetime.fromtimestamp(last_resume, UTC),
                )
            ).all()
        assert sorted(pbx) == [
            ("agent1", "small", "pause"), ("agent1", "small", "resume"),
            ("agent1", "support", "pause"), ("agent1", "support", "resume"),
        ]  # fmt: skip
    finally:
        await undo_agent_changes(d2)
        await second.shutdown()
