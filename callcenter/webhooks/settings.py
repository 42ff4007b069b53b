"""Webhook settings: where incidents are mirrored, how hard we try, and the signing secret."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from callcenter.settings_base import Problem, Settings

DEFAULT_EVENTS = ("incident.created", "incident.escalated", "incident.resolved")


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")  # never the URL: it may carry a token
    return url


def _event_name(name: str) -> str:
    if not 1 <= len(name) <= 80:
        raise ValueError("1 to 80 characters")
    return name


class WebhookSettings(Settings):
    urls: tuple[Annotated[str, AfterValidator(_http_url)], ...] = ()
    secret: str = Field(default="", repr=False)
    secret_env: str = "CALLCENTER_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
    timeout: Annotated[float, Field(gt=0)] = 5.0  # seconds for one POST, connect to last byte
    retry_min: Annotated[float, Field(gt=0)] = 1.0
    retry_max: Annotated[float, Field(gt=0)] = 300.0
    # 20 attempts with a 300 s ceiling keep retrying for 30 to 60 minutes (jitter), long
    # enough to ride out a vendor's deploy or a short outage before a row goes dead.
    max_attempts: Annotated[int, Field(ge=1)] = 20
    events: tuple[Annotated[str, AfterValidator(_event_name)], ...] = DEFAULT_EVENTS

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env, "") or self.secret

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if len(set(self.urls)) != len(self.urls):
            yield Problem(("urls",), "a URL is listed twice")
        if self.urls and not self.resolved_secret(environ):
            yield Problem(("secret",), f"required when urls are set (or set ${self.secret_env})")
        if self.retry_max < self.retry_min:
            yield Problem(("retry_max",), "must not be below webhooks.retry_min")
