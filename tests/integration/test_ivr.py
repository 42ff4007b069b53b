"""IVR menus from the config, driven by real key presses (RFC 4733 DTMF over RTP).

The test lab's menus (tests/integration/conftest.py):
  main (number 2000): 1 -> queue support, 2 -> menu sub; 2 s to choose, 2 retries
  sub:                1 -> queue small,   9 -> hang up
"""

from __future__ import annotations

import asyncio

from callcenter.telephony.calls import AbandonStage, Outcome
from tests.integration.conftest import RunningDaemon, finished_call
from tests.support.sipp import Sipp, finish, stop


async def test_choice_routes_to_the_queue_and_is_kept_on_the_record(
    running: RunningDaemon, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300)
    try:
        caller = sipp.caller("2000", [("0322220001", "山田 太郎")], talk_ms=3000, keys="1")
        await asyncio.to_thread(finish, caller, 40)
    finally:
        stop(agent)
    call = await finished_call(running, "0322220001")
    assert call.outcome is Outcome.ANSWERED
    assert call.ivr_path == ["main:1"]
    assert (call.queue, call.agent, call.dnis) == ("support", "Agent 1", "2000")


async def test_nested_menu(running: RunningDaemon, sipp: Sipp, agent_ports: dict[str, int]) -> None:
    agent = sipp.agent(agent_ports["agent2"], answer_ms=300)
    try:
        caller = sipp.caller("2000", [("0322220002", "佐藤 花子")], talk_ms=3000, keys="21")
        await asyncio.to_thread(finish, caller, 40)
    finally:
        stop(agent)
    call = await finished_call(running, "0322220002")
    assert call.outcome is Outcome.ANSWERED
    assert call.ivr_path == ["main:2", "sub:1"]
    assert (call.queue, call.agent) == ("small", "Agent 2")


async def test_wrong_key_then_hang_up_is_an_abandon_in_the_ivr(
    running: RunningDaemon, sipp: Sipp
) -> None:
    caller = sipp.caller("2000", [("0322220003", "鈴木 一郎")], talk_ms=5000, keys="5")
    await asyncio.to_thread(finish, caller, 40)
    call = await finished_call(running, "0322220003")
    assert call.ivr_path[0] == "main:invalid"
    assert (call.outcome, call.abandon_stage) == (Outcome.ABANDONED, AbandonStage.IVR)
    assert call.queue is None


async def test_no_choice_at_all_ends_the_call_after_the_retries(
    running: RunningDaemon, sipp: Sipp
) -> None:
    # The dialplan hangs up on this caller (who would have stayed 30 s): sipp sees an
    # unexpected BYE, which is the point, so its exit status is not checked.
    caller = sipp.caller("2000", [("0322220004", "高橋 美咲")], talk_ms=30000)
    try:
        call = await finished_call(running, "0322220004")
    finally:
        stop(caller)
    assert call.ivr_path == ["main:timeout"] * 3
    assert call.outcome is Outcome.FAILED
    assert call.system_end == "IVR_NO_CHOICE"
