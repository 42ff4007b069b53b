"""Config: the example file is the defaults, and every bad value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import Config, ConfigError, example_config_text, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "callcenter" / "callcenter.example.toml"


def test_example_file_equals_embedded_defaults() -> None:
    assert load_config(EXAMPLE) == Config(base_dir=Path.cwd())


def test_the_shipped_example_is_the_file() -> None:
    # What `callcenter example-config` prints is read from the package, not the tree.
    assert example_config_text() == EXAMPLE.read_text(encoding="utf-8")


def test_no_file_means_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    cfg = load_config(None)
    assert cfg.ami.use_lab is True
    assert cfg.database.url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ami": {"port": "5038"}}, "ami.port: must be an integer, got str '5038'"),
        ({"ami": {"port": 70000}}, "ami.port: not a TCP/UDP port: 70000"),
        ({"ami": {"use_lab": "yes"}}, "ami.use_lab: must be a boolean"),
        ({"ami": {"ping_interval": 0}}, "ami.ping_interval: must be greater than 0"),
        ({"ami": {"reconnect_min": 5, "reconnect_max": 1}}, "ami.reconnect_max: must not be below"),
        ({"ami": {"colour": 1}}, "ami.colour: unknown key"),
        ({"log": {"format": "xml"}}, "log.format: 'xml' is not one of console, json"),
        (
            {"database": {"url": "mysql://x"}},
            "database.url: must start with sqlite:// or postgresql://",
        ),
        ({"database": {"batch_size": -1}}, "database.batch_size: must be greater than 0"),
        ({"server": {"id": "has space"}}, "server.id: 'has space' must be letters"),
        ({"lab": {"trunk_address": "10.0.0.1"}}, "lab.trunk_address: the lab only uses loopback"),
        ({"queues": [{"strategy": "ringall"}]}, "queues[0].name: required"),
        (
            {"queues": [{"name": "q", "strategy": "best"}]},
            "queues[0].strategy: 'best' is not one of",
        ),
        ({"queues": [{"name": "q"}, {"name": "q"}]}, "queues[1].name: queue 'q' is declared twice"),
        ({"queues": [{"name": "q", "number": "12a"}]}, "queues[0].number: '12a' must be digits"),
        ({"queues": {"name": "q"}}, "queues: must be an array of tables"),
        (
            {"agents": [{"id": "a1", "name": "A", "password": "p", "queues": ["sales"]}]},
            "agents[0].queues: agent 'a1' names unknown queue 'sales'",
        ),
        ({"agents": [{"id": "a1", "name": "A"}]}, "agents[0].password: agent 'a1' registers"),
        (
            {"agents": [{"id": "a1", "name": "A", "password": "p", "queues": "support"}]},
            "agents[0].queues: must be a list of strings",
        ),
        ({"bogus": {}}, "bogus: unknown section"),
        (
            {"ivr": [{"name": "m", "options": {"1": "queue:sales"}}]},
            "ivr[0].options.1: menu 'm' points at unknown queue 'sales'",
        ),
        (
            {"ivr": [{"name": "m", "options": {"1": "ivr:nowhere"}}]},
            "ivr[0].options.1: menu 'm' points at unknown menu 'nowhere'",
        ),
        (
            {"ivr": [{"name": "m", "options": {"12": "hangup"}}]},
            "ivr[0].options.12: a choice is one key",
        ),
        (
            {"ivr": [{"name": "m", "options": {"1": "dance"}}]},
            "ivr[0].options.1: 'dance' is not one of",
        ),
        ({"ivr": [{"name": "m", "options": {}}]}, "ivr[0].options: menu 'm' offers no choice"),
        (
            {"ivr": [{"name": "m", "number": "1000", "options": {"1": "hangup"}}]},
            "number 1000: used by both queue 'support' and menu 'm'",
        ),
        ({"ami": 3}, "ami: must be a table"),
        (
            {"http": {"trusted_proxies": ["127.0.0.1", "proxy.lan"]}},
            "http.trusted_proxies[1]: 'proxy.lan' is not an IP address or network",
        ),
        ({"http": {"trusted_proxies": "127.0.0.1"}}, "http.trusted_proxies: must be a list"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"ami": {"port": "x", "host": 3}, "log": {"level": "loud"}})
    assert len(exc.value.problems) == 3


def test_trusted_proxies_take_addresses_and_networks() -> None:
    assert Config().http.trusted_proxies == ("127.0.0.1", "::1")  # the proxy on this host
    cfg = parse_config({"http": {"trusted_proxies": ["10.0.0.0/24", "fd00::1", "192.0.2.7"]}})
    assert cfg.http.trusted_proxies == ("10.0.0.0/24", "fd00::1", "192.0.2.7")
    assert parse_config({"http": {"trusted_proxies": []}}).http.trusted_proxies == ()


def test_ints_are_accepted_for_floats() -> None:
    assert parse_config({"ami": {"ping_interval": 5}}).ami.ping_interval == 5.0


def test_secret_from_environment_wins_and_is_not_in_repr() -> None:
    cfg = parse_config({"ami": {"secret": "from-file", "secret_env": "MY_SECRET"}})
    assert cfg.ami.resolved_secret({"MY_SECRET": "from-env"}) == "from-env"
    assert cfg.ami.resolved_secret({}) == "from-file"
    assert "from-file" not in repr(cfg)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[ami\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_relative_sqlite_path_is_taken_from_base_dir(tmp_path: Path) -> None:
    cfg = parse_config({"database": {"url": "sqlite:///var/x.db"}}, base_dir=tmp_path)
    assert cfg.database_url() == f"sqlite:///{tmp_path}/var/x.db"
    cfg = parse_config({"database": {"url": "sqlite:////abs/x.db"}}, base_dir=tmp_path)
    assert cfg.database_url() == "sqlite:////abs/x.db"


def test_environment_overrides_for_systemd_and_containers(tmp_path: Path) -> None:
    conf = tmp_path / "cc.toml"
    conf.write_text('[database]\nurl = "sqlite:///file.db"\n[http]\nport = 8080\n')
    env = {
        "CALLCENTER_DATABASE__URL": "postgresql://cc@db.internal/callcenter",
        "CALLCENTER_HTTP__PORT": "8081",
        "CALLCENTER_HTTP__ENABLED": "false",
        "CALLCENTER_SERVICE__HOURS": '["mon-fri 09:00-17:00"]',
        "CALLCENTER_SERVER__ID": "pbx2",
        "CALLCENTER_AMI__SECRET": "12345",  # digits, still a string
        "CALLCENTER_AMI_SECRET": "not an override (no __)",
    }
    cfg = load_config(conf, environ=env)
    assert cfg.database.url == "postgresql://cc@db.internal/callcenter"
    assert (cfg.http.port, cfg.http.enabled) == (8081, False)
    assert cfg.service.hours == ("mon-fri 09:00-17:00",)
    assert cfg.server.id == "pbx2"
    assert cfg.ami.secret == "12345"
    # No file at all: the embedded defaults, overridden the same way.
    assert load_config(None, environ={"CALLCENTER_HTTP__PORT": "0"}).http.port == 0


def test_a_bad_override_names_the_variable_or_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config(None, environ={"CALLCENTER_NOSUCH__KEY": "1"})
    assert bad.value.problems[0].startswith("CALLCENTER_NOSUCH__KEY: not <SECTION>__<KEY>")
    with pytest.raises(ConfigError) as bad:
        load_config(None, environ={"CALLCENTER_HTTP__PORT": "eighty"})
    assert bad.value.problems == ["http.port: must be an integer, got str 'eighty'"]
    with pytest.raises(ConfigError) as bad:
        load_config(None, environ={"CALLCENTER_AMI__SECRET": "[1, 2]", "CALLCENTER_AMI__PORT": "x"})
    assert all("[1, 2]" not in p for p in bad.value.problems)


def test_secrets_are_never_echoed_in_problems() -> None:
    data = {
        "ami": {"secret": ["hunter2-ami"], "port": "x"},
        "webhooks": {"secret": 4242424242},
        "agents": [{"id": "a1", "name": "A", "password": ["hunter2-agent"]}],
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    text = "\n".join(exc.value.problems) + str(exc.value)
    assert "ami.secret: must be a string" in exc.value.problems
    assert "webhooks.secret: must be a string" in exc.value.problems
    assert "agents[0].password: must be a string" in exc.value.problems
    for secret in ("hunter2-ami", "4242424242", "hunter2-agent"):
        assert secret not in text
    # Nor a database URL's password, nor a webhook URL's token.
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "database": {"url": "mysql://cc:pa55word@db/cc"},
                "webhooks": {"urls": ["ftp://h/?token=t0ken"], "secret": "s"},
            }
        )
    assert not any("pa55word" in p or "t0ken" in p for p in exc.value.problems)


def test_value_problems_and_cross_checks_come_in_one_run() -> None:
    """A bad value does not hide the checks that look at values together."""
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "ami": {"port": 0, "reconnect_min": 5, "reconnect_max": 1},
                "queues": [{"name": "q", "number": "1000", "timeout": -1}],
                "ivr": [{"name": "m", "number": "1000", "options": {"1": "queue:nope"}}],
                "groups": [],
                "agents": [],
            }
        )
    # In the order of the keys (the root's number plan first).
    assert exc.value.problems == [
        "queues[0].timeout: must not be negative",
        "number 1000: used by both queue 'q' and menu 'm'",
        "ivr[0].options.1: menu 'm' points at unknown queue 'nope'",
        "ami.port: not a TCP/UDP port: 0",
        "ami.reconnect_max: must not be below ami.reconnect_min",
    ]


def test_a_key_of_no_section_and_base_dir_are_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"base_dir": "/"})
    assert exc.value.problems == ["base_dir: unknown section"]
    with pytest.raises(ConfigError) as exc:
        load_config(None, environ={"CALLCENTER_LAB__SIP_PORT": "99999"})
    assert exc.value.problems == ["lab.sip_port: not a TCP/UDP port: 99999"]


def test_settings_are_frozen() -> None:
    cfg = Config()
    with pytest.raises(ValueError, match="frozen"):
        cfg.ami.port = 1
