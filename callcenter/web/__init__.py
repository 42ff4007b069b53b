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

from callcenter.web.app import live_hub, make_app
from callcenter.web.auth import ROLES, ApiToken, Principal, Role, TokenStore
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import ApiError
from callcenter.web.live import LIVE_HUB, LiveHub

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
