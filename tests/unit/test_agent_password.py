"""A registering agent's password: from the file, or from the environment by name, never
echoed, and written into the PJSIP auth section that the softphone registers against."""

from __future__ import annotations

import pytest

from callcenter.config import ConfigError, parse_config
from callcenter.dialplan.render import render_pjsip

AGENT = {"id": "soft1", "name": "Soft One", "queues": ["support"]}
# The default "desk" group names the default agents; these configs have their own.
NO_GROUPS: dict[str, object] = {"groups": []}


def test_password_env_is_read_and_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_TEST_SOFT1_PW", "from-the-env-7f3")
    cfg = parse_config({**NO_GROUPS, "agents": [{**AGENT, "password_env": "CC_TEST_SOFT1_PW"}]})
    agent = cfg.agents[0]
    assert agent.resolved_password() == "from-the-env-7f3"
    assert "from-the-env-7f3" not in repr(agent)
    text = render_pjsip(cfg)
    section = text.split("[soft1]\ntype = auth\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "auth_type = userpass",
        "username = soft1",
        "password = from-the-env-7f3",
    ]
    # The address of record takes one registration; a phone that registers again
    # (restarted, new port) replaces its old contact instead of being refused.
    aor = text.split("[soft1]\ntype = aor\n", 1)[1].split("\n\n", 1)[0]
    assert aor.splitlines() == ["max_contacts = 1", "remove_existing = yes"]


def test_the_environment_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_TEST_SOFT1_PW", "env-pw")
    cfg = parse_config(
        {
            **NO_GROUPS,
            "agents": [{**AGENT, "password": "file-pw", "password_env": "CC_TEST_SOFT1_PW"}],
        }
    )
    assert cfg.agents[0].resolved_password() == "env-pw"


@pytest.mark.parametrize(
    ("agent", "environ", "problem"),
    [
        (
            {**AGENT, "password_env": "CC_TEST_UNSET_PW"},
            {},
            "agents[0].password_env: agent 'soft1' registers, but $CC_TEST_UNSET_PW is not set",
        ),
        (
            {**AGENT, "password_env": "not a name"},
            {},
            "agents[0].password_env: 'not a name' is not an environment variable name",
        ),
        (
            {**AGENT, "password_env": "CC_TEST_BAD_PW"},
            {"CC_TEST_BAD_PW": "secret-x\n[evil]"},
            "agents[0].password_env: agent 'soft1': the password may not hold a line break",
        ),
        (
            {**AGENT, "password": "secret-y;comment"},
            {},
            "agents[0].password: agent 'soft1': the password may not hold a line break",
        ),
    ],
)
def test_bad_passwords_name_the_key_and_never_the_value(
    agent: dict[str, object], environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**NO_GROUPS, "agents": [agent]}, environ=environ)
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems
    text = "\n".join(exc.value.problems)
    assert "secret-x" not in text
    assert "secret-y" not in text


def test_a_desk_phone_needs_no_password() -> None:
    cfg = parse_config({**NO_GROUPS, "agents": [{**AGENT, "contact": "sip:soft1@127.0.0.1:5999"}]})
    assert "type = auth" not in render_pjsip(cfg)
