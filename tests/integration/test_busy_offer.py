"""After the busy announcement a queue can offer voicemail or a callback (key 1).

Queues vmq (1002) and cbq (1003) have no agents: every caller hears the busy
announcement, then the offer (3 s to press 1); a caller who presses nothing waits on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.lab import Lab
from callcenter.telephony.calls import AbandonStage, Outcome
from tests.integration.conftest import RunningDaemon, finished_call
from tests.support.sipp import Sipp, finish, stop

# The busy announcement takes about 2.5 s; the key comes while the offer waits.
KEY_AFTER_MS = 3500


async def test_voicemail_on_key_1_leaves_a_message(
    running: RunningDaemon, sipp: Sipp, lab: Lab
) -> None:
    caller = sipp.caller(
        "1002", [("0344440001", "山田 太郎")], talk_ms=3000, keys="1", key_delay_ms=KEY_AFTER_MS
    )
    await asyncio.to_thread(finish, caller, 40)
    call = await finished_call(running, "0344440001")
    assert call.outcome is Outcome.VOICEMAIL
    assert call.heard_busy
    assert call.queue == "vmq"
    # The message was recorded (kept when the caller hung up) where the event said.
    recordings = list((Path(lab.work) / "spool" / "callcenter-voicemail").glob("vmq-*.wav"))
    assert any(call.linkedid in p.name for p in recordings), recordings


async def test_callback_on_key_1(running: RunningDaemon, sipp: Sipp) -> None:
    # The desk thanks the caller and hangs up: sipp sees an unexpected BYE, which is the
    # point, so its exit status is not checked.
    caller = sipp.caller(
        "1003", [("0344440002", "佐藤 花子")], talk_ms=20000, keys="1", key_delay_ms=KEY_AFTER_MS
    )
    try:
        call = await finished_call(running, "0344440002")
    finally:
        stop(caller)
    assert call.outcome is Outcome.CALLBACK
    assert (call.queue, call.heard_busy) == ("cbq", True)


async def test_no_key_keeps_the_caller_waiting(running: RunningDaemon, sipp: Sipp) -> None:
    caller = sipp.caller("1003", [("0344440003", "鈴木 一郎")], talk_ms=9000)
    await asyncio.to_thread(finish, caller, 40)
    call = await finished_call(running, "0344440003")
    # Past the offer, into the queue, and gave up there: an abandon after the busy message.
    assert call.queued_at is not None
    assert (call.outcome, call.abandon_stage) == (Outcome.ABANDONED, AbandonStage.BUSY)
