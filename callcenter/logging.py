"""structlog set-up: console or JSON lines, with secrets scrubbed from every event."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

from callcenter.settings_base import Settings


class LogConfig(Settings):
    """[log]: how the daemon and the commands log."""

    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


_SECRET_KEYS = re.compile(r"secret|password|token|passwd|authorization", re.I)
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Any log value containing this text is masked (e.g. the AMI secret in an error string)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def _scrub(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key):
            event[key] = "***"
        elif isinstance(value, str) and _secrets:
            for s in _secrets:
                if s in value:
                    value = value.replace(s, "***")
            event[key] = value
    return event


def setup_logging(fmt: str = "console", level: str = "info", stream: Any = None) -> None:
    lvl = getattr(logging, level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
