"""Secrets never reach the log output."""

from __future__ import annotations

import io
import json

import structlog

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
