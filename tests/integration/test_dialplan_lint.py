"""Asterisk itself is the dialplan's linter: the lab loaded it without a complaint."""

from __future__ import annotations

from pathlib import Path

from callcenter.config import Config
from callcenter.lab import Lab


def test_the_rendered_dialplan_loads_cleanly(lab: Lab, lab_config: Config) -> None:
    messages = (Path(lab.work) / "log" / "messages").read_text(errors="replace")
    complaints = [
        line
        for line in messages.splitlines()
        # Load-time messages only: a call's own messages carry its id ("[C-...]").
        if ("WARNING" in line or "ERROR" in line)
        and "][C-" not in line
        and any(f" {src}.c:" in line for src in ("pbx_config", "pbx", "app_queue", "res_parking"))
    ]
    assert complaints == []
    shown = lab.cli("dialplan show callcenter-routes")
    for q in lab_config.queues:
        assert f"'{q.number}'" in shown
    for menu in lab_config.ivr:
        listing = lab.cli(f"dialplan show callcenter-ivr-{menu.name}")
        for digit, _ in menu.options:
            assert f"'{digit}'" in listing, listing
        assert "'i'" in listing
        assert "'t'" in listing
    assert "-= 2 extensions" not in lab.cli("dialplan show callcenter-queue-join")
