"""The call tracker on hand-written calls: each expected figure is worked out in the test.

Times are seconds after ``T0`` (see ``events.py``); every event carries Asterisk's own
``Timestamp`` and is received 0.25 s later unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from callcenter.telephony.calls import AbandonStage, CallRecord, Outcome, Transfer
from callcenter.telephony.facts import CallAnswered, CallFinished, SurveyAnswered
from callcenter.telephony.tracker import CallTracker, event_time

from .events import (
    AGENT1,
    AGENT2,
    AGENT3,
    T0,
    Agent,
    CallScript,
    Pbx,
    Step,
    core_show_channels_of,
    internal_call,
    merged,
    one,
    play,
    snapshot,
)


@pytest.fixture
def pbx() -> Pbx:
    return Pbx()


@pytest.fixture
def tracker() -> CallTracker:
    return CallTracker("lab")


def feed_each(tracker: CallTracker, *sources: CallScript | list[Step]) -> list[CallRecord | None]:
    """What ``feed`` returned for every event, in order."""
    return [tracker.feed(s.event, s.received) for s in merged(*sources)]


def finished_only_by_the_callers_hangup(tracker: CallTracker, call: CallScript) -> CallRecord:
    """Feed the call; only the caller's Hangup may return a record (agents' legs end nothing)."""
    returned = [tracker.feed(s.event, s.received) for s in call.steps]
    caller_hangup = [
        i
        for i, s in enumerate(call.steps)
        if s.event["Event"] == "Hangup" and s.event["Uniqueid"] == call.linkedid
    ]
    assert [i for i, r in enumerate(returned) if r is not None] == caller_hangup
    rec = returned[caller_hangup[0]]
    assert rec is not None
    assert tracker.calls == {}
    return rec


def answered_call(pbx: Pbx, *, connect: float = 10, agent: Agent = AGENT1) -> CallScript:
    """Arrives at 0, queues at 2, ``agent`` rings at 3 and answers at ``connect``."""
    return (
        pbx.call()
        .arrive(at=0)
        .entered(at=0.5)
        .join(at=2)
        .ring(agent, at=3)
        .connect(agent, at=connect)
    )


def agent_channel(call: CallScript) -> str:
    assert call.agent_leg is not None
    return call.agent_leg.channel


# -- answered ---------------------------------------------------------------------------


def test_answered_call_times_and_agent(pbx: Pbx, tracker: CallTracker) -> None:
    call = (
        pbx.call("0312345678", "山田 太郎", dnis="0120111222")
        .arrive(at=0)
        .entered(at=0.5, queue="support")
        .join(at=2)
        .ring(AGENT1, at=2)
        .connect(AGENT1, at=9)
        .hangup(at=189)
    )
    # The record comes out at the caller's Hangup and only there.
    rec = finished_only_by_the_callers_hangup(tracker, call)

    assert rec.server_id == "lab"
    assert rec.linkedid == call.linkedid
    assert rec.outcome is Outcome.ANSWERED
    assert rec.abandon_stage is None
    assert (rec.caller_num, rec.caller_name, rec.dnis) == ("0312345678", "山田 太郎", "0120111222")
    assert rec.queue == "support"
    assert rec.arrived_at == T0
    assert rec.queued_at == T0 + 2
    assert rec.answered_at == T0 + 9
    assert rec.ended_at == T0 + 189
    assert rec.wait_seconds == 7  # queued 2 -> answered 9
    assert rec.handle_seconds == 180  # answered 9 -> ended 189
    assert rec.talk_seconds == 180  # nothing parked
    assert rec.hold_seconds == 0
    assert (rec.agent, rec.agent_interface) == ("Agent 1", "PJSIP/agent1")
    assert not rec.heard_busy
    assert rec.transfers == []
    assert (rec.parks, rec.park_seconds) == (0, 0)
    assert not rec.estimated


def test_dnis_from_newchannel_exten_when_the_dialplan_does_not_say(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call(dnis="0120999888").arrive(at=0).join(at=1).hangup(at=30)
    assert one(tracker, call).dnis == "0120999888"


def test_agent_with_a_japanese_member_name(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).join(at=1).ring(AGENT3, at=1).connect(AGENT3, at=4)
    rec = one(tracker, call.agent_hangup(at=34))
    assert rec.outcome is Outcome.ANSWERED
    assert rec.agent == "佐藤 花子"
    assert rec.wait_seconds == 3
    assert rec.handle_seconds == 30


def test_answered_without_a_queue_join_waits_from_arrival(pbx: Pbx, tracker: CallTracker) -> None:
    # No QueueCallerJoin reached the tracker: wait runs from arrival.
    call = pbx.call().arrive(at=0).join(at=2).ring(AGENT1, at=3).connect(AGENT1, at=12)
    call.steps = [s for s in call.steps if s.event["Event"] != "QueueCallerJoin"]
    rec = one(tracker, call.hangup(at=20))
    assert rec.queued_at is None
    assert rec.queue == "support"  # from the dialplan's 'queued' stage
    assert rec.wait_seconds == 12


def test_a_second_agent_connect_does_not_replace_the_first(pbx: Pbx, tracker: CallTracker) -> None:
    # Agent 1 answers, blind-transfers the caller to the 'sales' queue, Agent 2 answers.
    call = answered_call(pbx, connect=10)
    by = agent_channel(call)
    call.blind_transfer(40, "sales", rings=False).join(at=40, queue="sales")
    call.ring(AGENT2, at=41).connect(AGENT2, at=55).hangup(at=100)
    rec = one(tracker, call)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.answered_at == T0 + 10
    assert rec.agent == "Agent 1"
    assert rec.queued_at == T0 + 2  # the first QueueCallerJoin
    assert rec.wait_seconds == 8
    assert rec.handle_seconds == 90
    assert rec.transfers == [Transfer("blind", T0 + 40, "sales", by)]


# -- busy ---------------------------------------------------------------------------------


def test_busy_announcement_then_abandon(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).entered(at=1).busy(at=3).hangup(at=40)
    rec = one(tracker, call)
    assert rec.outcome is Outcome.ABANDONED
    assert rec.abandon_stage is AbandonStage.BUSY
    assert rec.busy_at == T0 + 3
    assert rec.heard_busy
    assert rec.queue == "support"
    assert rec.wait_seconds == 40  # never queued: from arrival to the hang-up


def test_busy_then_queued_then_abandon_is_still_a_busy_abandon(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0).busy(at=2).join(at=12).hangup(at=70)
    rec = one(tracker, call)
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.BUSY)
    assert rec.wait_seconds == 58  # queued 12 -> ended 70


def test_busy_then_answered(pbx: Pbx, tracker: CallTracker) -> None:
    call = (
        pbx.call()
        .arrive(at=0)
        .busy(at=2)
        .busy(at=8)  # the announcement repeats: busy_at is when it started
        .join(at=10)
        .ring(AGENT2, at=20)
        .connect(AGENT2, at=25)
        .hangup(at=85)
    )
    rec = one(tracker, call)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.abandon_stage is None
    assert rec.heard_busy
    assert rec.busy_at == T0 + 2
    assert rec.wait_seconds == 15
    assert rec.agent == "Agent 2"


# -- one-ring hang-ups --------------------------------------------------------------------


def test_one_ring_hang_up_just_under_the_threshold(pbx: Pbx, tracker: CallTracker) -> None:
    assert tracker.short_abandon_seconds == 5.0
    rec = one(tracker, pbx.call().arrive(at=0).hangup(at=4.9))
    assert rec.outcome is Outcome.SHORT_ABANDONED
    assert rec.abandon_stage is AbandonStage.IVR


def test_hang_up_exactly_at_the_threshold_is_an_abandon(pbx: Pbx, tracker: CallTracker) -> None:
    rec = one(tracker, pbx.call().arrive(at=0).hangup(at=5))
    assert rec.outcome is Outcome.ABANDONED
    assert rec.abandon_stage is AbandonStage.IVR


def test_short_abandon_counts_from_arrival_not_from_the_queue(
    pbx: Pbx, tracker: CallTracker
) -> None:
    # 2 s in the queue, but 6 s after arriving: not a one-ring hang-up.
    rec = one(tracker, pbx.call().arrive(at=0).join(at=4).hangup(at=6))
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.QUEUE)
    short = one(tracker, pbx.call().arrive(at=10).join(at=11).hangup(at=13))
    assert (short.outcome, short.abandon_stage) == (Outcome.SHORT_ABANDONED, AbandonStage.QUEUE)


@pytest.mark.parametrize(
    ("threshold", "hang_up_at", "expected"),
    [
        (3.0, 2.5, Outcome.SHORT_ABANDONED),
        (3.0, 3.0, Outcome.ABANDONED),
        (3.0, 4.0, Outcome.ABANDONED),
        (10.0, 9.5, Outcome.SHORT_ABANDONED),
        (10.0, 10.0, Outcome.ABANDONED),
        (0.0, 0.0, Outcome.ABANDONED),  # threshold 0: nothing is a one-ring hang-up
    ],
)
def test_short_abandon_threshold_is_configurable(
    pbx: Pbx, threshold: float, hang_up_at: float, expected: Outcome
) -> None:
    tracker = CallTracker("lab", short_abandon_seconds=threshold)
    rec = one(tracker, pbx.call().arrive(at=0).hangup(at=hang_up_at))
    assert rec.outcome is expected


def test_one_ring_rules_do_not_touch_other_outcomes(pbx: Pbx, tracker: CallTracker) -> None:
    # Ends 2 s after arriving, but the dialplan had already said what happened.
    closed = one(tracker, pbx.call().arrive(at=0).after_hours(at=1).hangup(at=2))
    assert closed.outcome is Outcome.AFTER_HOURS
    quick = one(tracker, answered_call(pbx, connect=1).hangup(at=2))
    assert quick.outcome is Outcome.ANSWERED


# -- abandons -----------------------------------------------------------------------------


def test_abandon_in_the_ivr_keeps_the_path(pbx: Pbx, tracker: CallTracker) -> None:
    call = (
        pbx.call()
        .arrive(at=0)
        .entered(at=1)
        .ivr(at=2, menu="main", choice="2")
        .ivr(at=6, menu="billing", choice="1")
        .hangup(at=20)
    )
    rec = one(tracker, call)
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.IVR)
    assert rec.ivr_path == ["main:2", "billing:1"]
    assert rec.queued_at is None
    assert rec.wait_seconds == 20


def test_abandon_in_the_queue_after_an_unanswered_ring(pbx: Pbx, tracker: CallTracker) -> None:
    call = (
        pbx.call()
        .arrive(at=0)
        .ivr(at=2, menu="main", choice="1")
        .join(at=4)
        .ring(AGENT1, at=4)
        .no_answer(AGENT1, at=19)  # the agent's leg hangs up: the call goes on
        .hangup(at=64)
    )
    rec = finished_only_by_the_callers_hangup(tracker, call)
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.QUEUE)
    assert rec.queued_at == T0 + 4
    assert rec.wait_seconds == 60
    assert rec.ivr_path == ["main:1"]
    assert (rec.agent, rec.answered_at) == (None, None)


# -- the dialplan's outcomes ----------------------------------------------------------------


def test_after_hours(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).entered(at=0).after_hours(at=1).hangup(at=15)
    rec = one(tracker, call)
    assert rec.outcome is Outcome.AFTER_HOURS
    assert rec.abandon_stage is None
    assert rec.after_hours


def test_after_hours_comes_before_answered(pbx: Pbx, tracker: CallTracker) -> None:
    # After the message, the dialplan offers the on-call queue and someone answers:
    # still an after-hours call, outside both rates.
    call = pbx.call().arrive(at=0).after_hours(at=1).join(at=20)
    call.ring(AGENT1, at=21).connect(AGENT1, at=25).hangup(at=60)
    rec = one(tracker, call)
    assert rec.outcome is Outcome.AFTER_HOURS
    assert rec.answered_at == T0 + 25


def test_transfer_out_before_answer(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).join(at=2).transfer_out(at=32, target="0120000000")
    call.hangup(at=150)
    # The outside leg (context from-trunk, same Linkedid) is not a new call.
    rec = finished_only_by_the_callers_hangup(tracker, call)
    assert rec.outcome is Outcome.TRANSFERRED_OUT
    assert rec.abandon_stage is None
    assert rec.answered_at is None
    assert rec.wait_seconds == 148  # queued 2 -> ended 150, never answered
    assert tracker.calls == {}


@pytest.mark.parametrize(
    ("route", "outcome"),
    [("voicemail", Outcome.VOICEMAIL), ("callback", Outcome.CALLBACK)],
)
def test_voicemail_and_callback(
    pbx: Pbx, tracker: CallTracker, route: str, outcome: Outcome
) -> None:
    call = pbx.call().arrive(at=0).busy(at=1).join(at=3)
    getattr(call, route)(at=60)
    # Short (3 s) after arriving would be a one-ring hang-up if it were not routed.
    rec = one(tracker, call.hangup(at=90))
    assert rec.outcome is outcome
    assert rec.routed == outcome.value
    assert rec.abandon_stage is None
    quick = pbx.call().arrive(at=200)
    getattr(quick, route)(at=201)
    assert one(tracker, quick.hangup(at=202)).outcome is outcome


def test_dialplan_gave_up_is_failed(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).join(at=2).ended(at=302, reason="queue_timeout")
    rec = one(tracker, call.hangup(at=302))
    assert rec.outcome is Outcome.FAILED
    assert rec.system_end == "queue_timeout"
    assert rec.abandon_stage is None
    assert rec.wait_seconds == 300


def test_routing_after_an_answer_does_not_change_the_outcome(
    pbx: Pbx, tracker: CallTracker
) -> None:
    # Agent 1 sends the caller to voicemail through the dialplan after talking.
    call = answered_call(pbx, connect=10)
    call.blind_transfer(60, "vm", rings=False).voicemail(at=61).ended(at=90, reason="done")
    rec = one(tracker, call.hangup(at=90))
    assert rec.outcome is Outcome.ANSWERED
    assert rec.routed is None
    assert rec.system_end is None


# -- transfers ----------------------------------------------------------------------------


def test_blind_transfer_answered_elsewhere(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10)
    by = agent_channel(call)
    call.blind_transfer(70, "2001")  # the caller rings 2001, which answers
    call.hangup(at=130)
    rec = finished_only_by_the_callers_hangup(tracker, call)  # Agent 1's hang-up ends nothing
    assert rec.outcome is Outcome.ANSWERED
    assert rec.agent == "Agent 1"
    assert rec.transfers == [Transfer("blind", T0 + 70, "2001", by)]
    assert rec.handle_seconds == 120
    assert rec.talk_seconds == 120


def test_the_answering_queue_keeps_the_call_after_a_transfer_to_another_queue(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = answered_call(pbx, connect=10)  # answered in "support"
    call.blind_transfer(70, "vendor")
    call.entered(71, queue="vendor")  # the vendor queue's dialplan reports itself
    call.join(72, queue="vendor")
    call.hangup(at=130)
    rec = finished_only_by_the_callers_hangup(tracker, call)
    # Its SLA belongs to the queue that answered it, not to the one it was passed on to.
    assert rec.queue == "support"
    assert rec.agent == "Agent 1"


def test_failed_blind_transfer_is_not_a_transfer(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).blind_transfer(30, "2999", result="Fail")
    rec = one(tracker, call.hangup(at=50))
    assert rec.outcome is Outcome.ANSWERED
    assert rec.transfers == []


def test_attended_transfer_to_the_second_line(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=5)
    by = agent_channel(call)
    # Agent 1 holds the caller at 60, calls the second line at 62, transfers at 90.
    call.hold(at=60).attended_transfer(90, "0355550000", target_name="二次サポート", dial_at=62)
    call.hangup(at=200)
    rec = finished_only_by_the_callers_hangup(tracker, call)
    assert tracker.calls == {}  # the consultation call is internal: no record of its own
    assert rec.outcome is Outcome.ANSWERED
    assert rec.agent == "Agent 1"
    assert rec.transfers == [Transfer("attended", T0 + 90, "0355550000", by)]
    # The caller was on hold from 60 until the transfer joined them to the second line;
    # the held channel hung up with the transfer and never sent Unhold.
    assert rec.hold_seconds == 30
    assert rec.handle_seconds == 195


def test_failed_attended_transfer_is_not_a_transfer(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=5)
    call.hold(at=20).attended_transfer(40, "0355550000", result="Fail").unhold(at=41)
    rec = one(tracker, call.hangup(at=60))
    assert rec.transfers == []
    assert rec.hold_seconds == 21


# -- parking -----------------------------------------------------------------------------


def test_parked_then_picked_up(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).park(at=40).unpark(AGENT2, at=100)
    call.hangup(at=160)
    rec = finished_only_by_the_callers_hangup(tracker, call)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.agent == "Agent 1"  # who answered, not who picked it up
    assert (rec.parks, rec.park_seconds) == (1, 60)
    assert rec.handle_seconds == 150  # 10 -> 160
    assert rec.talk_seconds == 90  # 150 minus 60 parked
    assert tracker.calls == {}  # the retriever's call did not become a record


def test_parked_then_timed_out_back_to_the_parker(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).park(at=40).park_timeout(at=85)
    rec = one(tracker, call.agent_hangup(at=120))
    assert rec.outcome is Outcome.ANSWERED
    assert (rec.parks, rec.park_seconds) == (1, 45)
    assert rec.handle_seconds == 110
    assert rec.talk_seconds == 65


def test_caller_gives_up_while_parked(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).park(at=40).park_give_up(at=70)
    rec = one(tracker, call)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.abandon_stage is None
    assert (rec.parks, rec.park_seconds) == (1, 30)
    assert rec.handle_seconds == 60
    assert rec.talk_seconds == 30


def test_parking_ends_at_the_give_up_not_at_a_later_hangup(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).park(at=40).park_give_up(at=70, hangup_at=71)
    rec = one(tracker, call)
    assert rec.park_seconds == 30
    assert rec.ended_at == T0 + 71
    assert rec.talk_seconds == 61 - 30


def test_caller_hangs_up_while_parked_without_a_give_up_event(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = answered_call(pbx, connect=10).park(at=40).park_give_up(at=70)
    call.steps = [s for s in call.steps if s.event["Event"] != "ParkedCallGiveUp"]
    rec = one(tracker, call)
    assert (rec.parks, rec.park_seconds) == (1, 30)  # closed by the caller's Hangup


def test_parked_twice(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10)
    call.park(at=20).unpark(AGENT2, at=30).park(at=50).park_timeout(at=95)
    rec = one(tracker, call.hangup(at=100))
    assert (rec.parks, rec.park_seconds) == (2, 55)
    assert rec.talk_seconds == 90 - 55


# -- hold ---------------------------------------------------------------------------------


def test_hold_and_unhold_including_a_hold_open_at_hang_up(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10)
    call.hold(at=30).unhold(at=50).hold(at=70).unhold(at=75).hold(at=100)
    rec = one(tracker, call.hangup(at=130))  # the caller hangs up on hold
    assert rec.hold_seconds == 20 + 5 + 30
    assert rec.talk_seconds == 120  # hold is part of talk; only parking is taken out
    assert rec.handle_seconds == 120


def test_a_repeated_hold_counts_from_the_first(pbx: Pbx, tracker: CallTracker) -> None:
    # Some phones send their hold re-INVITE again (session refresh): a second Hold event.
    call = answered_call(pbx, connect=10).hold(at=20).hold(at=25).unhold(at=40)
    rec = one(tracker, call.hangup(at=50))
    assert rec.hold_seconds == 20


def test_hold_open_when_the_agent_hangs_up(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10).hold(at=100)
    rec = one(tracker, call.agent_hangup(at=130))
    assert rec.hold_seconds == 30


def test_hold_on_the_callers_own_channel_open_at_hang_up(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=10)
    assert call.caller is not None
    hold = dict(call.caller.headers(), Event="Hold", MusicClass="default")
    hold["Timestamp"] = f"{T0 + 40:.6f}"
    call.steps.append(Step(T0 + 40, T0 + 40, hold))
    rec = one(tracker, call.hangup(at=55))
    assert rec.hold_seconds == 15


def test_hold_of_another_call_does_not_leak(pbx: Pbx, tracker: CallTracker) -> None:
    a = answered_call(pbx, connect=10).hold(at=20).unhold(at=30).hangup(at=40)
    b = answered_call(pbx, connect=12, agent=AGENT2).hangup(at=45)
    records = {r.linkedid: r for r in play(tracker, a, b)}
    assert records[a.linkedid].hold_seconds == 10
    assert records[b.linkedid].hold_seconds == 0


def test_an_agent_leg_hanging_up_does_not_end_the_call(pbx: Pbx, tracker: CallTracker) -> None:
    # Queue(...,g): when the agent hangs up, the caller goes on to a survey in the dialplan.
    call = answered_call(pbx, connect=10).hangup_leg(at=70)
    agent_hangup = len(call.steps) - 1
    assert call.steps[agent_hangup].event["Event"] == "Hangup"
    call.ivr(at=72, menu="survey", choice="5").hangup(at=90)
    returned = [tracker.feed(s.event, s.received) for s in call.steps]
    assert returned[agent_hangup] is None
    rec = returned[-1]
    assert rec is not None
    assert [r for r in returned if r is not None] == [rec]
    assert rec.outcome is Outcome.ANSWERED
    assert rec.ended_at == T0 + 90  # the caller's Hangup, survey included
    assert rec.handle_seconds == 80
    assert rec.ivr_path == ["survey:5"]


# -- what is not a call ---------------------------------------------------------------------


def test_internal_calls_are_ignored(pbx: Pbx, tracker: CallTracker) -> None:
    # Agent 1 calls Agent 2 (and holds); Agent 3 test-calls the queue from the office.
    chat = internal_call(pbx, at=5, frm=AGENT1, to=AGENT2, end=50)
    test_call = (
        pbx.call("agent3", "佐藤 花子", context="from-agents")
        .arrive(at=6)
        .entered(at=6)
        .join(at=7)
        .ring(AGENT2, at=7)
        .connect(AGENT2, at=9)
        .hold(at=10)
        .hangup(at=20)
    )
    inbound = answered_call(pbx, connect=10).hangup(at=60)
    records = play(tracker, chat, test_call, inbound)
    assert [r.linkedid for r in records] == [inbound.linkedid]
    assert records[0].hold_seconds == 0
    assert tracker.calls == {}


def test_user_events_of_other_apps_and_unknown_events_are_ignored(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0)
    assert call.caller is not None
    other = dict(call.caller.headers(), Event="UserEvent", UserEvent="Survey", Stage="ended")
    noise = [
        Step(T0 + 1, T0 + 1, other),
        Step(T0 + 1, T0 + 1, {"Event": "VarSet", "Variable": "X", "Value": "1"}),
        Step(T0 + 1, T0 + 1, {"Response": "Success", "Ping": "Pong"}),
    ]
    (rec,) = play(tracker, call.hangup(at=20), noise)
    assert rec.outcome is Outcome.ABANDONED
    assert rec.system_end is None


def test_a_duplicate_hangup_finishes_nothing(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).hangup(at=20)
    returned = feed_each(tracker, call, [call.steps[-1]])
    assert sum(r is not None for r in returned) == 1


# -- times ----------------------------------------------------------------------------------


def test_timestamp_header_is_preferred_over_the_received_time(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call(lag=7.5)  # every event reaches the daemon 7.5 s late
    call.arrive(at=0).join(at=2).ring(AGENT1, at=3).connect(AGENT1, at=10).hangup(at=70)
    assert all(s.received == s.at + 7.5 for s in call.steps)
    rec = one(tracker, call)
    assert (rec.arrived_at, rec.queued_at) == (T0, T0 + 2)
    assert (rec.answered_at, rec.ended_at) == (T0 + 10, T0 + 70)


def test_received_time_without_a_timestamp_header(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call(timestamps=False)
    call.arrive(at=0).join(at=2).ring(AGENT1, at=3).connect(AGENT1, at=10).hangup(at=70)
    assert not any("Timestamp" in e for e in call.events)
    steps = [s._replace(received=s.at + 100) for s in call.steps]  # received time only
    records = play(tracker, steps)
    assert len(records) == 1
    assert (records[0].arrived_at, records[0].answered_at) == (T0 + 100, T0 + 110)


def test_a_malformed_timestamp_falls_back_to_the_received_time(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0).hangup(at=30)
    call.steps[0].event["Timestamp"] = "soon"
    rec = one(tracker, call)
    assert rec.arrived_at == T0 + 0.25  # its received time
    assert rec.ended_at == T0 + 30


@pytest.mark.parametrize(
    "garbage", ["1e19", "nan", "inf", "-inf", "1e308", "-5", f"{T0 + 2 * 86400}"]
)
def test_a_nonsense_timestamp_falls_back_to_the_received_time(
    pbx: Pbx, tracker: CallTracker, garbage: str
) -> None:
    call = pbx.call().arrive(at=0).hangup(at=30)
    call.steps[0].event["Timestamp"] = garbage  # not finite, or days away from now
    rec = one(tracker, call)
    assert rec.arrived_at == T0 + 0.25  # its received time
    assert rec.ended_at == T0 + 30


def test_event_time_keeps_a_plausible_timestamp() -> None:
    assert event_time({"Timestamp": f"{T0 - 3600:.6f}"}, T0) == T0 - 3600  # an hour off: kept
    assert event_time({"Timestamp": "1e19"}, T0) == T0
    assert event_time({"Timestamp": ""}, T0) == T0


# -- reconnects ------------------------------------------------------------------------------


def split(call: CallScript, gap: tuple[float, float]) -> tuple[list[Step], list[Step]]:
    """The steps before a disconnection and after the reconnect (those between are lost)."""
    start, end = T0 + gap[0], T0 + gap[1]
    return [s for s in call.steps if s.at < start], [s for s in call.steps if s.at > end]


def test_a_call_that_survives_a_reconnect(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).join(at=2)
    call.ring(AGENT1, at=40).connect(AGENT1, at=42).hangup(at=100)
    before, after = split(call, (10, 30))
    assert play(tracker, before) == []
    channels, queues = snapshot([call], 30)
    assert tracker.resync(channels, queues, now=T0 + 30, pbx_restarted=False) == []
    assert list(tracker.calls) == [call.linkedid]
    (rec,) = play(tracker, after)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.queued_at == T0 + 2  # from the event, not from QueueEntry's Wait
    assert rec.wait_seconds == 40
    assert rec.ended_at == T0 + 100
    assert not rec.estimated


def test_a_call_answered_during_the_gap(pbx: Pbx, tracker: CallTracker) -> None:
    # AgentConnect fell into the gap; the snapshot shows the caller bridged with Agent 1,
    # whose leg is 28 s old (it started ringing at 12).
    call = pbx.call().arrive(at=0).join(at=2).ring(AGENT1, at=12).connect(AGENT1, at=15)
    call.hangup(at=100)
    before, after = split(call, (10, 40))
    play(tracker, before)
    channels, queues = snapshot([call], 40)
    assert tracker.resync(channels, queues, now=T0 + 40, pbx_restarted=False) == []
    (rec,) = play(tracker, after)
    assert rec.outcome is Outcome.ANSWERED  # not an abandon in the queue
    assert rec.answered_at == T0 + 12  # estimated from the agent leg's Duration
    assert rec.agent == "Agent 1"
    assert rec.estimated


def test_a_call_that_ended_unanswered_during_the_gap_is_unknown(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0).join(at=2).hangup(at=20)
    before, after = split(call, (10, 50))
    play(tracker, before)
    assert after == []
    channels, queues = snapshot([call], 50)
    (rec,) = tracker.resync(channels, queues, now=T0 + 50, pbx_restarted=False)
    assert rec.outcome is Outcome.UNKNOWN
    assert rec.abandon_stage is None
    assert rec.ended_at == T0 + 50  # the resync's time: nobody saw the hang-up
    assert rec.estimated
    assert rec.disconnected_end
    assert tracker.calls == {}


def test_a_call_that_ended_after_an_answer_during_the_gap(pbx: Pbx, tracker: CallTracker) -> None:
    call = answered_call(pbx, connect=5).hold(at=8).hangup(at=20)
    before, _ = split(call, (10, 50))
    play(tracker, before)
    channels, queues = snapshot([call], 50)
    (rec,) = tracker.resync(channels, queues, now=T0 + 50, pbx_restarted=False)
    assert rec.outcome is Outcome.ANSWERED
    assert rec.ended_at == T0 + 50
    assert rec.handle_seconds == 45
    assert rec.hold_seconds == 42  # open since 8, closed at the resync
    assert rec.estimated


def test_pbx_restart_fails_unanswered_calls_but_not_answered_ones(
    pbx: Pbx, tracker: CallTracker
) -> None:
    waiting = pbx.call().arrive(at=0).join(at=2)
    talking = answered_call(pbx, connect=5)
    routed = pbx.call().arrive(at=1).voicemail(at=3)
    play(tracker, waiting, talking, routed)
    channels, queues = snapshot([], 300)  # Asterisk came back empty
    records = {
        r.linkedid: r for r in tracker.resync(channels, queues, now=T0 + 300, pbx_restarted=True)
    }
    assert set(records) == {waiting.linkedid, talking.linkedid, routed.linkedid}
    assert records[waiting.linkedid].outcome is Outcome.FAILED
    assert records[waiting.linkedid].system_end == "pbx_restart"
    assert records[talking.linkedid].outcome is Outcome.ANSWERED
    assert records[routed.linkedid].outcome is Outcome.VOICEMAIL
    assert all(r.ended_at == T0 + 300 and r.estimated for r in records.values())
    assert tracker.calls == {}


def test_a_call_discovered_in_the_queue(pbx: Pbx, tracker: CallTracker) -> None:
    # Started while disconnected: arrived at 0, joined at 12; the snapshot is at 42.
    call = pbx.call("0924445555", "高橋 美咲").arrive(at=0).join(at=12).hangup(at=52)
    channels, queues = snapshot([call], 42)
    assert [c["Duration"] for c in channels if c.get("Event") == "CoreShowChannel"] == ["00:00:42"]
    assert [q["Wait"] for q in queues if q.get("Event") == "QueueEntry"] == ["30"]
    assert tracker.resync(channels, queues, now=T0 + 42, pbx_restarted=False) == []
    found = tracker.calls[call.linkedid]
    assert found.arrived_at == T0  # now - Duration
    assert found.queued_at == T0 + 12  # now - Wait
    assert found.queue == "support"
    assert (found.caller_num, found.caller_name) == ("0924445555", "高橋 美咲")
    assert found.dnis == ""  # the dialled number was in the Newchannel nobody saw
    assert found.estimated
    (rec,) = play(tracker, [s for s in call.steps if s.at > T0 + 42])
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.QUEUE)
    assert rec.wait_seconds == 40


def test_a_call_discovered_talking_with_an_agent(pbx: Pbx, tracker: CallTracker) -> None:
    call = pbx.call().arrive(at=0).join(at=2).ring(AGENT2, at=3).connect(AGENT2, at=5)
    call.agent_hangup(at=100)
    # Also in the snapshot: an internal call, which must not become a call.
    chat = internal_call(pbx, at=20, frm=AGENT1, to=AGENT3, end=90)
    chat_legs = core_show_channels_of(chat, 65, bridge_id="bridge-chat")
    assert len(chat_legs) == 2
    channels, queues = snapshot([call], 65, *chat_legs)
    assert tracker.resync(channels, queues, now=T0 + 65, pbx_restarted=False) == []
    assert list(tracker.calls) == [call.linkedid]
    found = tracker.calls[call.linkedid]
    assert found.answered_at == T0 + 3  # now - the agent leg's Duration (62 s)
    assert found.agent == "Agent 2"  # the caller's ConnectedLineName
    assert found.queue == "support"  # from the Queue application's data
    (rec,) = play(tracker, [s for s in call.steps if s.at > T0 + 65])
    assert rec.outcome is Outcome.ANSWERED
    assert rec.ended_at == T0 + 100
    assert rec.handle_seconds == 97
    assert rec.estimated


def test_a_queue_join_during_the_gap_is_taken_from_queue_entry(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0).ivr(at=2, menu="main", choice="1").join(at=15).hangup(at=90)
    before, after = split(call, (10, 40))
    play(tracker, before)
    channels, queues = snapshot([call], 40)
    assert [q["Wait"] for q in queues if q.get("Event") == "QueueEntry"] == ["25"]
    assert tracker.resync(channels, queues, now=T0 + 40, pbx_restarted=False) == []
    (rec,) = play(tracker, after)
    assert (rec.outcome, rec.abandon_stage) == (Outcome.ABANDONED, AbandonStage.QUEUE)
    assert rec.queued_at == T0 + 15
    assert rec.wait_seconds == 75
    assert rec.estimated


def test_a_call_sent_outside_is_not_taken_for_answered_at_a_resync(
    pbx: Pbx, tracker: CallTracker
) -> None:
    # Bridged with the outside party's leg at the resync: that is no agent.
    call = pbx.call().arrive(at=0).join(at=2).transfer_out(at=20).hangup(at=200)
    before, after = split(call, (30, 31))
    play(tracker, before)
    channels, queues = snapshot([call], 30)
    assert any(c.get("BridgeId") for c in channels if c.get("Uniqueid") == call.linkedid)
    assert tracker.resync(channels, queues, now=T0 + 30, pbx_restarted=False) == []
    (rec,) = play(tracker, after)
    assert rec.outcome is Outcome.TRANSFERRED_OUT
    assert rec.answered_at is None


def test_an_internal_call_in_the_dialplan_is_not_discovered_at_a_resync(
    pbx: Pbx, tracker: CallTracker
) -> None:
    # Agent 3 calls the queue number from the office; at the resync its channel sits in
    # a callcenter-* context, like a caller's would.
    office = pbx.call("agent3", "佐藤 花子", context="from-agents")
    office.arrive(at=0).entered(at=1).join(at=2).hangup(at=60)
    before, after = split(office, (10, 20))
    play(tracker, before)
    channels, queues = snapshot([office], 20)
    assert [c["Context"] for c in channels if c.get("Event") == "CoreShowChannel"] == [
        "callcenter-queue"
    ]
    assert tracker.resync(channels, queues, now=T0 + 20, pbx_restarted=False) == []
    assert tracker.calls == {}
    assert play(tracker, after) == []


def test_an_agents_own_call_up_across_a_restart_is_not_inbound(pbx: Pbx) -> None:
    # The daemon restarted (its tracker knows nothing) while agent1 talks to the second
    # line: the channel sits in a desk context, from an agent's phone.
    fresh = CallTracker("lab", agent_names={"agent1": "Agent 1"})
    channels = [
        {"Event": "CoreShowChannel", "Uniqueid": "u1", "Linkedid": "u1",
         "Channel": "PJSIP/agent1-00000007", "Context": "callcenter-agents",
         "Exten": "8001", "Duration": "00:00:30", "BridgeId": "b1"},
        {"Event": "CoreShowChannel", "Uniqueid": "u2", "Linkedid": "u1",
         "Channel": "PJSIP/cc-second-line-00000008", "Context": "callcenter-transfer",
         "Exten": "", "Duration": "00:00:29", "BridgeId": "b1"},
    ]  # fmt: skip
    assert fresh.resync_facts(channels, [], now=T0 + 30, pbx_restarted=False) == []
    assert fresh.calls == {}


def test_a_call_gone_at_the_first_resync_after_a_restart_ends_at_the_gap(
    pbx: Pbx, tracker: CallTracker
) -> None:
    call = pbx.call().arrive(at=0).join(at=2).hangup(at=50)
    before, _ = split(call, (10, 11))
    play(tracker, before)
    # Resumed from the stored events, then found gone an hour later.
    (rec,) = tracker.resync([], [], now=T0 + 3600, pbx_restarted=False, gap_started=T0 + 10)
    assert rec.ended_at == T0 + 10
    assert rec.outcome is Outcome.UNKNOWN
    assert rec.estimated


def test_the_tracker_hands_over_facts_in_order(pbx: Pbx) -> None:
    fresh = CallTracker("lab")
    call = answered_call(pbx, connect=10).hangup(at=60)
    facts = [f for s in call.steps for f in fresh.apply(s.event, s.received)]
    answered, finished = facts
    assert isinstance(answered, CallAnswered)
    assert isinstance(finished, CallFinished)
    assert answered.call is finished.call
    # A survey key after the agent hung up, for a call this tracker never saw (it began
    # before a restart): still an answer, on that call.
    survey = {"Event": "UserEvent", "UserEvent": "CallCenter", "Stage": "survey",
              "Answer": "4", "Linkedid": "before-restart", "Timestamp": "1700000000.5"}  # fmt: skip
    (fact,) = fresh.apply(survey, 1700000001.0)
    assert isinstance(fact, SurveyAnswered)
    assert (fact.linkedid, fact.respondent, fact.answer, fact.at) == (
        "before-restart", "call:before-restart", 4, 1700000000.5,
    )  # fmt: skip
    assert fresh.apply({**survey, "Answer": "none"}, 1700000001.0) == []
