"""The HTTP API (JSON over aiohttp): ``make_app(ApiDeps(...))`` gives the application.

- ``callcenter.web.app``: ``ApiDeps``, ``make_app``.
- ``callcenter.web.auth``: bearer tokens (``TokenStore``, ``Principal``, roles).
- ``callcenter.web.errors``: every error as ``{"error": {"code", "message", "field"?}}``.
- ``callcenter.web.validation``: bodies and query strings, refused with the field named.
- ``callcenter.web.incidents``: the incident routes; ``callcenter.web.openapi``: their
  description, served at ``GET /api/v1/openapi.json``.
- ``callcenter.web.pbx``: queues, agents, calls, parking, transfers, call figures and the
  service mode; ``callcenter.web.views``: the JSON they answer with (pure), which
  ``callcenter.web.live``'s ``LiveHub`` pushes on the websocket ``GET /api/v1/live``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.web.app import live_hub, make_app
    from callcenter.web.auth import ROLES, ApiToken, Principal, Role, TokenStore
    from callcenter.web.deps import ApiDeps, PbxDeps
    from callcenter.web.errors import ApiError
    from callcenter.web.live import LIVE_HUB, LiveHub

# Imported on first use, so ``callcenter.web.settings`` (the [http] section, which the
# configuration imports) does not pull in the application.
_HOMES = {
    "live_hub": "app", "make_app": "app",
    "ROLES": "auth", "ApiToken": "auth", "Principal": "auth", "Role": "auth", "TokenStore": "auth",
    "ApiDeps": "deps", "PbxDeps": "deps",
    "ApiError": "errors",
    "LIVE_HUB": "live", "LiveHub": "live",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"callcenter.web.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LIVE_HUB",
    "ROLES",
    "ApiDeps",
    "ApiError",
    "ApiToken",
    "LiveHub",
    "PbxDeps",
    "Principal",
    "Role",
    "TokenStore",
    "live_hub",
    "make_app",
]
