"""The rendered dialplan: deterministic, and every menu choice reported to the daemon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from callcenter.config import Config, IvrConfig, QueueConfig
from callcenter.dialplan import render_files, render_routes

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
    assert render_files(CFG) == render_files(CFG)


def test_routes_and_menus() -> None:
    text = render_routes(CFG)
    lines = text.splitlines()
    assert "exten => 1000,1,Set(__CC_DNIS=${EXTEN})" in lines
    assert " same => n,Goto(callcenter-queue,support,1)" in lines
    assert " same => n,Goto(callcenter-ivr-entry,main,1)" in lines
    # Every choice is a UserEvent before it jumps anywhere.
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
        assert lines[i + 1] == f" same => n,{jump}"
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
    assert names == ["callcenter-queues.conf", "callcenter-routes.conf", "callcenter.conf"]
    assert "[support]" in (tmp_path / "callcenter-queues.conf").read_text()
