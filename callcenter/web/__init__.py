"""The HTTP API (JSON over aiohttp): ``make_app(ApiDeps(...))`` gives the application.

- ``callcenter.web.api``: routes declared once with their pydantic models; from that one
  declaration come the validation (a 422 naming the field), the answer and the OpenAPI.
- ``callcenter.web.app``: ``make_app``; ``callcenter.web.deps``: ``ApiDeps``, ``PbxDeps``.
- ``callcenter.web.auth``: bearer tokens (``TokenStore``, ``Principal``, roles), sessions.
- ``callcenter.web.errors``: every error as ``{"error": {"code", "message", "field"?}}``.
- One subpackage per API area, with its routes and models: ``incidents``, ``queues``,
  ``agents``, ``calls``, ``figures``, ``service_mode``; ``callcenter.web.openapi``
  generates their document, served at ``GET /api/v1/openapi.json``.
- ``callcenter.web.views``: the PBX as JSON (pure), which the PBX areas answer with and
  ``callcenter.web.live``'s ``LiveHub`` pushes on the websocket ``GET /api/v1/live``.
"""

# Nothing is imported here: ``callcenter.web.settings`` (the [http] section, which the
# configuration reads) must not pull in the application.
