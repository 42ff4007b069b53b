"""Prompts in the config: stock sounds or "site:NAME", checked by key, rendered as paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import ConfigError, parse_config
from callcenter.dialplan import render_files


def test_site_prompts_become_absolute_paths_in_the_dialplan(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "service": {"after_hours_prompt": "site:closed&silence/1"},
            "incidents": {"survey_prompt": "site:survey"},
            "prompts": {"dir": "sounds"},
            "queues": [{"name": "support", "number": "1000", "busy_prompt": "site:busy"}],
            "ivr": [{"name": "main", "number": "2000", "prompt": "site:menu",
                     "options": {"1": "queue:support"}}],
        },
        base_dir=tmp_path,
    )  # fmt: skip
    routes = render_files(cfg, cfg.service, cfg.incidents, sounds=cfg.sounds_dir())[
        "callcenter-routes.conf"
    ]
    sounds = tmp_path / "sounds"
    assert f"Set(CC_AFTER_HOURS_PROMPT={sounds}/closed&silence/1)" in routes
    assert f"Set(CC_SURVEY_PROMPT={sounds}/survey)" in routes
    assert f"Set(CC_BUSY_PROMPT={sounds}/busy)" in routes
    assert f"Background({sounds}/menu)" in routes
    # Stock prompts are left as they are.
    assert "Set(CC_OFFER_PROMPT=vm-leavemsg)" in routes


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"service": {"after_hours_prompt": "site:"}}, "service.after_hours_prompt: 'site:'"),
        (
            {"service": {"after_hours_prompt": "site:../../etc/passwd"}},
            "service.after_hours_prompt: 'site:../../etc/passwd': after site: comes a prompt name",
        ),
        (
            {"incidents": {"survey_prompt": "beep,1)"}},
            "incidents.survey_prompt: 'beep,1)' is not a sound name",
        ),
        (
            {"queues": [{"name": "q", "busy_prompt": "a&&b"}]},
            "queues[0].busy_prompt: '' is not a sound name",
        ),
    ],
)
def test_bad_prompts_name_their_key(section: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"groups": [], **section})
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems
