"""Webhook settings: where incidents are mirrored, how hard we try, and the signing secret."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_EVENTS = ("incident.created", "incident.escalated", "incident.resolved")


@dataclass(frozen=True)
class WebhookSettings:
    urls: tuple[str, ...] = ()
    secret: str = field(default="", repr=False)
    secret_env: str = "CALLCENTER_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
    timeout: float = 5.0  # seconds for one whole POST, connect to last byte
    retry_min: float = 1.0
    retry_max: float = 300.0
    # 20 attempts with a 300 s ceiling keep retrying for 30 to 60 minutes (jitter), long
    # enough to ride out a vendor's deploy or a short outage before a row goes dead.
    max_attempts: int = 20
    events: tuple[str, ...] = DEFAULT_EVENTS

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env, "") or self.secret

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def problems(
        self, prefix: str = "webhooks", environ: Mapping[str, str] | None = None
    ) -> list[str]:
        """Every invalid value, each message naming its key (as config.py reports them)."""
        out: list[str] = []
        for i, url in enumerate(self.urls):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                out.append(f"{prefix}.urls[{i}]: not an http(s) URL")
        if len(set(self.urls)) != len(self.urls):
            out.append(f"{prefix}.urls: a URL is listed twice")
        if self.urls and not self.resolved_secret(environ):
            out.append(f"{prefix}.secret: required when urls are set (or set ${self.secret_env})")
        for key in ("timeout", "retry_min", "retry_max"):
            if getattr(self, key) <= 0:
                out.append(f"{prefix}.{key}: must be greater than 0")
        if self.retry_max < self.retry_min:
            out.append(f"{prefix}.retry_max: must not be below {prefix}.retry_min")
        if self.max_attempts < 1:
            out.append(f"{prefix}.max_attempts: must be at least 1")
        for i, name in enumerate(self.events):
            if not name or len(name) > 80:
                out.append(f"{prefix}.events[{i}]: 1 to 80 characters")
        return out
