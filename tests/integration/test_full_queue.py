"""A full queue triggers the busy announcement; the caller keeps trying until answered.

Queue "small" (number 1001) holds one waiting caller; agent 2 is its only member and
answers after 300 ms.

  t(s)  caller  patience  what happens                                          outcome
  0.0   X       6.0       agent 2 free: answered at ~0.3                        answered
  0.5   Y       12.0      no agent free: busy announcement, then waits; answered  answered, busy
                          when X ends (~6.3)
  1.0   Z       16.0      no agent free: busy announcement, then the queue is     answered, busy
                          full (Y waits): retries every 2 s, joins once Y is
                          answered, answered when Y ends (~12.8)
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from callcenter.store.models import AMIEvent
from callcenter.telephony.calls import Outcome
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop


async def test_full_queue_plays_busy_then_the_caller_is_answered(
    running: RunningDaemon, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    d = running.daemon
    agent = sipp.agent(agent_ports["agent2"], answer_ms=300, calls=3, timeout_s=60)
    callers = []
    try:
        await asyncio.sleep(0.3)
        for delay, number, name, patience in [
            (0.0, "0300000011", "山田 太郎", 6000),
            (0.5, "0300000012", "佐藤 花子", 12000),
            (0.5, "0300000013", "鈴木 一郎", 16000),
        ]:
            await asyncio.sleep(delay)
            callers.append(sipp.caller("1001", [(number, name)], talk_ms=patience))
        for proc in callers:
            await asyncio.to_thread(finish, proc, 60)
        await wait_for(lambda: len(d.recent_calls) >= 3, 15, "three calls finished")
    finally:
        for proc in [agent, *callers]:
            stop(proc)

    got = {c.caller_num: c for c in d.recent_calls}
    x, y, z = got["0300000011"], got["0300000012"], got["0300000013"]
    assert [c.outcome for c in (x, y, z)] == [Outcome.ANSWERED] * 3
    assert [c.heard_busy for c in (x, y, z)] == [False, True, True]
    assert {c.queue for c in (x, y, z)} == {"small"}
    assert all(c.agent == "Agent 2" for c in (x, y, z))
    # Z found the queue full: it was sent to the queue more than once before it got in,
    # and heard the busy announcement only once.
    await wait_for(lambda: d.eventlog.pending == 0, 5, "events stored")
    with d.engine.connect() as conn:
        stages = [
            h.get("Stage")
            for h in conn.scalars(
                select(AMIEvent.headers)
                .where(AMIEvent.linkedid == z.linkedid, AMIEvent.event == "UserEvent")
                .order_by(AMIEvent.id)
            )
        ]
    assert stages.count("busy") == 1
    assert stages.count("queued") >= 2
    # The three calls' figures: everything answered, two after the busy announcement.
    f = d.today_figures("small")
    assert (f.total_incoming, f.answered, f.busy, f.abandoned) == (3, 3, 2, 0)
    assert f.busy_rate == 2 / 3
