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


# The fields the HTTP access log passes as ``extra`` (callcenter.web.access).
ACCESS_FIELDS = ("method", "path", "status", "bytes", "duration_ms", "remote")

_handler: logging.Handler | None = None


def setup_logging(fmt: str = "console", level: str = "info", stream: Any = None) -> None:
    """structlog for our own events, and every stdlib logger (aiohttp, apscheduler,
    alembic, asyncio, sqlalchemy, py.warnings) through the same processors and renderer,
    so with ``json`` every line is one JSON object."""
    global _handler
    lvl = getattr(logging, level.upper())
    out = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks are made text before the scrub: an exception's message may quote a
    # secret (a connection string, a refused login) as well as any field may.
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _scrub, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Other libraries log through the standard library: one handler on the root logger
    # renders their records with structlog's processors (ours replaces the one installed
    # before, and leaves any other handler, e.g. pytest's, alone).
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(allow=ACCESS_FIELDS),
            _scrub,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(lvl)
    _handler = handler
    # Alembic names each of its plugins at INFO on every start: seven lines of noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(lvl, logging.WARNING))
    # warnings.warn() (deprecations from a library, say) as log records, not bare text.
    logging.captureWarnings(True)
