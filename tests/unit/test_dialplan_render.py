"""The rendered dialplan: deterministic, and every menu choice reported to the daemon."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from callcenter.config import Config, ConfigError, parse_config
from callcenter.dialplan import render_files, render_routes
from callcenter.dialplan.render import render_mode_fallback
from callcenter.dialplan.settings import IvrConfig, QueueConfig

CFG = Config(
    queues=(QueueConfig(name="support", number="1000"), QueueConfig(name="vendor")),
    ivr=(
        IvrConfig(
            name="main",
            number="2000",
            timeout=4,
            retries=2,
            options=(("1", "queue:support"), ("2", "ivr:sub"), ("0", "after_hours")),
        ),
        IvrConfig(name="sub", options=(("1", "queue:vendor"), ("#", "hangup"))),
    ),
)


def test_output_is_deterministic() -> None:
    assert render_files(CFG, CFG.service, CFG.incidents) == render_files(
        CFG, CFG.service, CFG.incidents
    )


def test_routes_and_menus() -> None:
    text = render_routes(CFG)
    lines = text.splitlines()
    assert "exten => 1000,1,Set(__CC_DNIS=${EXTEN})" in lines
    assert " same => n,Goto(callcenter-queue,support,1)" in lines
    assert " same => n,Goto(callcenter-ivr-entry,main,1)" in lines
    # Every choice is a UserEvent, and the same into the PBX record, before it jumps.
    for menu, digit, jump in [
        ("main", "1", "Goto(callcenter-queue-join,support,1)"),
        ("main", "2", "Goto(callcenter-ivr-sub,s,1)"),
        ("main", "0", "Goto(callcenter-after-hours,s,1)"),
        ("sub", "#", "Hangup()"),
    ]:
        i = lines.index(
            f"exten => {digit},1,UserEvent(CallCenter,Stage: ivr,Menu: {menu},Choice: {digit})",
            lines.index(f"[callcenter-ivr-{menu}]"),
        )
        cel = f"CELGenUserEvent(CallCenter,Stage: ivr|Menu: {menu}|Choice: {digit})"
        assert lines[i + 1] == f" same => n,{cel}"
        assert lines[i + 2] == f" same => n,{jump}"
    assert " same => n,WaitExten(4)" in lines
    assert " same => n,GotoIf($[${CC_IVR_TRIES} > 2]?giveup)" in lines
    # A queue without a number gets no route.
    assert "callcenter-queue,vendor" not in text


def test_cli_writes_the_files(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "callcenter", "dialplan", "render", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "callcenter-cel-custom.conf",
        "callcenter-cel.conf",
        "callcenter-features.conf",
        "callcenter-parking.conf",
        "callcenter-pjsip.conf",
        "callcenter-queues.conf",
        "callcenter-routes.conf",
        "callcenter.conf",
    ]
    assert "[support]" in (tmp_path / "callcenter-queues.conf").read_text()
    # The agents' SIP passwords are readable by the owner only.
    assert (tmp_path / "callcenter-pjsip.conf").stat().st_mode & 0o777 == 0o600


def test_the_fallback_knows_the_calendar() -> None:
    cfg = parse_config(
        {"service": {"closed_dates": ["2026-06-15"], "hours": ["mon-fri 09:00-17:30"]}}
    )
    text = render_mode_fallback(cfg.service, 2026)
    days = {
        line.split(",")[0].split()[-1]: line
        for line in text.splitlines()
        if line.startswith("exten => 20")
    }
    assert "20261123" in days  # 勤労感謝の日
    assert "20260922" in days  # 国民の休日 between two holidays
    assert "20270322" in days  # a substitute holiday, next year
    assert days["20261229"].endswith("NoOp(year_end)")
    assert days["20260615"].endswith("NoOp(closed_day)")
    assert "20261124" not in days  # an ordinary Tuesday
    assert "20290101" not in days  # three years from 2026: up to 2028
    # GotoIfTime's end minute is inclusive: closing at 17:30 means open until 17:29.
    assert " same => n,GotoIfTime(09:00-17:29,mon-fri,*,*,Asia/Tokyo?open)" in text
    assert render_mode_fallback(cfg.service, 2026) == text


def test_render_files_is_stable_within_a_year() -> None:
    assert render_files(CFG, CFG.service, CFG.incidents, date(2026, 2, 1)) == render_files(
        CFG, CFG.service, CFG.incidents, date(2026, 11, 30)
    )
    assert render_files(CFG, CFG.service, CFG.incidents, date(2026, 2, 1)) != render_files(
        CFG, CFG.service, CFG.incidents, date(2027, 2, 1)
    )


def test_queue_options_carry_the_busy_offer() -> None:
    cfg = parse_config(
        {
            "queues": [
                {
                    "name": "support",
                    "number": "1000",
                    "busy_offer": "callback",
                    "busy_offer_seconds": 4,
                },
                {"name": "quiet"},
            ],
            "agents": [],
            "groups": [],
            "ivr": [],
        }
    )
    lines = render_files(cfg, cfg.service, cfg.incidents, date(2026, 1, 1))[
        "callcenter-routes.conf"
    ].splitlines()
    i = lines.index("exten => support,1,Set(CC_BUSY_PROMPT=all-circuits-busy-now)")
    assert lines[i + 1] == " same => n,Set(CC_OFFER=callback)"
    assert lines[i + 3] == " same => n,Set(CC_OFFER_SECONDS=4)"
    j = lines.index("exten => quiet,1,Set(CC_BUSY_PROMPT=all-circuits-busy-now)")
    assert lines[j + 1] == " same => n,Set(CC_OFFER=)"  # no offer: the caller waits


def test_announcements_come_from_the_config() -> None:
    cfg = parse_config(
        {"queues": [{"name": "support", "busy_prompt": "custom/busy-ja"}],
         "service": {"after_hours_prompt": "custom/closed-ja"}}
    )  # fmt: skip
    text = render_files(cfg, cfg.service, cfg.incidents, date(2026, 1, 1))["callcenter-routes.conf"]
    assert "exten => support,1,Set(CC_BUSY_PROMPT=custom/busy-ja)" in text
    assert "exten => s,1,Set(CC_AFTER_HOURS_PROMPT=custom/closed-ja)" in text


def test_a_bad_busy_offer_is_named() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {"queues": [{"name": "q", "busy_offer": "fax"}], "agents": [], "ivr": [], "groups": []}
        )
    assert any(
        p.startswith("queues[0].busy_offer: 'fax' is not one of") for p in exc.value.problems
    )
