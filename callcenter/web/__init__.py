"""The HTTP API (JSON over aiohttp): ``make_app(ApiDeps(...))`` gives the application.

- ``callcenter.web.app``: ``ApiDeps``, ``make_app``.
- ``callcenter.web.auth``: bearer tokens (``TokenStore``, ``Principal``, roles).
- ``callcenter.web.errors``: every error as ``{"error": {"code", "message", "field"?}}``.
- ``callcenter.web.validation``: bodies and query strings, refused with the field named.
- ``callcenter.web.incidents``: the incident routes; ``callcenter.web.openapi``: their
  description, served at ``GET /api/v1/openapi.json``.
"""

from callcenter.web.app import ApiDeps, PbxDeps, make_app
from callcenter.web.auth import ROLES, ApiToken, Principal, Role, TokenStore
from callcenter.web.errors import ApiError

__all__ = [
    "ROLES",
    "ApiDeps",
    "ApiError",
    "ApiToken",
    "PbxDeps",
    "Principal",
    "Role",
    "TokenStore",
    "make_app",
]
