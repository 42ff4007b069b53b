"""Configuration: one TOML file -> validated, frozen objects.

Every default lives here, and ``config/callcenter.example.toml`` documents the same
values (a unit test keeps the two in step), so ``callcenter run`` with no file runs
on these embedded defaults: the local lab Asterisk and a SQLite file.

Validation collects every problem before failing, and each message names the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG_ENV = "CALLCENTER_CONFIG"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists each bad key and why."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class ServerConfig:
    id: str = "lab"  # stored with every event: several daemons may share one database


@dataclass(frozen=True)
class AMIConfig:
    use_lab: bool = True  # take host, port and credentials from `callcenter lab up`
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = field(default="", repr=False)
    secret_env: str = "CALLCENTER_AMI_SECRET"  # noqa: S105 (a variable name, not a secret)
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 15.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    max_frame_bytes: int = 1 << 20

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env, "") or self.secret


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/callcenter.db"
    batch_size: int = 1000
    flush_interval: float = 0.2
    buffer_limit: int = 200_000
    retry_min: float = 0.2
    retry_max: float = 5.0
    spool_dir: str = "var/spool"


@dataclass(frozen=True)
class LogConfig:
    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class ServiceConfig:
    timezone: str = "Asia/Tokyo"  # days, hours and service hours are taken in this zone


@dataclass(frozen=True)
class MetricsConfig:
    short_abandon_seconds: float = 5.0  # hang-ups sooner than this after arrival: one-ring
    service_level_seconds: float = 20.0  # "answered within N seconds"
    abandonment_rate_target: float = 0.10  # met when the rate is below this
    busy_rate_target: float = 0.05  # met when the rate is below this
    service_level_target: float = 0.80  # met when the level is at or above this


@dataclass(frozen=True)
class LabConfig:
    workdir: str = "var/lab"
    sip_port: int = 0  # 0: a free port chosen at start
    ami_port: int = 0
    rtp_start: int = 20000
    rtp_end: int = 20999
    trunk_address: str = "127.0.0.2"  # calls from this loopback address come in as the trunk


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str = "rrmemory"
    timeout: int = 15  # seconds an agent's phone rings
    retry: int = 2
    maxlen: int = 0  # 0: unlimited waiting callers
    wrapuptime: int = 0
    number: str = ""  # the published number routed to this queue


@dataclass(frozen=True)
class AgentConfig:
    id: str
    name: str
    password: str = field(default="", repr=False)
    queues: tuple[str, ...] = ()
    contact: str = ""  # a fixed SIP URI (a desk phone); empty: the softphone registers


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    ami: AMIConfig = AMIConfig()
    database: DatabaseConfig = DatabaseConfig()
    log: LogConfig = LogConfig()
    service: ServiceConfig = ServiceConfig()
    metrics: MetricsConfig = MetricsConfig()
    lab: LabConfig = LabConfig()
    queues: tuple[QueueConfig, ...] = (QueueConfig(name="support", number="1000"),)
    # The lab's demo softphones; their passwords only ever open the loopback lab.
    agents: tuple[AgentConfig, ...] = (
        AgentConfig(id="agent1", name="Agent One", password="lab-agent1", queues=("support",)),  # noqa: S106
        AgentConfig(id="agent2", name="Agent Two", password="lab-agent2", queues=("support",)),  # noqa: S106
    )
    base_dir: Path = Path()  # relative paths in the file are taken from here

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url


QUEUE_STRATEGIES = {
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "linear",
    "wrandom",
    "rrordered",
}

_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "ami": AMIConfig,
    "database": DatabaseConfig,
    "log": LogConfig,
    "service": ServiceConfig,
    "metrics": MetricsConfig,
    "lab": LabConfig,
}
_CHOICES: dict[str, set[str]] = {
    "log.format": {"console", "json"},
    "log.level": {"debug", "info", "warning", "error"},
    "queues.strategy": QUEUE_STRATEGIES,
}


def _type_name(t: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(t, str(t))


def _coerce(key: str, value: Any, default: Any, problems: list[str]) -> Any:
    """Check one scalar against the type of its default."""
    t = type(default)
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if t is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{key}: must be a list of strings")
            return default
        return tuple(value)
    if not isinstance(value, t) or (t is not bool and isinstance(value, bool)):
        problems.append(f"{key}: must be {_type_name(t)}, got {type(value).__name__} {value!r}")
        return default
    return value


def _build(cls: type, data: Mapping[str, Any], prefix: str, problems: list[str]) -> Any:
    known = {f.name: f for f in fields(cls) if f.name != "base_dir"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}"
        if key not in known:
            problems.append(f"{full}: unknown key (known: {', '.join(sorted(known))})")
            continue
        f = known[key]
        # Every required field (a queue's name, an agent's id and name) is a string.
        default = "" if f.default is MISSING else f.default
        choice_key = f"{prefix.split('[')[0]}.{key}"
        value = _coerce(full, value, default, problems)
        if choice_key in _CHOICES and value not in _CHOICES[choice_key]:
            problems.append(
                f"{full}: {value!r} is not one of {', '.join(sorted(_CHOICES[choice_key]))}"
            )
        kwargs[key] = value
    for f in fields(cls):
        if f.name != "base_dir" and f.name not in kwargs and f.default is MISSING:
            problems.append(f"{prefix}.{f.name}: required")
    if any(p.startswith(f"{prefix}.") and p.endswith(": required") for p in problems):
        return None
    return cls(**kwargs)


def _check_values(cfg: Config, problems: list[str]) -> None:
    def positive(key: str, value: float) -> None:
        if value <= 0:
            problems.append(f"{key}: must be greater than 0, got {value}")

    def port(key: str, value: int, allow_zero: bool = False) -> None:
        if not (0 if allow_zero else 1) <= value <= 65535:
            problems.append(f"{key}: not a TCP/UDP port: {value}")

    if not NAME_RE.match(cfg.server.id):
        problems.append(f"server.id: {cfg.server.id!r} must be letters, digits, '-' or '_'")
    port("ami.port", cfg.ami.port)
    for k in (
        "connect_timeout",
        "action_timeout",
        "ping_interval",
        "reconnect_min",
        "reconnect_max",
    ):
        positive(f"ami.{k}", getattr(cfg.ami, k))
    if cfg.ami.reconnect_max < cfg.ami.reconnect_min:
        problems.append("ami.reconnect_max: must not be below ami.reconnect_min")
    if cfg.ami.max_frame_bytes < 4096:
        problems.append("ami.max_frame_bytes: must be at least 4096")
    if not cfg.database.url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        problems.append(
            "database.url: must start with sqlite:// or postgresql:// "
            f"(got {cfg.database.url.split(':', 1)[0]}://...)"
        )
    for k in ("batch_size", "flush_interval", "buffer_limit", "retry_min", "retry_max"):
        positive(f"database.{k}", getattr(cfg.database, k))
    try:
        ZoneInfo(cfg.service.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"service.timezone: unknown time zone {cfg.service.timezone!r}")
    if cfg.metrics.short_abandon_seconds < 0:
        problems.append("metrics.short_abandon_seconds: must not be negative")
    positive("metrics.service_level_seconds", cfg.metrics.service_level_seconds)
    for k in ("abandonment_rate_target", "busy_rate_target", "service_level_target"):
        if not 0 <= getattr(cfg.metrics, k) <= 1:
            problems.append(f"metrics.{k}: a fraction between 0 and 1 (e.g. 0.10 for 10%)")
    port("lab.sip_port", cfg.lab.sip_port, allow_zero=True)
    port("lab.ami_port", cfg.lab.ami_port, allow_zero=True)
    if not cfg.lab.trunk_address.startswith("127."):
        problems.append("lab.trunk_address: the lab only uses loopback addresses (127.x.x.x)")
    seen: set[str] = set()
    for i, q in enumerate(cfg.queues):
        if not NAME_RE.match(q.name):
            problems.append(f"queues[{i}].name: {q.name!r} must be letters, digits, '-' or '_'")
        if q.name in seen:
            problems.append(f"queues[{i}].name: queue {q.name!r} is declared twice")
        seen.add(q.name)
        if q.number and not q.number.isdigit():
            problems.append(f"queues[{i}].number: {q.number!r} must be digits")
        for k in ("timeout", "retry", "maxlen", "wrapuptime"):
            if getattr(q, k) < 0:
                problems.append(f"queues[{i}].{k}: must not be negative")
    agent_ids: set[str] = set()
    for i, a in enumerate(cfg.agents):
        if not NAME_RE.match(a.id):
            problems.append(f"agents[{i}].id: {a.id!r} must be letters, digits, '-' or '_'")
        if a.id in agent_ids:
            problems.append(f"agents[{i}].id: agent {a.id!r} is declared twice")
        agent_ids.add(a.id)
        for qname in a.queues:
            if qname not in seen:
                problems.append(f"agents[{i}].queues: agent {a.id!r} names unknown queue {qname!r}")
        if not a.contact and not a.password:
            problems.append(
                f"agents[{i}].password: agent {a.id!r} registers, so it needs a password"
            )


def parse_config(
    data: Mapping[str, Any], *, base_dir: Path = Path(), source: str = "config"
) -> Config:
    problems: list[str] = []
    kwargs: dict[str, Any] = {"base_dir": base_dir}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"{key}: must be a table ([{key}])")
                continue
            kwargs[key] = _build(_SECTIONS[key], value, key, problems)
        elif key in ("queues", "agents"):
            cls = QueueConfig if key == "queues" else AgentConfig
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(f"{key}: must be an array of tables ([[{key}]])")
                continue
            items = [_build(cls, v, f"{key}[{i}]", problems) for i, v in enumerate(value)]
            kwargs[key] = tuple(x for x in items if x is not None)
        else:
            problems.append(
                f"{key}: unknown section (known: {', '.join([*_SECTIONS, 'queues', 'agents'])})"
            )
    if problems:
        raise ConfigError(problems, source)
    cfg = Config(**kwargs)
    _check_values(cfg, problems)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def load_config(path: str | Path | None = None) -> Config:
    """Load the file at ``path`` (or $CALLCENTER_CONFIG); no file at all means the defaults."""
    if path is None:
        env = os.environ.get(DEFAULT_CONFIG_ENV)
        if not env:
            return Config(base_dir=Path.cwd())
        path = env
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], str(p)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(p)) from None
    # Relative paths (database file, lab folder) are taken from the working directory,
    # like the embedded defaults, so one checkout behaves the same with or without a file.
    return parse_config(data, base_dir=Path.cwd(), source=str(p))
