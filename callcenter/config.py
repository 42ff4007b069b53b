"""Configuration: one TOML file -> validated, frozen settings.

Each section's settings live beside the package they tune (``callcenter/*/settings.py``,
the number plan in ``callcenter/dialplan/settings.py``); this module reads the file,
lays the ``CALLCENTER_<SECTION>__<KEY>`` variables over it, and assembles the root.

Every default lives in the section models, and ``callcenter/callcenter.example.toml``
(shipped in the package; ``callcenter example-config`` prints it) documents the same
values (a unit test keeps the two in step), so ``callcenter run`` with no file runs on
these embedded defaults: the local lab Asterisk and a SQLite file.

Validation collects every problem before failing, and each message names the key
(``callcenter.settings_base``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from callcenter.ami.settings import AMIConfig
from callcenter.cluster.settings import ClusterSettings
from callcenter.dialplan.settings import NumberPlan
from callcenter.followups.settings import FollowupsConfig
from callcenter.incidents.settings import IncidentsConfig
from callcenter.lab.settings import LabConfig
from callcenter.logging import LogConfig
from callcenter.metrics.settings import MetricsConfig
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.prompts.settings import PromptsConfig
from callcenter.reports.settings import ReportsConfig
from callcenter.schedule.settings import ServiceConfig
from callcenter.settings_base import ConfigError, Name, Settings, validate
from callcenter.store.settings import DatabaseConfig, RetentionConfig
from callcenter.web.settings import HttpConfig
from callcenter.webhooks.settings import WebhookSettings

__all__ = [
    "Config",
    "ConfigError",
    "ServerConfig",
    "example_config_text",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_ENV = "CALLCENTER_CONFIG"
EXAMPLE_NAME = "callcenter.example.toml"


def example_config_text() -> str:
    """The documented example (every key with its default), from the installed package:
    a wheel has no source tree, so this is how a site gets a file to start from."""
    return files("callcenter").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


class ServerConfig(Settings):
    id: Name = "lab"  # stored with every event: several daemons may share one database


class Config(NumberPlan):
    """The whole file: the number plan's sections at the top level, and a table each
    for the rest."""

    server: ServerConfig = ServerConfig()
    ami: AMIConfig = AMIConfig()
    database: DatabaseConfig = DatabaseConfig()
    log: LogConfig = LogConfig()
    service: ServiceConfig = ServiceConfig()
    metrics: MetricsConfig = MetricsConfig()
    lab: LabConfig = LabConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    http: HttpConfig = HttpConfig()
    webhooks: WebhookSettings = WebhookSettings()
    pbx_record: PbxRecordSettings = PbxRecordSettings()
    reports: ReportsConfig = ReportsConfig()
    followups: FollowupsConfig = FollowupsConfig()
    cluster: ClusterSettings = ClusterSettings()
    retention: RetentionConfig = RetentionConfig()
    prompts: PromptsConfig = PromptsConfig()
    # Relative paths in the file are taken from here (not a key of the file).
    base_dir: Annotated[Path, Field(exclude=True)] = Path()

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    def sounds_dir(self) -> Path:
        """The site's own prompts, absolute: the dialplan names them by this path."""
        return self.path(self.prompts.dir).resolve()

    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url


# The sections that are tables ([ami]); CALLCENTER_<SECTION>__<KEY> overrides their keys.
TABLES = tuple(
    name
    for name, f in Config.model_fields.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, Settings)
)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path = Path(),
    source: str = "config",
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Every problem at once (``ConfigError``), each naming its key."""
    env = os.environ if environ is None else environ
    hidden = [k for k in data if k == "base_dir"]
    cfg, problems = validate(
        Config,
        {k: v for k, v in data.items() if k not in hidden},
        environ=env,
        extra={"base_dir": base_dir},
    )
    problems += [f"{k}: unknown section" for k in hidden]
    if cfg is None or problems:
        raise ConfigError(problems, source)
    return cfg


ENV_PREFIX = "CALLCENTER_"


def env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    """``CALLCENTER_<SECTION>__<KEY>=value`` over the file, for systemd and containers
    (``CALLCENTER_DATABASE__URL=postgresql://...``). A value is read as TOML when it is
    one (``8081``, ``true``, ``["mon-fri 08:30-18:15"]``), else as a string; the model
    then checks it like a value of the file."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in TABLES or not key:
            known = ", ".join(s.upper() for s in TABLES)
            problems.append(f"{name}: not <SECTION>__<KEY> of a section ({known})")
            continue
        value: Any = raw
        # A secret is always a string: never parsed, so no error message can echo it.
        if not key.endswith("secret"):
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            continue  # reported by parse_config as a bad section
        table[key] = value
    return out


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the file at ``path`` (or $CALLCENTER_CONFIG; none at all means the defaults),
    with the ``CALLCENTER_<SECTION>__<KEY>`` variables of the environment over it."""
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(DEFAULT_CONFIG_ENV) or None
    if path is None:
        return _with_env({}, env, "defaults")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], str(p)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(p)) from None
    return _with_env(data, env, str(p))


def _with_env(data: dict[str, Any], env: Mapping[str, str], source: str) -> Config:
    problems: list[str] = []
    merged = env_overrides(data, env, problems)
    if problems:
        raise ConfigError(problems, source)
    # Relative paths (database file, lab folder) are taken from the working directory,
    # like the embedded defaults, so one checkout behaves the same with or without a file.
    return parse_config(merged, base_dir=Path.cwd(), source=source, environ=env)
