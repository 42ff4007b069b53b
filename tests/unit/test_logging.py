"""Secrets never reach the log output."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from callcenter.logging import register_secret, setup_logging


def test_secret_values_and_keys_are_masked() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    register_secret("s3cr3t-value")
    log = structlog.get_logger("t")
    log.info("ami.login", secret="s3cr3t-value", user="callcenter")
    log.warning("ami.error", error="login with s3cr3t-value refused", password="pw")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "s3cr3t-value" not in out.getvalue()
    assert lines[0]["secret"] == "***"
    assert lines[0]["user"] == "callcenter"
    assert lines[1]["error"] == "login with *** refused"
    assert lines[1]["password"] == "***"


def test_json_keeps_japanese_readable() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    structlog.get_logger("t").info("call.in", caller="山田 太郎")
    assert "山田 太郎" in out.getvalue()


def test_level_filters() -> None:
    out = io.StringIO()
    setup_logging("console", "warning", stream=out)
    structlog.get_logger("t").info("quiet")
    structlog.get_logger("t").warning("loud")
    assert "quiet" not in out.getvalue()
    assert "loud" in out.getvalue()


@pytest.fixture(autouse=True)
def _restore_stdlib_logging() -> Iterator[None]:
    """setup_logging changes the root logger and the warnings hook: give them back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # And structlog's: a test that logged to its captured stderr must not leave later
    # tests printing to that stream once it is closed.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.NOTSET)


def _json_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_stdlib_loggers_are_json_lines() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    register_secret("stdlib-s3cr3t")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade %s -> %s", "1", "2")
    logging.getLogger("sqlalchemy.pool").warning("pool %s", "with stdlib-s3cr3t in it")
    try:
        raise RuntimeError("kaboom")
    except RuntimeError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    logging.getLogger("quiet.lib").debug("below the level")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.types")
    lines = _json_lines(out)
    assert [(ln["logger"], ln["level"]) for ln in lines] == [
        ("alembic.runtime.migration", "info"),
        ("sqlalchemy.pool", "warning"),
        ("aiohttp.server", "error"),
    ]
    assert lines[0]["event"] == "Running upgrade 1 -> 2"
    assert lines[1]["event"] == "pool with *** in it"
    assert "RuntimeError: kaboom" in lines[2]["exception"]
    assert "stdlib-s3cr3t" not in out.getvalue()


def test_a_second_setup_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("json", "info", stream=first)
    setup_logging("json", "info", stream=second)
    logging.getLogger("apscheduler.scheduler").info("once")
    assert first.getvalue() == ""
    assert [ln["event"] for ln in _json_lines(second)] == ["once"]


async def test_apscheduler_and_asyncio_lines_are_json() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    sched = AsyncIOScheduler(timezone="UTC")
    sched.add_job(lambda: None, "date", run_date=datetime.now(UTC) + timedelta(milliseconds=50))
    sched.start()
    await asyncio.sleep(0.3)
    sched.shutdown(wait=False)
    loop = asyncio.get_running_loop()
    loop.call_exception_handler({"message": "Task exception was never retrieved"})
    lines = _json_lines(out)
    loggers = {ln["logger"] for ln in lines}
    assert {"apscheduler.scheduler", "apscheduler.executors.default", "asyncio"} <= loggers
    assert any(ln["event"] == "Scheduler started" for ln in lines)


def test_warnings_are_json_lines() -> None:
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        setup_logging("json", "info", stream=out)
        warnings.warn("this call is deprecated", DeprecationWarning, stacklevel=1)
    (line,) = _json_lines(out)
    assert line["logger"] == "py.warnings"
    assert "DeprecationWarning: this call is deprecated" in line["event"]


def test_console_renders_stdlib_records_too() -> None:
    out = io.StringIO()
    setup_logging("console", "info", stream=out)
    logging.getLogger("aiohttp.access").info("http.access", extra={"path": "/x", "status": 200})
    text = out.getvalue()
    assert "http.access" in text
    assert "path=/x" in text
    assert "status=200" in text


def test_a_daemon_crash_is_one_json_line_with_its_traceback_masked(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug that escapes the daemon: logged like everything else, not a bare traceback."""
    from callcenter import cli

    secret = "Zq7-crash-secret"
    register_secret(secret)

    async def crash(_cfg: object) -> int:
        raise RuntimeError(f"login with {secret} went wrong")

    monkeypatch.setattr(cli, "_run_daemon", crash)
    config = tmp_path / "callcenter.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "cc.db"}"\n[log]\nformat = "json"\n',
        encoding="utf-8",
    )
    assert cli.main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    [crashed] = [e for e in lines if e["event"] == "daemon.crashed"]
    assert crashed["level"] == "critical"
    assert "Traceback" in crashed["exception"]
    assert "RuntimeError: login with *** went wrong" in crashed["exception"]
    assert secret not in err
