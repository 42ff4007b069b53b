"""The API's OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``: generated
from every area's endpoints and models (``callcenter.web.api.document``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web

from callcenter.web.agents.routes import AgentRoutes
from callcenter.web.api import PREFIX, Endpoint, endpoint
from callcenter.web.api.document import document
from callcenter.web.api.endpoint import endpoints_of
from callcenter.web.audit.routes import AuditRoutes
from callcenter.web.auth import ROLES
from callcenter.web.call_records.routes import CallRecordRoutes
from callcenter.web.calls.routes import CallRoutes
from callcenter.web.errors import json_response
from callcenter.web.figures.routes import FigureRoutes
from callcenter.web.followups.routes import FollowupRoutes
from callcenter.web.incidents import AREAS as INCIDENT_AREAS
from callcenter.web.live_route import LiveRoutes
from callcenter.web.queues.routes import QueueRoutes
from callcenter.web.reports.routes import ActionRoutes, ReportRoutes
from callcenter.web.service_mode.routes import ServiceModeRoutes

# The areas that need the daemon's PBX side (without it, their routes answer 503).
PBX_AREAS = (
    QueueRoutes,
    AgentRoutes,
    CallRoutes,
    FigureRoutes,
    CallRecordRoutes,
    ReportRoutes,
    ActionRoutes,
    ServiceModeRoutes,
    FollowupRoutes,
)

DESCRIPTION = (
    'Errors are always {"error": {"code", "message", "field"?}}; field names the refused '
    f"input. Bearer tokens with a role: {', '.join(ROLES)}; an agent acts only on itself, "
    "its own calls and its own incidents."
)


class MetaRoutes:
    @endpoint(
        "GET",
        f"{PREFIX}/openapi.json",
        summary="This description",
        tag="meta",
        public=True,
        security=(),
        raw_responses={
            "200": {
                "description": "The OpenAPI 3.1 document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def openapi_json(self, request: web.Request) -> web.Response:
        return json_response(openapi())


def all_endpoints() -> list[Endpoint]:
    out: list[Endpoint] = []
    for area in (MetaRoutes, *INCIDENT_AREAS, AuditRoutes, *PBX_AREAS, LiveRoutes):
        out.extend(endpoints_of(area))
    return out


@cache
def openapi() -> dict[str, Any]:
    return document(all_endpoints(), title="callcenter API", description=DESCRIPTION)
