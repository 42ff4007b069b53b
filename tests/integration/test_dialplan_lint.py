"""Asterisk itself is the linter of every rendered file: the lab loaded the dialplan,
queues, pjsip endpoints, parking lots and feature codes without a complaint."""

from __future__ import annotations

from pathlib import Path

from callcenter.config import Config
from callcenter.lab import Lab

# The modules that read the rendered files (and config.c: a missing #include).
LINTED = (
    *("pbx_config.c:", "pbx.c:", "app_queue.c:", "res_parking.c:", "res_parking/"),
    *("res_pjsip/", "res_pjsip.c:", "res_sorcery_config.c:", "sorcery.c:"),
    *("features_config.c:", "config.c:"),
)


def test_the_rendered_dialplan_loads_cleanly(lab: Lab, lab_config: Config) -> None:
    messages = (Path(lab.work) / "log" / "messages").read_text(errors="replace")
    complaints = [
        line
        for line in messages.splitlines()
        # Load-time messages only: a call's own messages carry its id ("[C-...]").
        if ("WARNING" in line or "ERROR" in line)
        and "][C-" not in line
        and any(f" {src}" in line for src in LINTED)
    ]
    assert complaints == []
    assert "#72" in lab.cli("features show")
    lot = lab.cli("parking show default")
    assert "callcenter-parked-default" in lot
    assert "701-720" in lot
    endpoints = lab.cli("pjsip show endpoints")
    for agent in lab_config.agents:
        assert f" {agent.id} " in endpoints or f" {agent.id}\n" in endpoints, endpoints
    assert "cc-second-line" in endpoints
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
