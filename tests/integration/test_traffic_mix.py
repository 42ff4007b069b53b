"""A scripted traffic mix on the lab: every call's true outcome is known from the script.

Two agents (sipp phones answering after 300 ms). Callers arrive on a timetable, each
with a set patience (the caller hangs up that long after the dialplan answers, which is
on arrival):

  t(s)  caller  patience  what happens                                   outcome
  0.0   A       5.0       agent 1 free: answered                           answered
  0.3   B       9.0       agent 2 free: answered                           answered
  1.0   C       12.0      both busy: busy announcement, queued, agent 1     answered, heard busy
                          frees at 5.0 and answers C
  1.5   D       5.5       busy announcement, queued behind C, gives up     abandoned (busy)
                          at 7.0 (agent 2 busy until 9.3)
  2.0   E       1.0       hangs up during the busy announcement            short_abandoned
  then  H       2.0       service mode closed: after-hours message         after_hours
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.lab import Lab
from callcenter.telephony.calls import AbandonStage, Outcome
from tests.integration.conftest import RunningDaemon, set_mode, wait_for
from tests.support.sipp import Sipp, finish, stop

TIMETABLE = [
    # (delay before placing, number, name, patience ms)
    (0.0, "0300000001", "山田 太郎", 5000),
    (0.3, "0300000002", "佐藤 花子", 9000),
    (0.7, "0300000003", "鈴木 一郎", 12000),
    (0.5, "0300000004", "高橋 美咲", 5500),
    (0.5, "0300000005", "田中 健太", 1000),
]
EXPECTED = {
    "0300000001": (Outcome.ANSWERED, False, None),
    "0300000002": (Outcome.ANSWERED, False, None),
    "0300000003": (Outcome.ANSWERED, True, None),
    "0300000004": (Outcome.ABANDONED, True, AbandonStage.BUSY),
    "0300000005": (Outcome.SHORT_ABANDONED, True, AbandonStage.BUSY),
    "0300000009": (Outcome.AFTER_HOURS, False, None),
}


# The figures the contract defines, worked out by hand from the timetable:
# 6 calls; after-hours (1) and one-ring (1) are outside both rates, so 4 count.
FIGURES = {
    "total_incoming": 4,
    "answered": 3,
    "abandoned": 1,
    "short_abandoned": 1,
    "busy": 1,  # C: heard the busy announcement, then answered
    "after_hours": 1,
    "abandonment_rate": 0.25,  # D / 4
    "busy_rate": 0.25,  # C / 4
}


async def test_traffic_mix_outcomes_match_the_script(
    running: RunningDaemon, sipp: Sipp, lab: Lab, agent_ports: dict[str, int], tmp_path: Path
) -> None:
    d = running.daemon
    agents = [
        sipp.agent(agent_ports["agent1"], answer_ms=300, calls=5, timeout_s=60),
        sipp.agent(agent_ports["agent2"], answer_ms=300, calls=5, timeout_s=60),
    ]
    callers: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.sleep(0.3)
        for delay, number, name, patience in TIMETABLE:
            await asyncio.sleep(delay)
            callers.append(sipp.caller("1000", [(number, name)], talk_ms=patience))
        for proc in callers:
            await asyncio.to_thread(finish, proc, 60)
        await wait_for(lambda: len(d.recent_calls) >= 5, 15, "five calls finished")

        set_mode(lab, "closed")
        try:
            await asyncio.to_thread(
                finish, sipp.caller("1000", [("0300000009", "伊藤 翔")], talk_ms=2000), 30
            )
            await wait_for(lambda: len(d.recent_calls) >= 6, 15, "the after-hours call")
        finally:
            set_mode(lab, "open")
    finally:
        for proc in agents + callers:
            stop(proc)

    got = {c.caller_num: c for c in d.recent_calls}
    assert set(got) == set(EXPECTED)
    for number, (outcome, heard_busy, stage) in EXPECTED.items():
        call = got[number]
        assert (call.outcome, call.heard_busy, call.abandon_stage) == (
            outcome,
            heard_busy,
            stage,
        ), (
            number,
            call,
        )
        assert call.dnis == "1000"
        assert call.estimated is False
    assert got["0300000001"].agent == "Agent 1"
    assert got["0300000003"].agent == "Agent 1"  # the first agent to free up
    assert got["0300000002"].agent == "Agent 2"
    assert got["0300000003"].caller_name == "鈴木 一郎"
    # C waited from its queue join until agent 1 freed up (about 2 s after joining).
    wait_c = got["0300000003"].wait_seconds
    assert wait_c is not None
    assert 0.5 < wait_c < 6
    assert got["0300000009"].queue == "support"

    # Live figures for today, straight from the daemon's state...
    live = d.today_figures().to_dict()
    assert {k: live[k] for k in FIGURES} == FIGURES
    assert live["targets"]["abandonment_rate"]["met"] is False  # 25% is not under 10%
    assert d.today_figures("support").to_dict()["answered"] == 3

    # ...and the same from the stored calls, through the command auditors use.
    await wait_for(
        lambda: not d.calls_writer.unwritten and d.calls_writer.written.is_set(), 10, "calls stored"
    )
    conf = tmp_path / "metrics.toml"
    conf.write_text(f'[database]\nurl = "{d.cfg.database_url()}"\n')
    res = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "callcenter", "metrics", "--today", "--json", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    stored = json.loads(res.stdout)
    assert {k: stored[k] for k in FIGURES} == FIGURES
    for key in ("service_level", "asa_seconds", "aht_seconds", "max_wait_seconds"):
        assert stored[key] == pytest.approx(live[key])
