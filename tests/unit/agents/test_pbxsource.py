"""The queue_log's lines as agent activity, and how they join the AMI record: AMI wins,
the queue_log fills only what AMI did not see, and only as far as it can vouch for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.agents.activity import AgentEvent
from callcenter.agents.pbxsource import (
    EDGE,
    PBX,
    agent_id,
    agent_names,
    combine,
    events_of_line,
    filled,
)
from callcenter.pbxrecord.queuelog import parse_line

NAMES = agent_names([("agent1", "Agent 1"), ("agent2", "山田 太郎"), ("agent3", "Sato"),
                     ("agent4", "Sato"), ("agent5", "agent1")])  # fmt: skip
T0 = 1780272000


def t(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def events(line: str) -> list[AgentEvent]:
    return events_of_line(parse_line(line), NAMES)


def test_member_names_and_interfaces_are_the_agent_ids() -> None:
    assert agent_id("PJSIP/agent1", NAMES) == "agent1"  # ADDMEMBER / REMOVEMEMBER
    assert agent_id("Agent 1", NAMES) == "agent1"  # PAUSE and the call events
    assert agent_id("山田 太郎", NAMES) == "agent2"
    assert agent_id("agent2", NAMES) == "agent2"  # log_membername_as_agent with ids
    # A name two agents share, or that is another agent's id, is never given to either.
    assert agent_id("Sato", NAMES) == "Sato"
    assert agent_id("agent1", NAMES) == "agent1"
    assert agent_id("SIP/desk9", NAMES) == "SIP/desk9"  # not ours: kept whole, like AMI's


def test_each_member_line_is_its_activity() -> None:
    assert events(f"{T0}|MANAGER|small|PJSIP/agent1|ADDMEMBER|") == [
        AgentEvent(t(0), "agent1", "small", "login")
    ]
    assert events(f"{T0}|MANAGER|small|PJSIP/agent1|ADDMEMBER|PAUSED") == [
        AgentEvent(t(0), "agent1", "small", "login", paused=True)
    ]
    assert events(f"{T0}|CLI|small|PJSIP/agent1|REMOVEMEMBER|") == [
        AgentEvent(t(0), "agent1", "small", "logout")
    ]
    assert events(f"{T0}|NONE|small|Agent 1|PAUSE|休憩|昼") == [
        AgentEvent(t(0), "agent1", "small", "pause", reason="休憩|昼")
    ]
    assert events(f"{T0}|NONE|small|Agent 1|PAUSE|") == [
        AgentEvent(t(0), "agent1", "small", "pause", reason="")
    ]
    assert events(f"{T0}|NONE|small|Agent 1|UNPAUSE|") == [
        AgentEvent(t(0), "agent1", "small", "resume")
    ]


@pytest.mark.parametrize(
    ("tail", "talk"),
    [
        ("COMPLETEAGENT|5|60|1", 60.0),
        ("COMPLETECALLER|5|61|1", 61.0),
        ("BLINDTRANSFER|8001|callcenter-routes|5|62|1", 62.0),
        ("ATTENDEDTRANSFER|BRIDGE|bridge-id|5|63|1", 63.0),
        ("ATTENDEDTRANSFER|LINK|a|b|5|64|1", 64.0),
        ("COMPLETEAGENT|5|-3|1", 0.0),
        ("COMPLETEAGENT|5|nan?|1", 0.0),
        ("COMPLETEAGENT|5|inf|1", 0.0),
        ("COMPLETEAGENT|5|1e300|1", 0.0),
        ("COMPLETEAGENT|5|86401|1", 0.0),
        ("COMPLETEAGENT|5|86400|1", 86400.0),
        ("COMPLETEAGENT|", 0.0),
    ],
)
def test_a_call_end_is_its_talk_time(tail: str, talk: float) -> None:
    assert events(f"{T0}|cclab-1.2|support|Agent 1|{tail}") == [
        AgentEvent(t(0), "agent1", "support", "talk", seconds=talk)
    ]


@pytest.mark.parametrize(
    "line",
    [
        f"{T0}|NONE|NONE|NONE|QUEUESTART|",
        f"{T0}|NONE|NONE|Agent 1|PAUSEALL|break",  # its per-queue PAUSE lines follow
        f"{T0}|cclab-1.2|support|NONE|ENTERQUEUE||0312345678|1",
        f"{T0}|cclab-1.2|support|Agent 1|CONNECT|5|cclab-1.3|2",
        f"{T0}|NONE||Agent 1|PAUSE|x",
        f"{T0}|NONE|support||PAUSE|x",
    ],
)
def test_other_lines_hold_no_activity(line: str) -> None:
    assert events(line) == []


GAP = (t(100), t(200))


def test_a_gap_after_the_daemons_sight_is_filled_as_far_as_the_file_was_read() -> None:
    usable, unknown = filled([GAP], since=t(0), record=(t(-50), t(1000)))
    assert (usable, unknown) == ([GAP], [])
    # Read through only to 150: after that the file is not known whole yet.
    assert filled([GAP], since=t(0), record=(t(-50), t(150)))[1] == [(t(150) + EDGE, t(200))]
    assert filled([GAP], since=t(0), record=(t(-50), t(50)))[1] == [GAP]


def test_a_quick_reconnect_merged_away_by_the_slack_is_still_the_queue_logs() -> None:
    hole = (t(100), t(104))
    assert filled([], since=t(0), record=(t(-50), t(1000)), holes=[hole]) == ([hole], [])


def test_what_the_queue_log_cannot_vouch_for_stays_unknown() -> None:
    # The timeline starts in the gap: the state it starts from was never seen.
    assert filled([(t(0), t(200))], since=t(0), record=(t(-50), t(1000))) == (
        [],
        [(t(0), t(200))],
    )
    # No queue_log, or one begun after the gap did: the gap as it was; its lines still
    # count as the agent seen again.
    assert filled([GAP], since=t(0), record=None) == ([GAP], [GAP])
    assert filled([GAP], since=t(0), record=(t(120), t(1000))) == ([GAP], [GAP])
    # Asterisk restarted at 160 (last line before it at 130): after 130, not known.
    assert filled([GAP], since=t(0), record=(t(-50), t(1000)), restarts=[(t(130), t(160))]) == (
        [GAP],
        [(t(130) + EDGE, t(200))],
    )
    # ...and a restart whose last line came before the gap leaves all of it unknown.
    assert filled([GAP], since=t(0), record=(t(-50), t(1000)), restarts=[(t(90), t(160))])[1] == [
        GAP
    ]
    # A restart outside the gap does not touch it.
    assert filled([GAP], since=t(0), record=(t(-50), t(1000)), restarts=[(t(250), t(260))])[1] == []


def test_ami_wins_and_the_queue_log_counts_only_inside_the_gaps() -> None:
    ami = [
        AgentEvent(t(10.4), "agent1", "small", "login"),
        AgentEvent(t(101.3), "agent1", "small", "pause", reason="break"),  # in the gap's edge
    ]
    pbx = [
        AgentEvent(t(10), "agent1", "small", "login"),  # covered by AMI: not used
        AgentEvent(t(101), "agent1", "small", "pause", reason="break"),  # the AMI row's twin
        AgentEvent(t(104), "agent1", "small", "pause", reason="break"),  # 2.7 s on: its own
        AgentEvent(t(150), "agent1", "small", "resume"),
        AgentEvent(t(150), "agent2", "small", "resume"),
        AgentEvent(t(200), "agent1", "small", "logout"),  # the gap's end: AMI's again
        AgentEvent(t(99.2), "agent2", "small", "pause"),  # its second runs into the gap
        AgentEvent(t(98.9), "agent2", "small", "resume"),  # its second ends before it
    ]
    rows = [("ami", e) for e in ami] + [(PBX, e) for e in pbx]
    # The one stamped in the second the gap began in is placed at the gap's start.
    at_start = AgentEvent(t(100), "agent2", "small", "pause")
    assert combine(rows, [GAP]) == [ami[0], at_start, ami[1], pbx[2], pbx[3], pbx[4]]
    assert combine(rows, []) == ami
    # Rows in any order: the same rows, in time order.
    again = combine(list(reversed(rows)), [GAP])
    assert set(again) == {ami[0], ami[1], pbx[2], pbx[3], pbx[4], at_start}
    assert [e.at for e in again] == sorted(e.at for e in again)
    assert pbx[2].at - ami[1].at > timedelta(seconds=2)
