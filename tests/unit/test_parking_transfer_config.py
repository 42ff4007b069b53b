"""Parking lots, feature codes and transfer targets: validated, then rendered into the
pjsip, res_parking, features and dialplan snippets an existing Asterisk includes."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.config import ConfigError, parse_config
from callcenter.dialplan.render import (
    render_agent_contexts,
    render_features,
    render_files,
    render_parking,
    render_pjsip,
    render_routes,
)


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    return err.value.problems


def test_defaults_have_one_lot_and_the_second_line() -> None:
    cfg = parse_config({})
    assert [(p.name, p.extension, p.slots, p.timeout) for p in cfg.parking] == [
        ("default", "700", "701-720", 45)
    ]
    assert cfg.parking[0].context == "callcenter-parked-default"
    assert [(t.name, t.number) for t in cfg.transfer_targets] == [("second-line", "8001")]
    assert (cfg.features.parkcall, cfg.features.atxfer, cfg.features.blindxfer) == (
        "#72",
        "*2",
        "#1",
    )


@pytest.mark.parametrize(
    ("lot", "expected"),
    [
        ({"slots": "701"}, "parking[0].slots: '701' must be FIRST-LAST, digits of one length"),
        (
            {"slots": "99-101"},
            "parking[0].slots: '99-101' must be FIRST-LAST, digits of one length",
        ),
        ({"slots": "720-701"}, "parking[0].slots: '720-701' ends before it starts"),
        ({"extension": "70a"}, "parking[0].extension: '70a' must be digits"),
        ({"extension": "705"}, "parking[0].extension: 705 is one of its own slots"),
        ({"timeout": 0}, "parking[0].timeout: between 1 and 7200 seconds"),
        ({"name": "bad lot"}, "parking[0].name: 'bad lot' must be letters, digits, '-' or '_'"),
    ],
)
def test_a_bad_parking_lot_is_named(lot: dict[str, Any], expected: str) -> None:
    assert expected in problems({"parking": [{"name": "default", **lot}]})


def test_no_parking_lot_at_all_is_refused() -> None:
    assert "parking: at least one parking lot (the agents park into the first)" in problems(
        {"parking": []}
    )


def test_numbers_have_one_owner_each() -> None:
    got = problems(
        {
            "parking": [{"name": "p", "extension": "1000", "slots": "2001-2005"}],
            "ivr": [{"name": "m", "number": "2003", "options": {"1": "hangup"}}],
            "transfer_targets": [{"name": "v", "number": "700", "contact": "sip:v@10.0.0.1"}],
        }
    )
    assert "number 1000: used by both queue 'support' and parking lot 'p'" in got
    assert "parking[0].slots: slot 2003 is also the number of menu 'm'" in got
    assert not any("700" in p for p in got), got  # the default lot is replaced by 'p'


def test_transfer_targets_need_one_way_to_reach_them() -> None:
    got = problems(
        {
            "transfer_targets": [
                {"name": "a", "number": "8001"},
                {"name": "b", "number": "8002", "contact": "sip:b@h", "dial": "PJSIP/x"},
                {"name": "c", "number": "8003", "contact": "b@h"},
                {"name": "d", "number": "8004", "dial": "PJSIP/x,30,tT"},
                {"name": "e", "contact": "sip:e@h"},
                {"name": "f", "number": "8001", "dial": "PJSIP/f@trunk", "timeout": 0},
            ]
        }
    )
    assert got == [
        "transfer_targets[0]: give one of contact (a SIP URI) or dial (a Dial() string)",
        "transfer_targets[1]: give one of contact (a SIP URI) or dial (a Dial() string)",
        "transfer_targets[2].contact: 'b@h' is not a SIP URI (sip:user@host:port)",
        # A comma would end Dial()'s first argument and smuggle in options.
        "transfer_targets[3].dial: 'PJSIP/x,30,tT' is not a Dial() string (TECH/resource)",
        "transfer_targets[4].number: required (agents and the daemon dial it)",
        "number 8001: used by both transfer target 'a' and transfer target 'f'",
        "transfer_targets[5].timeout: between 1 and 300 seconds",
    ]


def test_feature_codes_are_keys_and_distinct() -> None:
    got = problems({"features": {"parkcall": "*2", "blindxfer": "park"}})
    assert "features.atxfer: '*2' is also features.parkcall" in got
    assert "features.blindxfer: 'park' must be 1-8 of 0-9, * and #" in got


def test_a_menu_may_send_a_caller_to_a_transfer_target() -> None:
    assert problems({"ivr": [{"name": "m", "options": {"1": "transfer:vendor"}}]}) == [
        "ivr[0].options.1: menu 'm' points at unknown transfer target 'vendor'"
    ]
    cfg = parse_config({"ivr": [{"name": "m", "options": {"9": "transfer:second-line"}}]})
    routes = render_routes(cfg)
    assert "exten => 9,1,UserEvent(CallCenter,Stage: ivr,Menu: m,Choice: 9)" in routes
    assert " same => n,Goto(callcenter-transfer-out,second-line,1)" in routes
    contexts = render_agent_contexts(cfg)
    # Reported as routed away (transfer_out) before it rings the target.
    assert (
        "exten => second-line,1,UserEvent(CallCenter,Stage: transfer_out,Target: second-line)\n"
        " same => n,CELGenUserEvent(CallCenter,Stage: transfer_out|Target: second-line)\n"
        " same => n,Goto(callcenter-transfer,8001,1)"
    ) in contexts


CFG = parse_config(
    {
        "parking": [
            {"name": "desk", "extension": "700", "slots": "701-705", "timeout": 30},
            {"name": "back", "extension": "750", "slots": "751-752"},
        ],
        "transfer_targets": [
            {"name": "second-line", "number": "8001", "contact": "sip:vendor@192.0.2.7:5060"},
            {"name": "city", "number": "8002", "dial": "PJSIP/0312345678@trunk", "timeout": 20},
        ],
        "agents": [
            {"id": "agent1", "name": "山田 太郎", "password": "pw1", "queues": ["support"]},
            {"id": "desk9", "name": "Desk", "contact": "sip:desk9@192.0.2.9:5060"},
        ],
        "groups": [],
    }
)


def test_parking_lots_render_for_res_parking() -> None:
    text = render_parking(CFG)
    assert (
        "[desk]\nparkext = 700\nparkpos = 701-705\ncontext = callcenter-parked-desk\n"
        "parkingtime = 30\ncomebacktoorigin = yes\nfindslot = first\n"
    ) in text
    assert "[back]\nparkext = 750\nparkpos = 751-752\ncontext = callcenter-parked-back\n" in text


def test_agents_dial_lots_targets_numbers_and_each_other() -> None:
    text = render_agent_contexts(CFG)
    head = text.split("\n\n")[0].splitlines()
    assert head == [
        "[callcenter-agents]",
        "include => callcenter-routes",
        "include => callcenter-transfer",
        "include => callcenter-parked-desk",
        "include => callcenter-parked-back",
        "exten => agent1,1,Dial(PJSIP/agent1,30,tk)",
        "exten => desk9,1,Dial(PJSIP/desk9,30,tk)",
    ]
    assert (
        "exten => 8001,1,NoOp(callcenter: transfer to second-line)\n"
        " same => n,Dial(PJSIP/cc-second-line,30)\n"
        " same => n,Hangup()\n"
        "exten => 8002,1,NoOp(callcenter: transfer to city)\n"
        " same => n,Dial(PJSIP/0312345678@trunk,20)\n"
    ) in text


def test_pjsip_endpoints_for_agents_and_contact_targets() -> None:
    text = render_pjsip(CFG)
    assert "[agent1]\ntype = endpoint\ncontext = callcenter-agents\n" in text
    assert 'callerid = "山田 太郎" <agent1>\n' in text
    # The park code parks into the agents' lot (the first).
    assert text.count("set_var = PARKINGLOT=desk\n") == 2
    assert "auth = agent1\n" in text
    assert "password = pw1\n" in text
    assert "[desk9]\ntype = aor\ncontact = sip:desk9@192.0.2.9:5060" in text
    assert "[desk9]\ntype = auth" not in text  # a fixed desk phone does not register
    assert "[cc-second-line]\ntype = aor\ncontact = sip:vendor@192.0.2.7:5060" in text
    assert "cc-city" not in text  # reached through the PBX's own trunk
    assert "transport" not in text  # the PBX's own transports


def test_features_render_the_codes() -> None:
    assert render_features(CFG).endswith(
        "[general]\ntransferdigittimeout = 3\n\n"
        "[featuremap]\nparkcall => #72\natxfer => *2\nblindxfer => #1\n"
    )


def test_every_snippet_is_deterministic() -> None:
    from datetime import date

    assert render_files(CFG, CFG.service, CFG.incidents, date(2026, 11, 23)) == render_files(
        CFG, CFG.service, CFG.incidents, date(2026, 2, 1)
    )
