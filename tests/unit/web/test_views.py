"""The views the REST routes answer with and the websocket pushes: pure functions of the
live state (fed with hand-made AMI events) and the services' views of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcenter.metrics import CallFigures
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.telephony.calls import Transfer
from callcenter.telephony.live import LiveState, QueueMember
from callcenter.telephony.tracker import CallTracker
from callcenter.web.live_delta import stable
from callcenter.web.views import (
    LIVE_EVENTS,
    SECTIONS,
    TICKING,
    SnapshotMaker,
    agents_view,
    calls_view,
    created_at,
    figures_dict,
    member_state,
    mode_view,
    parked_view,
    queues_view,
    snapshot,
    today_view,
)
from tests.unit.schedule.support import FakeAMI, FakeClock, jst
from tests.unit.web.pbx_support import (
    AGENT1_LEG,
    AGENT1_UID,
    CALLER,
    CALLER_UID,
    METRICS,
    PARKED,
    T0,
    caller_arrives,
    figures,
    hangup,
    joined,
    left,
    live_with,
    make_deps,
    member,
    newchannel,
    record,
    talking_events,
)

NOW = T0 + 30.0
CLI_KEYS = {  # `callcenter metrics --json` (callcenter/cli.py, CallFigures.to_dict)
    "calls",
    "total_incoming",
    "after_hours",
    "answered",
    "transferred_out",
    "voicemail",
    "callback",
    "failed",
    "unknown",
    "short_abandoned",
    "abandoned",
    "busy",
    "answered_within_sl",
    "abandonment_rate",
    "busy_rate",
    "service_level",
    "service_level_seconds",
    "short_abandon_seconds",
    "asa_seconds",
    "aht_seconds",
    "max_wait_seconds",
    "targets",
}


def by_name(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next(i for i in items if i[key] == value)


# -- member states ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "paused", "activity", "state"),
    [
        ("1", False, None, "free"),
        ("2", False, None, "on_call"),
        ("3", False, None, "on_call"),
        ("8", False, None, "on_call"),
        ("6", False, None, "ringing"),
        ("7", False, None, "ringing"),
        ("1", True, None, "paused"),
        ("5", False, None, "unavailable"),
        ("4", False, None, "unavailable"),
        ("5", True, None, "paused"),  # the agent's choice says more than the phone
        ("1", True, "on_call", "on_call"),  # paused while talking: still on the call
        ("1", False, "ringing", "ringing"),  # the leg rings before the device says so
        ("0", False, None, "free"),
    ],
)
def test_member_state(status: str, paused: bool, activity: str | None, state: str) -> None:
    m = QueueMember("PJSIP/agent1", "Agent 1", status, paused)
    assert member_state(m, activity) == state


def test_not_a_member_is_logged_out_whatever_the_phone_does() -> None:
    assert member_state(None, "on_call") == "logged_out"


def test_live_events_are_every_event_the_live_state_and_tracker_use() -> None:
    # Bridges are kept for call control (is the agent's leg bridged yet?); no view shows
    # them, so they need no push.
    used = set(LiveState._handlers) | set(CallTracker._handlers)
    used -= {"BridgeEnter", "BridgeLeave"}
    assert used <= LIVE_EVENTS, sorted(used - LIVE_EVENTS)
    assert not {"Newexten", "VarSet", "RTCPSent", "RTCPReceived"} & LIVE_EVENTS


def test_created_at_reads_the_uniqueid() -> None:
    assert created_at("cclab-1795411410.12") == 1795411410.0
    assert created_at("1795411410.12") == 1795411410.0
    assert created_at("garbage") is None


# -- queues -------------------------------------------------------------------------------


def test_waiting_callers_are_renumbered_and_timed_from_the_tracker() -> None:
    a, b, c = "cclab-1795411400.1", "cclab-1795411405.2", "cclab-1795411408.3"
    live = live_with(
        # Paused a minute before T0 (the PBX stamps events with timestampevents=yes).
        {**member("support", "agent1", paused=True, reason="昼休み"), "Timestamp": str(T0 - 60)},
        caller_arrives(a, "0311110001", "一番 太郎"),
        caller_arrives(b, "0311110002", "二番 花子"),
        caller_arrives(c, "0311110003", ""),
        joined("support", a, "0311110001", "一番 太郎", 1),
        joined("support", b, "0311110002", "二番 花子", 2),
        joined("support", c, "0311110003", "", 3),
        left("support", a),  # answered or gone: the others move up, with no event
    )
    records = {
        b: record(b, arrived=T0 - 5, queued=T0 + 1.5),  # an IVR first: the join counts
        # c has no record: the channel's creation time stands in
    }
    deps = make_deps(live, records=records)
    support = by_name(queues_view(deps, NOW), "name", "support")
    assert support["waiting"] == [
        {
            "uniqueid": b,
            "caller_num": "0311110002",
            "caller_name": "二番 花子",
            "position": 1,
            "since": datetime.fromtimestamp(T0 + 1.5, UTC).isoformat(),
            "wait_seconds": 28.5,
        },
        {
            "uniqueid": c,
            "caller_num": "0311110003",
            "caller_name": "",
            "position": 2,
            "since": support["waiting"][1]["since"],
            "wait_seconds": NOW - 1795411408.0,
        },
    ]
    assert support["waiting_count"] == 2
    assert support["longest_wait_seconds"] == NOW - 1795411408.0
    assert support["number"] == "1000"
    # Every configured agent of the queue appears; agent2 is in no queue at all.
    assert support["members"] == [
        {
            "agent_id": "agent1",
            "name": "Agent 1",
            "state": "paused",
            "state_since": datetime.fromtimestamp(T0 - 60, UTC).isoformat(),
            "state_seconds": 90.0,
            "paused": True,
            "paused_reason": "昼休み",
            "in_call_with": None,
            "call_seconds": None,
        },
        {
            "agent_id": "agent2",
            "name": "山田 太郎",
            "state": "logged_out",
            "state_since": None,  # never seen in a queue
            "state_seconds": None,
            "paused": False,
            "paused_reason": "",
            "in_call_with": None,
            "call_seconds": None,
        },
    ]
    assert support["today"] == figures_dict(figures("support"))


def test_a_transferred_caller_waits_again_from_the_transfer() -> None:
    uid = "cclab-1795411400.1"
    live = live_with(caller_arrives(uid, "0311110001", "転送 花子"), joined("small", uid, "1", "x"))
    answered = record(uid, arrived=T0 - 60, queued=T0 - 55)
    answered.answered_at = T0 - 50
    answered.transfers.append(Transfer("blind", T0 + 20, "1001", AGENT1_LEG))
    deps = make_deps(live, records={uid: answered})
    small = by_name(queues_view(deps, NOW), "name", "small")
    assert small["waiting"][0]["wait_seconds"] == 10.0


def test_a_member_on_a_call_shows_the_caller_in_every_queue() -> None:
    live = live_with(*talking_events(), member("small", "agent1"))  # agent1 logged in to small
    answered = record(CALLER_UID, arrived=T0, queued=T0 + 1)
    answered.answered_at = T0 + 4.0
    deps = make_deps(live, records={CALLER_UID: answered})
    queues = queues_view(deps, NOW)
    support, small = by_name(queues, "name", "support"), by_name(queues, "name", "small")
    assert support["waiting"] == []
    assert support["longest_wait_seconds"] == 0.0
    one = by_name(support["members"], "agent_id", "agent1")
    assert one["state"] == "on_call"
    assert one["in_call_with"] == {"caller_num": "0311110001", "caller_name": "駐車 太郎"}
    assert one["call_seconds"] == 26.0
    # small: agent2 is configured there; agent1 logged in without being configured.
    assert [(m["agent_id"], m["state"]) for m in small["members"]] == [
        ("agent2", "free"),
        ("agent1", "on_call"),
    ]
    assert small["today"]["calls"] == 0


def test_a_ringing_phone_and_an_unknown_member() -> None:
    uid = "cclab-1795411420.5"
    ring = "PJSIP/agent2-0000000a"
    live = live_with(
        member("support", "agent2"),
        caller_arrives(uid, "0311110009", "呼出 中"),
        joined("support", uid, "0311110009", "呼出 中"),
        newchannel(ring, "cclab-1795411421.6", uid, "agent2", "", "from-agents", "s"),
        {
            "Event": "QueueMemberAdded",
            "Queue": "support",
            "Interface": "Local/9@team",
            "MemberName": "外部 窓口",
            "Status": "5",
            "Paused": "0",
        },
    )
    support = by_name(queues_view(make_deps(live), NOW), "name", "support")
    assert [(m["agent_id"], m["name"], m["state"]) for m in support["members"]] == [
        ("agent1", "Agent 1", "logged_out"),
        ("agent2", "山田 太郎", "ringing"),
        (None, "外部 窓口", "unavailable"),
    ]


# -- agents -------------------------------------------------------------------------------


def test_agents_overall_state_pause_and_call() -> None:
    live = live_with(
        *talking_events(),
        member("support", "agent2", paused=True, reason="研修"),
        member("small", "agent2"),
    )
    answered = record(CALLER_UID, arrived=T0, queued=T0 + 1)
    answered.answered_at = T0 + 4.0
    deps = make_deps(live, records={CALLER_UID: answered})
    one, two = agents_view(deps, NOW)
    assert one == {
        "id": "agent1",
        "name": "Agent 1",
        "queues": ["support"],
        "configured_queues": ["support"],
        "state": "on_call",
        "state_since": one["on_call"]["since"],  # on a call: since its answer
        "state_seconds": 26.0,
        "paused": False,
        "paused_reason": "",
        "paused_queues": [],
        "on_call": {
            "caller_num": "0311110001",
            "caller_name": "駐車 太郎",
            "linkedid": CALLER_UID,
            "since": one["on_call"]["since"],
            "seconds": 26.0,
        },
    }
    assert datetime.fromisoformat(one["on_call"]["since"]).timestamp() == T0 + 4.0
    # Paused in one of its two queues: not paused as a whole.
    assert (two["state"], two["paused"], two["paused_queues"]) == ("free", False, ["support"])
    live.apply({**member("small", "agent2", paused=True, reason="研修"), "Timestamp": str(T0 + 10)})
    two = agents_view(deps, NOW)[1]
    assert (two["state"], two["paused"], two["paused_reason"]) == ("paused", True, "研修")
    assert (two["state_since"], two["state_seconds"]) == (
        datetime.fromtimestamp(T0 + 10, UTC).isoformat(),
        20.0,
    )
    # The same state again (a device or count update) keeps the time; a change restarts it.
    live.apply({**member("small", "agent2", paused=True, reason="研修"), "Timestamp": str(T0 + 15)})
    assert agents_view(deps, NOW)[1]["state_seconds"] == 20.0
    live.apply({**member("small", "agent2"), "Timestamp": str(T0 + 25)})
    live.apply({**member("support", "agent2"), "Timestamp": str(T0 + 25)})
    two = agents_view(deps, NOW)[1]
    assert (two["state"], two["state_seconds"]) == ("free", 5.0)
    for queue in ("small", "support"):
        live.apply({"Event": "QueueMemberRemoved", "Queue": queue, "Interface": "PJSIP/agent2",
                    "Timestamp": str(T0 + 28)})  # fmt: skip
    two = agents_view(deps, NOW)[1]
    assert (two["state"], two["state_seconds"]) == ("logged_out", 2.0)


def test_a_picked_up_call_is_timed_from_the_new_leg() -> None:
    from tests.unit.calls.events import agent2_pickup_leg, unparked_call

    live = live_with(
        *talking_events(), PARKED, hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID), *agent2_pickup_leg()
    )
    live.apply(unparked_call())
    answered = record(CALLER_UID, arrived=T0, queued=T0 + 1)
    answered.answered_at = T0 + 4.0
    deps = make_deps(live, records={CALLER_UID: answered})
    two = agents_view(deps, NOW)[1]
    assert two["on_call"]["caller_num"] == "0311110001"
    assert two["on_call"]["seconds"] == NOW - 1795411414.0  # agent2's leg, not the answer
    assert agents_view(deps, NOW)[0]["on_call"] is None


def test_without_the_tracker_the_leg_times_the_call() -> None:
    deps = make_deps(live_with(*talking_events()))
    assert agents_view(deps, NOW)[0]["on_call"]["seconds"] == 30.0


# -- calls and parked calls ---------------------------------------------------------------


def test_calls_in_each_state() -> None:
    queued, ivr = "cclab-1795411425.7", "cclab-1795411428.8"
    live = live_with(
        *talking_events(),
        caller_arrives(queued, "0311110002", "待ち 花子"),
        joined("support", queued, "0311110002", "待ち 花子"),
        caller_arrives(ivr, "0311110003", "案内 次郎"),
    )
    deps = make_deps(live, records={ivr: record(ivr, arrived=T0 + 18.0)})
    calls = calls_view(deps, NOW)
    assert [
        (c["caller_num"], c["state"], c["agent_id"], c["queue"], c["seconds"]) for c in calls
    ] == [
        ("0311110001", "talking", "agent1", None, 30.0),
        ("0311110002", "queued", None, "support", 15.0),
        ("0311110003", "dialplan", None, None, 12.0),
    ]
    assert calls[0]["agent"] == "Agent 1"
    live.apply(newchannel("PJSIP/agent2-0000000b", "cclab-1795411429.9", queued, "agent2", "",
                          "from-agents", "s"))  # fmt: skip
    assert calls_view(deps, NOW)[1]["state"] == "ringing"
    assert calls_view(deps, NOW)[1]["agent_id"] == "agent2"
    live.apply(PARKED)
    assert calls_view(deps, NOW)[0]["state"] == "parked"


def test_parked_calls() -> None:
    live = live_with(*talking_events(), PARKED)
    assert parked_view(make_deps(live), NOW) == [
        {
            "slot": "701",
            "lot": "default",
            "caller_num": "0311110001",
            "caller_name": "駐車 太郎",
            "parker": "agent1",
            "linkedid": CALLER_UID,
            "since": datetime.fromtimestamp(T0 + 10.0, UTC).isoformat(),
            "parked_seconds": 20.0,
            "timeout": 45,
        }
    ]


# -- figures and the mode -----------------------------------------------------------------


def rates(f: CallFigures) -> dict[str, bool]:
    return {k: v["at_risk"] for k, v in figures_dict(f)["targets"].items()}


def test_figures_have_the_cli_keys_and_a_risk_flag_per_rate() -> None:
    doc = figures_dict(figures())
    assert set(doc) == CLI_KEYS
    # 1 abandoned in 10: the target (below 0.10) is missed, and so at risk too.
    assert doc["targets"]["abandonment_rate"] == {"target": 0.10, "met": False, "at_risk": True}
    assert doc["targets"]["service_level"] == {"target": 0.80, "met": True, "at_risk": False}
    # Elapsed-seconds keys never hide a figure from the websocket's diff.
    assert not (TICKING & set(doc))


@pytest.mark.parametrize(
    ("answered", "abandoned", "abandonment_at_risk"),
    [(93, 7, False), (92, 8, True), (85, 15, True), (0, 0, False)],
)
def test_abandonment_is_at_risk_from_80_percent_of_its_target(
    answered: int, abandoned: int, abandonment_at_risk: bool
) -> None:
    f = CallFigures(METRICS, answered=answered, abandoned=abandoned)
    assert rates(f)["abandonment_rate"] is abandonment_at_risk


@pytest.mark.parametrize(("within", "at_risk"), [(85, False), (84, True), (70, True)])
def test_service_level_is_at_risk_when_its_misses_near_the_allowance(
    within: int, at_risk: bool
) -> None:
    # Target 0.80: a fifth of the calls may miss it; at risk from 16 misses in 100.
    f = CallFigures(METRICS, answered=100, answered_within_sl=within)
    assert rates(f)["service_level"] is at_risk
    assert rates(f)["busy_rate"] is False


def test_today_view_all_and_by_queue() -> None:
    view = today_view(make_deps(live_with()))
    assert set(view) == {"all", "by_queue", "coverage"}
    assert view["coverage"] is None  # no daemon measured it here
    assert set(view["by_queue"]) == {"support", "small"}
    assert view["all"]["answered"] == 9
    assert view["by_queue"]["small"]["targets"]["service_level"]["met"] is None


def test_mode_unmanaged() -> None:
    assert mode_view(make_deps(live_with())) == {
        "managed": False,
        "mode": None,
        "reason": None,
        "until": None,
        "note": "",
        "override": None,
    }


async def test_mode_managed_with_an_override() -> None:
    clock = FakeClock(jst(2026, 11, 18, 10, 0))  # a Wednesday, open
    keeper = ModeKeeper(FakeAMI(clock), BusinessCalendar(), clock=clock)
    deps = make_deps(live_with(), keeper=keeper)
    assert mode_view(deps) == {
        "managed": True,
        "mode": "open",
        "reason": "hours",
        "until": jst(2026, 11, 18, 18, 15).isoformat(),
        "note": "",
        "override": None,
    }
    until = clock() + timedelta(hours=1)
    await keeper.override("closed", until, "suzuki: 停電")
    view = mode_view(deps)
    assert (view["mode"], view["reason"], view["note"]) == ("closed", "override", "suzuki: 停電")
    assert view["override"] is not None
    assert (view["override"]["mode"], view["override"]["note"]) == ("closed", "suzuki: 停電")
    # (kept in AstDB in whole epoch seconds, read back through the injected clock)
    stored = datetime.fromisoformat(view["override"]["until"])
    assert abs((stored - until).total_seconds()) < 1


# -- the snapshot -------------------------------------------------------------------------


def test_snapshot_has_every_section_and_ticks_only_in_ticking_keys() -> None:
    live = live_with(*talking_events(), PARKED)
    deps = make_deps(live)
    early, late = snapshot(deps, NOW), snapshot(deps, NOW + 7)
    assert tuple(early) == SECTIONS
    assert early != late
    assert stable(early, TICKING) == stable(late, TICKING)


def test_todays_figures_are_kept_until_a_call_finishes() -> None:
    asked: list[str | None] = []

    def today(queue: str | None) -> CallFigures:
        asked.append(queue)
        return figures(queue)

    records = {CALLER_UID: record(CALLER_UID, arrived=T0)}
    live = live_with(*talking_events())
    make = SnapshotMaker(make_deps(live, today=today, records=records))
    make(NOW)
    assert asked == [None, "support", "small"]
    make(NOW + 1)
    make(NOW + 2)
    assert len(asked) == 3  # nothing finished: the same figures
    del records[CALLER_UID]  # the call finished (the tracker lets it go)
    make(NOW + 3)
    assert len(asked) == 6
    make(NOW + 86400)  # the next day
    assert len(asked) == 9
    without = SnapshotMaker(make_deps(live, today=today))
    without(NOW)
    without(NOW)
    assert len(asked) == 15  # no tracker: no way to tell, so every time


def test_caller_hung_up_leaves_no_trace() -> None:
    live = live_with(*talking_events())
    live.apply(hangup(CALLER, CALLER_UID, CALLER_UID))
    live.apply(hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))
    live.apply(member("support", "agent1"))
    deps = make_deps(live)
    assert calls_view(deps, NOW) == []
    assert agents_view(deps, NOW)[0]["state"] == "free"
    assert agents_view(deps, NOW)[0]["on_call"] is None
