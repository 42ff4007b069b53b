"""Webhook settings: the secret comes from the environment first and is never shown."""

from __future__ import annotations

from typing import Any

from callcenter.settings_base import validate
from callcenter.webhooks.settings import WebhookSettings


def problems_of(data: dict[str, Any], environ: dict[str, str]) -> list[str]:
    return validate(WebhookSettings, data, environ=environ, prefix=("webhooks",))[1]


def test_secret_from_environment_first_and_hidden_from_repr() -> None:
    s = WebhookSettings(urls=("https://vendor.example/hook",), secret="from-file-secret")
    assert s.resolved_secret({}) == "from-file-secret"
    assert s.resolved_secret({"CALLCENTER_WEBHOOK_SECRET": "from-env"}) == "from-env"
    assert s.resolved_secret({"CALLCENTER_WEBHOOK_SECRET": ""}) == "from-file-secret"
    assert "from-file-secret" not in repr(s)
    assert s.enabled
    assert not WebhookSettings().enabled


def test_defaults_are_valid_and_name_the_incident_events() -> None:
    s = WebhookSettings()
    assert problems_of({}, environ={}) == []
    assert s.events == ("incident.created", "incident.escalated", "incident.resolved")
    assert (s.timeout, s.retry_min, s.retry_max, s.max_attempts) == (5.0, 1.0, 300.0, 20)


def test_problems_name_each_bad_key() -> None:
    s: dict[str, Any] = dict(
        urls=["ftp://x/", "https://ok.example/h?token=abc", "https://ok.example/h?token=abc"],
        timeout=0,
        retry_min=2,
        retry_max=1,
        max_attempts=0,
        events=[""],
    )
    problems = problems_of(s, environ={})
    assert problems == [
        "webhooks.urls[0]: not an http(s) URL",
        "webhooks.urls: a URL is listed twice",
        "webhooks.secret: required when urls are set (or set $CALLCENTER_WEBHOOK_SECRET)",
        "webhooks.timeout: must be greater than 0",
        "webhooks.retry_max: must not be below webhooks.retry_min",
        "webhooks.max_attempts: must be at least 1",
        "webhooks.events[0]: 1 to 80 characters",
    ]
    assert not any("token=abc" in p for p in problems)
    with_secret = problems_of(s, environ={"CALLCENTER_WEBHOOK_SECRET": "x" * 16})
    assert not any(p.startswith("webhooks.secret") for p in with_secret)
