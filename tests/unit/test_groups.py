"""Group numbers (グループ代表番号): config checks, the rendered dialplan, the answer stage."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.config import Config, ConfigError, parse_config
from callcenter.dialplan import render_routes
from callcenter.dialplan.render import CLEAN_CALLER
from callcenter.dialplan.settings import AgentConfig, GroupConfig, IvrConfig, QueueConfig
from callcenter.telephony.calls import Outcome
from callcenter.telephony.tracker import CallTracker

AGENTS = [
    {"id": "a1", "name": "A1", "contact": "sip:a1@127.0.0.1:5071"},
    {"id": "a2", "name": "A2", "contact": "sip:a2@127.0.0.1:5072"},
]


def _config(groups: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "queues": [{"name": "support", "number": "1000"}],
        "ivr": [{"name": "main", "number": "2000", "options": {"1": "queue:support"}}],
        "agents": AGENTS,
        "groups": groups,
    }
    data.update(extra)
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.problems


# -- config ----------------------------------------------------------------------------


def test_a_group_is_parsed() -> None:
    cfg = parse_config(
        _config(
            [
                {
                    "name": "desk",
                    "number": "3000",
                    "members": ["a2", "a1"],
                    "strategy": "hunt",
                    "timeout": 7,
                    "overflow": "ivr:main",
                }
            ]
        )
    )
    assert cfg.groups == (
        GroupConfig(
            name="desk",
            number="3000",
            members=("a2", "a1"),
            strategy="hunt",
            timeout=7,
            overflow="ivr:main",
        ),
    )


def test_the_default_group_rings_the_demo_agents_then_the_queue() -> None:
    (desk,) = Config().groups
    assert (desk.number, desk.members, desk.strategy) == ("3000", ("agent1", "agent2"), "ringall")
    assert desk.overflow == "queue:support"
    assert parse_config({}).groups == Config().groups  # and it passes its own checks


def test_an_ivr_choice_may_ring_a_group() -> None:
    cfg = parse_config(
        _config(
            [{"name": "desk", "members": ["a1"]}],
            ivr=[{"name": "main", "number": "2000", "options": {"3": "group:desk"}}],
        )
    )
    assert cfg.ivr[0].options == (("3", "group:desk"),)


G = {"name": "desk", "members": ["a1", "a2"]}


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([{"members": ["a1"]}], "groups[0].name: required"),
        ([{**G, "name": "has space"}], "groups[0].name: 'has space' must be letters"),
        ([G, G], "groups[1].name: group 'desk' is declared twice"),
        ([{**G, "number": "30x"}], "groups[0].number: '30x' must be digits"),
        ([{**G, "members": []}], "groups[0].members: group 'desk' has no members"),
        ([{**G, "members": "a1"}], "groups[0].members: must be a list of strings"),
        (
            [{**G, "members": ["a1", "ghost"]}],
            "groups[0].members: group 'desk' names unknown agent 'ghost'",
        ),
        (
            [{**G, "members": ["a1", "a1"]}],
            "groups[0].members: group 'desk' names agent 'a1' twice",
        ),
        ([{**G, "strategy": "random"}], "groups[0].strategy: 'random' is not one of hunt, ringall"),
        ([{**G, "timeout": 0}], "groups[0].timeout: must be greater than 0"),
        ([{**G, "timeout": "20"}], "groups[0].timeout: must be an integer"),
        ([{**G, "colour": "red"}], "groups[0].colour: unknown key"),
        (
            [{**G, "overflow": "after_hours"}],
            "groups[0].overflow: 'after_hours' is not one of queue:NAME, ivr:NAME, group:NAME",
        ),
        ([{**G, "overflow": "hangup:now"}], "groups[0].overflow: 'hangup:now' is not one of"),
        ([{**G, "overflow": "queue"}], "groups[0].overflow: 'queue' is not one of"),
        (
            [{**G, "overflow": "queue:sales"}],
            "groups[0].overflow: group 'desk' overflows to unknown queue 'sales'",
        ),
        (
            [{**G, "overflow": "ivr:nowhere"}],
            "groups[0].overflow: group 'desk' overflows to unknown menu 'nowhere'",
        ),
        (
            [{**G, "overflow": "group:other"}],
            "groups[0].overflow: group 'desk' overflows to unknown group 'other'",
        ),
        ([{**G, "overflow": "group:desk"}], "groups[0].overflow: group 'desk' overflows to itself"),
        (
            [
                {**G, "overflow": "group:b"},
                {**G, "name": "b", "overflow": "group:c"},
                {**G, "name": "c", "overflow": "group:desk"},
            ],
            "groups[0].overflow: groups overflow in a loop: 'desk' -> 'b' -> 'c' -> 'desk'",
        ),
        (
            [{**G, "number": "1000"}],
            "number 1000: used by both queue 'support' and group 'desk'",
        ),
        (
            [{**G, "number": "2000"}],
            "number 2000: used by both menu 'main' and group 'desk'",
        ),
        (
            [{**G, "number": "3000"}, {**G, "name": "b", "number": "3000"}],
            "number 3000: used by both group 'desk' and group 'b'",
        ),
        ({"name": "desk"}, "groups: must be an array of tables ([[groups]])"),
    ],
)
def test_bad_groups_name_the_key_and_both_sides(groups: Any, expected: str) -> None:
    problems = _problems(_config(groups))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_loop_is_reported_once() -> None:
    problems = _problems(
        _config([{**G, "overflow": "group:b"}, {**G, "name": "b", "overflow": "group:desk"}])
    )
    assert [p for p in problems if "loop" in p] == [
        "groups[0].overflow: groups overflow in a loop: 'desk' -> 'b' -> 'desk'"
    ]


def test_a_chain_of_groups_without_a_loop_is_fine() -> None:
    cfg = parse_config(
        _config([{**G, "overflow": "group:b"}, {**G, "name": "b", "overflow": "queue:support"}])
    )
    assert [g.overflow for g in cfg.groups] == ["group:b", "queue:support"]


def test_an_ivr_choice_naming_an_unknown_group_names_both_sides() -> None:
    problems = _problems(_config([G], ivr=[{"name": "main", "options": {"5": "group:sales"}}]))
    assert "ivr[0].options.5: menu 'main' points at unknown group 'sales'" in problems


# -- rendered dialplan ----------------------------------------------------------------

CFG = Config(
    queues=(QueueConfig(name="support", number="1000"),),
    ivr=(
        IvrConfig(name="main", number="2000", options=(("1", "queue:support"), ("3", "group:all"))),
    ),
    groups=(
        GroupConfig(
            name="all", number="3000", members=("a1", "a2", "a3"), timeout=25, overflow="group:hunt"
        ),
        GroupConfig(
            name="hunt", members=("a2", "a1"), strategy="hunt", timeout=8, overflow="queue:support"
        ),
        GroupConfig(name="late", number="3001", members=("a3",), timeout=5, overflow="ivr:main"),
        GroupConfig(name="last", number="3002", members=("a1",), timeout=5),
    ),
    agents=tuple(
        AgentConfig(id=a, name=a.upper(), contact=f"sip:{a}@h") for a in ("a1", "a2", "a3")
    ),
)
ANSWERED = "tkrU(callcenter-group-answered^{})"  # t: transfer, k: park
NOT_ANSWERED = ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?answered)'


def _context(text: str, name: str) -> list[str]:
    block = text.split(f"[{name}]\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if not line.startswith(";")]


def test_group_numbers_are_routed_through_the_contract_entry() -> None:
    lines = render_routes(CFG).splitlines()
    i = lines.index("exten => 3000,1,Set(__CC_DNIS=${EXTEN})")
    assert lines[i + 1] == CLEAN_CALLER  # only a number's characters, before anything else
    assert lines[i + 2] == " same => n,Goto(callcenter-group-entry,all,1)"
    assert " same => n,Goto(callcenter-group-entry,late,1)" in lines
    # A group without a number is reached from a menu or an overflow only.
    assert "callcenter-group-entry,hunt" not in render_routes(CFG)


def test_ring_all_dials_every_member_at_once_then_overflows() -> None:
    assert _context(render_routes(CFG), "callcenter-group-all") == [
        "exten => s,1,NoOp(callcenter: group all)",
        f" same => n,Dial(PJSIP/a1&PJSIP/a2&PJSIP/a3,25,{ANSWERED.format('all')})",
        NOT_ANSWERED,
        " same => n,UserEvent(CallCenter,Stage: overflow,Group: all,To: group:hunt)",
        " same => n,CELGenUserEvent(CallCenter,Stage: overflow|Group: all|To: group:hunt)",
        " same => n,Goto(callcenter-group-hunt,s,1)",
        " same => n(answered),Hangup()",
    ]


def test_hunt_dials_the_members_one_after_another_in_order() -> None:
    assert _context(render_routes(CFG), "callcenter-group-hunt") == [
        "exten => s,1,NoOp(callcenter: group hunt)",
        f" same => n,Dial(PJSIP/a2,8,{ANSWERED.format('hunt')})",
        NOT_ANSWERED,
        f" same => n,Dial(PJSIP/a1,8,{ANSWERED.format('hunt')})",
        NOT_ANSWERED,
        " same => n,UserEvent(CallCenter,Stage: overflow,Group: hunt,To: queue:support)",
        " same => n,CELGenUserEvent(CallCenter,Stage: overflow|Group: hunt|To: queue:support)",
        " same => n,Answer()",
        " same => n,Goto(callcenter-queue-join,support,1)",
        " same => n(answered),Hangup()",
    ]


def test_overflow_to_a_menu_and_to_hang_up() -> None:
    text = render_routes(CFG)
    assert _context(text, "callcenter-group-late")[-5:] == [
        " same => n,UserEvent(CallCenter,Stage: overflow,Group: late,To: ivr:main)",
        " same => n,CELGenUserEvent(CallCenter,Stage: overflow|Group: late|To: ivr:main)",
        " same => n,Answer()",
        " same => n,Goto(callcenter-ivr-main,s,1)",
        " same => n(answered),Hangup()",
    ]
    # Hanging up on a caller nobody answered is the system's doing: Stage: ended (failed).
    assert _context(text, "callcenter-group-last")[-8:] == [
        " same => n,UserEvent(CallCenter,Stage: overflow,Group: last,To: hangup)",
        " same => n,CELGenUserEvent(CallCenter,Stage: overflow|Group: last|To: hangup)",
        " same => n,UserEvent(CallCenter,Stage: ended,Reason: ${DIALSTATUS})",
        " same => n,CELGenUserEvent(CallCenter,Stage: ended|Reason: ${DIALSTATUS})",
        " same => n,Answer()",
        " same => n,Playback(im-sorry&please-try-call-later)",
        " same => n,Hangup()",
        " same => n(answered),Hangup()",
    ]


def test_an_ivr_choice_goes_to_the_group() -> None:
    lines = render_routes(CFG).splitlines()
    i = lines.index("exten => 3,1,UserEvent(CallCenter,Stage: ivr,Menu: main,Choice: 3)")
    assert lines[i + 1] == " same => n,CELGenUserEvent(CallCenter,Stage: ivr|Menu: main|Choice: 3)"
    assert lines[i + 2] == " same => n,Goto(callcenter-group-all,s,1)"


def test_group_output_is_deterministic_and_leaves_the_rest_alone() -> None:
    text = render_routes(CFG)
    assert text == render_routes(CFG)
    without = render_routes(Config(queues=CFG.queues, ivr=CFG.ivr, groups=(), agents=CFG.agents))
    # The same queue and menu output, with the group routes and contexts added after it.
    head, groups = text.split("\n[callcenter-group-all]\n", 1)
    lines = head.splitlines()
    for number, name in (("3000", "all"), ("3001", "late"), ("3002", "last")):
        i = lines.index(f"exten => {number},1,Set(__CC_DNIS=${{EXTEN}})")
        assert lines[i + 1 : i + 3] == [
            CLEAN_CALLER, f" same => n,Goto(callcenter-group-entry,{name},1)"]  # fmt: skip
        del lines[i : i + 3]
    assert lines == without.splitlines()
    assert groups.count("\n[callcenter-group-") == 3


# -- the tracker: Stage: answered ----------------------------------------------------

T = 1_717_200_000.0
LINKEDID = "cclab-1717200000.1"


def _caller(event: str, at: float, **headers: str) -> dict[str, str]:
    return {
        "Event": event,
        "Channel": "PJSIP/trunk-00000001",
        "Uniqueid": LINKEDID,
        "Linkedid": LINKEDID,
        "Timestamp": f"{T + at:.6f}",
        **headers,
    }


def _member(event: str, endpoint: str, n: int, at: float, **headers: str) -> dict[str, str]:
    return {
        "Event": event,
        "Channel": f"PJSIP/{endpoint}-0000000{n}",
        "Uniqueid": f"cclab-1717200000.{n}",
        "Linkedid": LINKEDID,
        "Timestamp": f"{T + at:.6f}",
        **headers,
    }


def _group_call(*middle: dict[str, str], hangup_at: float = 60) -> list[dict[str, str]]:
    return [
        _caller(
            "Newchannel",
            0,
            Context="from-trunk",
            Exten="3000",
            CallerIDNum="0312345678",
            CallerIDName="山田 太郎",
        ),
        _caller("UserEvent", 0, UserEvent="CallCenter", Stage="entered", Group="desk", Dnis="3000"),
        _member("Newchannel", "a1", 2, 0.1, Context="callcenter-group-desk"),
        _member("Newchannel", "a2", 3, 0.1, Context="callcenter-group-desk"),
        *middle,
        _caller("Hangup", hangup_at, Cause="16"),
    ]


def _play(events: list[dict[str, str]]) -> list[Any]:
    tracker = CallTracker("lab")
    done = [tracker.feed(ev, T + 999) for ev in events]
    return [r for r in done if r is not None]


def test_a_group_member_answering_makes_the_call_answered_by_that_agent() -> None:
    (call,) = _play(
        _group_call(
            _member("UserEvent", "a2", 3, 4.5, UserEvent="CallCenter", Stage="answered",
                    Group="desk", Agent="a2"),
            _member("Hangup", "a1", 2, 4.6, Cause="26"),
        )
    )  # fmt: skip
    assert call.outcome is Outcome.ANSWERED
    assert (call.agent, call.agent_interface, call.answered_at) == ("a2", "PJSIP/a2", T + 4.5)
    assert call.wait_seconds == 4.5
    assert call.handle_seconds == 55.5
    assert call.queue is None
    assert call.dnis == "3000"


def test_the_first_answer_counts() -> None:
    answer = {"UserEvent": "CallCenter", "Stage": "answered", "Group": "desk"}
    (call,) = _play(
        _group_call(
            _member("UserEvent", "a1", 2, 3, **answer, Agent="a1"),
            _member("UserEvent", "a2", 3, 9, **answer, Agent="a2"),
            _member("AgentConnect", "a2", 3, 10, MemberName="A2", Interface="PJSIP/a2",
                    Queue="support"),
        )
    )  # fmt: skip
    assert (call.agent, call.answered_at) == ("a1", T + 3)


def test_without_the_answer_stage_a_hang_up_is_an_abandon() -> None:
    (call,) = _play(
        _group_call(
            _member("UserEvent", "a1", 2, 3, UserEvent="CallCenter", Stage="answered", Group="d"),
            _caller("UserEvent", 20, UserEvent="CallCenter", Stage="overflow", Group="desk",
                    To="queue:support"),
            hangup_at=30,
        )
    )  # fmt: skip
    # An answered stage without an Agent is not an answer; overflow changes nothing itself.
    assert call.answered_at is None
    assert call.agent is None
    assert call.outcome is Outcome.ABANDONED


def test_a_group_answer_is_credited_to_the_agents_configured_name() -> None:
    # Queue answers report the member name; group answers the endpoint: one person, one key.
    tracker = CallTracker("lab", agent_names={"a2": "Agent Two"})
    events = _group_call(
        _member("UserEvent", "a2", 3, 4.5, UserEvent="CallCenter", Stage="answered",
                Group="desk", Agent="a2"),
    )  # fmt: skip
    (call,) = [r for r in (tracker.feed(ev, T + 999) for ev in events) if r is not None]
    assert (call.agent, call.agent_interface) == ("Agent Two", "PJSIP/a2")
