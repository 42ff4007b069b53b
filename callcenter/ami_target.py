"""Where the daemon reaches the PBX: its AMI (the running lab, or the configured manager)
and the files of its own record (CEL, queue_log)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from callcenter.ami.settings import AMITarget
from callcenter.config import Config
from callcenter.lab import Lab
from callcenter.pbxrecord.settings import DEFAULT_CEL_FILE, DEFAULT_QUEUE_LOG
from callcenter.settings_base import ConfigError

__all__ = ["AMITarget", "cel_path", "queue_log_path", "resolve_ami_target"]


def resolve_ami_target(cfg: Config, environ: Mapping[str, str] | None = None) -> AMITarget:
    """Where to connect: the running lab (``ami.use_lab``) or the configured manager."""
    if cfg.ami.use_lab:
        st = Lab(cfg).running()
        if st is None:
            raise ConfigError(
                [
                    "ami.use_lab: the lab Asterisk is not running; start it with "
                    "`callcenter lab up`, or set ami.use_lab = false and ami.host/port"
                ]
            )
        return AMITarget("127.0.0.1", st.ami_port, st.ami_username, st.ami_secret)
    secret = cfg.ami.resolved_secret(environ)
    if not secret:
        raise ConfigError(
            [f"ami.secret: empty; set ${cfg.ami.secret_env} or ami.secret in the config file"]
        )
    return AMITarget(cfg.ami.host, cfg.ami.port, cfg.ami.username, secret)


def cel_path(cfg: Config) -> Path:
    """The CEL file of the PBX record (docs/decisions/0009-pbx-record.md)."""
    if cfg.pbx_record.cel_file:
        return cfg.path(cfg.pbx_record.cel_file)
    if cfg.ami.use_lab:
        return Lab(cfg).work / "log" / "cel-custom" / "callcenter.csv"
    return Path(DEFAULT_CEL_FILE)


def queue_log_path(cfg: Config) -> Path:
    """Asterisk's queue_log (docs/decisions/0016-queue-log.md)."""
    if cfg.pbx_record.queue_log_file:
        return cfg.path(cfg.pbx_record.queue_log_file)
    if cfg.ami.use_lab:
        return Lab(cfg).work / "log" / "queue_log"
    return Path(DEFAULT_QUEUE_LOG)
