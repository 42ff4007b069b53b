"""Agent activity from the record, computed by hand (docs/decisions/0012)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.agents.activity import ActivityMapper, AgentEvent, agent_days

TZ = ZoneInfo("Asia/Tokyo")
DAY_START = datetime(2026, 6, 1, tzinfo=TZ)
DAY_END = datetime(2026, 6, 2, tzinfo=TZ)
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def t(hhmm: str, day: int = 1) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2026, 6, day, int(h), int(m), tzinfo=TZ).astimezone(UTC)


def ev(
    at: str, kind: str, queue: str = "support", agent: str = "agent1", **kw: object
) -> AgentEvent:
    day = int(str(kw.pop("day", 1)))
    return AgentEvent(t(at, day), agent, queue, kind, **kw)  # type: ignore[arg-type]


def call(start: str, end: str, queue: str = "support", agent: str = "agent1") -> AgentEvent:
    seconds = (t(end) - t(start)).total_seconds()
    return AgentEvent(t(end), agent, queue, "talk", seconds=seconds)


def one_day(events: list[AgentEvent], **kw: object) -> dict[str, object]:
    days = agent_days(events, start=DAY_START, end=DAY_END, tz=TZ, now=NOW, **kw)  # type: ignore[arg-type]
    assert len(days) == 1
    return days[0].to_dict()


def test_the_hand_computed_day() -> None:
    """Logged in 08:30-12:00, paused 10:00-10:15 for 'break', talking 40 min."""
    events = [
        ev("08:30", "login"),
        call("09:00", "09:25"),
        ev("10:00", "pause", reason="break"),
        ev("10:15", "resume"),
        call("11:00", "11:15"),
        ev("12:00", "logout"),
    ]
    d = one_day(events)
    assert d["day"] == "2026-06-01"
    assert d["login_seconds"] == 3.5 * 3600  # 12600
    assert d["pause_seconds"] == 15 * 60
    assert d["pause_by_reason"] == {"break": 900}
    assert d["talk_seconds"] == 40 * 60
    assert d["wrapup_seconds"] == 0
    assert d["available_seconds"] == 12600 - 900
    assert d["occupancy"] == 2400 / 11700  # 0.2051...
    assert d["calls"] == 2
    assert d["complete"] is True
    kinds = [(i["kind"], i["from"], i["to"]) for i in d["intervals"]]  # type: ignore[attr-defined]
    assert ("logged_in", t("08:30").isoformat(), t("12:00").isoformat()) in kinds
    assert ("paused", t("10:00").isoformat(), t("10:15").isoformat()) in kinds


def test_wrapup_is_the_queues_wrapuptime_cut_by_what_follows() -> None:
    logout = t("11:10") + timedelta(seconds=30)
    events = [
        ev("08:30", "login"),
        call("09:00", "09:20"),  # 60 s of wrap-up, whole
        call("09:22", "09:25"),  # a pause at once after this call: no wrap-up
        call("08:59", "09:00"),  # and the next call at once after this one: none either
        ev("09:25", "pause", reason="ACW"),
        ev("09:40", "resume"),
        call("11:00", "11:10"),  # logged out 30 s after: 30 s
        AgentEvent(logout, "agent1", "support", "logout"),
    ]
    d = one_day(events, wrapup={"support": 60})
    assert d["talk_seconds"] == 34 * 60
    assert d["wrapup_seconds"] == 60 + 30
    login = (logout - t("08:30")).total_seconds()
    assert d["occupancy"] == (34 * 60 + 90) / (login - 15 * 60)
    wraps = [(i["from"], i["to"]) for i in d["intervals"] if i["kind"] == "wrapup"]  # type: ignore[attr-defined]
    assert wraps == [
        (t("09:20").isoformat(), (t("09:20") + timedelta(seconds=60)).isoformat()),
        (t("11:10").isoformat(), logout.isoformat()),
    ]


def test_pause_reasons_and_a_reason_change() -> None:
    events = [
        ev("09:00", "login"),
        ev("10:00", "pause", reason="break"),
        ev("10:10", "pause", reason="meeting"),  # a new reason while paused
        ev("10:40", "resume"),
        ev("11:00", "pause", reason="break"),
        ev("11:05", "resume"),
        ev("12:00", "logout"),
    ]
    d = one_day(events)
    assert d["pause_by_reason"] == {"break": 900, "meeting": 1800}
    assert d["pause_seconds"] == 2700
    assert d["occupancy"] == 0


def test_login_is_time_in_at_least_one_queue_and_pause_in_all() -> None:
    events = [
        ev("08:00", "login", queue="support"),
        ev("09:00", "login", queue="sales"),
        ev("10:00", "pause", queue="support", reason="break"),  # still free in sales
        ev("10:30", "pause", queue="sales", reason="lunch"),  # now paused in both
        ev("11:00", "resume", queue="support"),
        ev("11:00", "resume", queue="sales"),
        ev("11:30", "logout", queue="support"),
        ev("12:00", "logout", queue="sales"),
    ]
    d = one_day(events)
    assert d["login_seconds"] == 4 * 3600  # 08:00-12:00, not 3.5 h + 3 h
    assert d["pause_seconds"] == 1800
    assert d["pause_by_reason"] == {"lunch": 1800}  # the pause begun last
    assert d["queues"] == {
        "sales": {"login_seconds": 3 * 3600, "pause_seconds": 1800},
        "support": {"login_seconds": 3.5 * 3600, "pause_seconds": 3600},
    }


def test_midnight_splits_per_local_day() -> None:
    events = [
        ev("22:00", "login"),
        ev("23:30", "pause", reason="break"),
        AgentEvent(t("00:30", 2), "agent1", "support", "resume"),
        AgentEvent(t("02:00", 2), "agent1", "support", "logout"),
        # A call 23:50-00:10, over midnight.
        AgentEvent(t("00:10", 2), "agent1", "support", "talk", seconds=1200),
    ]
    days = agent_days(events, start=DAY_START, end=DAY_START + timedelta(days=2), tz=TZ, now=NOW)
    first, second = (d.to_dict() for d in days)
    assert (first["day"], second["day"]) == ("2026-06-01", "2026-06-02")
    assert first["login_seconds"] == 2 * 3600
    assert second["login_seconds"] == 2 * 3600
    assert first["pause_by_reason"] == {"break": 1800}
    assert second["pause_by_reason"] == {"break": 1800}
    assert first["talk_seconds"] == 600
    assert second["talk_seconds"] == 600
    assert (first["calls"], second["calls"]) == (0, 1)  # counted on the day it ended


def test_the_state_at_the_period_start_comes_from_before_it() -> None:
    events = [
        AgentEvent(t("20:00", 1), "agent1", "support", "login"),
        AgentEvent(t("21:00", 1), "agent1", "support", "pause", reason="break"),
        AgentEvent(t("01:00", 2), "agent1", "support", "logout"),
    ]
    days = agent_days(events, start=DAY_END, end=DAY_END + timedelta(days=1), tz=TZ, now=NOW)
    (d,) = (x.to_dict() for x in days)
    assert d["day"] == "2026-06-02"
    assert d["login_seconds"] == 3600
    assert d["pause_by_reason"] == {"break": 3600}


def test_a_gap_closes_at_the_last_known_time_and_is_named() -> None:
    """Logged in; the daemon is stopped 10:00-10:30; the resync sees the agent again."""
    events = [
        ev("09:00", "login"),
        ev("10:30", "seen"),
        ev("10:30", "snapshot", queue="", agent=""),
        ev("12:00", "logout"),
    ]
    d = one_day(events, gaps=[(t("10:00"), t("10:30"))])
    assert d["login_seconds"] == 3600 + 5400
    assert d["complete"] is False
    assert d["unknown"] == [{"from": t("10:00").isoformat(), "to": t("10:30").isoformat()}]


def test_a_member_missing_from_the_snapshot_logged_out() -> None:
    events = [
        ev("09:00", "login"),
        ev("09:00", "login", agent="agent2"),
        ev("10:30", "seen", agent="agent2"),
        ev("10:30", "snapshot", queue="", agent=""),
    ]
    end = t("11:00")
    days = agent_days(events, start=DAY_START, end=DAY_END, tz=TZ, now=end, gaps=[])
    by = {d.agent: d.to_dict() for d in days}
    assert by["agent1"]["login_seconds"] == 1.5 * 3600  # gone at the snapshot
    assert by["agent2"]["login_seconds"] == 2 * 3600  # up to now


def test_a_gap_with_no_snapshot_after_is_unknown_to_its_end() -> None:
    events = [ev("09:00", "login")]
    d = one_day(events, gaps=[(t("10:00"), t("11:00"))])
    # Not seen again: nothing after 10:00 is counted as logged in, and the gap is named.
    assert d["login_seconds"] == 3600
    assert d["unknown"] == [{"from": t("10:00").isoformat(), "to": t("11:00").isoformat()}]


def test_nothing_is_counted_past_now() -> None:
    d = agent_days([ev("09:00", "login")], start=DAY_START, end=DAY_END, tz=TZ, now=t("09:45"))
    assert d[0].login_seconds == 45 * 60


def test_mapper_reads_member_events_and_the_resync_list() -> None:
    m = ActivityMapper()
    base = {"Queue": "support", "Interface": "PJSIP/agent1", "MemberName": "Agent 1"}
    assert m.apply({"Event": "QueueMemberAdded", **base, "Paused": "0"}, 1.0)[0].kind == "login"
    (p,) = m.apply(
        {"Event": "QueueMemberPause", **base, "Paused": "1", "PausedReason": "休憩"}, 2.0
    )
    assert (p.kind, p.agent, p.reason) == ("pause", "agent1", "休憩")
    assert m.apply({"Event": "QueueMemberPause", **base, "Paused": "0"}, 3.0)[0].kind == "resume"
    (c,) = m.apply({"Event": "AgentComplete", **base, "TalkTime": "42", "HoldTime": "3"}, 4.0)
    assert (c.kind, c.seconds) == ("talk", 42.0)
    assert m.apply({"Event": "QueueMemberRemoved", **base}, 5.0)[0].kind == "logout"
    listed = {"Event": "QueueMember", "ActionID": "7", "Queue": "support", "Paused": "1"}
    assert m.apply({**listed, "Location": "PJSIP/agent2", "PausedReason": "x"}, 6.0) == []
    done = m.apply({"Event": "QueueStatusComplete", "ActionID": "7"}, 6.5)
    assert [(e.kind, e.agent, e.paused, e.reason) for e in done] == [
        ("seen", "agent2", True, "x"),
        ("snapshot", "", False, ""),
    ]
    assert m.apply({"Event": "Newchannel"}, 7.0) == []


@pytest.mark.parametrize("seconds", ["", "x", "-3"])
def test_mapper_bad_talk_time_is_zero(seconds: str) -> None:
    (c,) = ActivityMapper().apply(
        {"Event": "AgentComplete", "Queue": "q", "Interface": "PJSIP/a", "TalkTime": seconds}, 1.0
    )
    assert c.seconds == 0.0
