"""Every change made through the API, recorded after it ran with who asked, their role,
what, on what, with what, and the status it got (``audit_middleware``); and read by
supervisors and auditors (``GET /audit``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.exc import SQLAlchemyError

from callcenter.store.audit import AuditEntry, AuditFilter, AuditLog
from callcenter.web.api import PREFIX, endpoint
from callcenter.web.api.endpoint import AUDIT_DETAIL, endpoint_of
from callcenter.web.audit.models import AuditEntries, AuditEntryJson, AuditQuery
from callcenter.web.auth import PRINCIPAL, READERS
from callcenter.web.deps import ApiDeps
from callcenter.web.errors import ApiError, invalid

log = structlog.get_logger("callcenter.web")


def audit_middleware(audit: AuditLog, clock: Callable[[], datetime]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        ep = endpoint_of(request.match_info.handler)
        who = request.get(PRINCIPAL)
        if ep is None or ep.method == "GET":
            return response  # a read, or a page
        if who is None:
            # A public route changes something only when its own check passed (the
            # second line's signed answer): recorded as that party. Refused ones are not
            # anyone's change, and anyone could fill the trail with them.
            if not ep.public or response.status >= 400:
                return response
            actor, role = ep.tag, "signed"
        else:
            actor, role = who.actor, who.role
        entry = AuditEntry(
            at=clock(),
            actor=actor,
            role=role,
            action=f"{ep.tag}.{ep.name}",
            target=",".join(f"{k}={v}" for k, v in request.match_info.items()),
            result=response.status,
            via="api" if request.headers.get("Authorization") else "page",
            detail=request.get(AUDIT_DETAIL) or {},
        )
        try:
            await asyncio.to_thread(audit.append, entry)
        except SQLAlchemyError as exc:
            # The action is done; its trace is what is missing: said loudly.
            log.error("audit.not_written", action=entry.action, error=type(exc).__name__)
        return response

    return middleware


class AuditRoutes:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps

    @endpoint(
        "GET",
        f"{PREFIX}/audit",
        summary="The audit trail: who changed what, newest first",
        tag="audit",
        description="Every change made through the API, the pages and the command line "
        "(agents' log-ins and pauses, the service mode, parking and transfers, incidents, "
        "tokens, report notes), with its result. Append-only.",
        roles=READERS,
        query=AuditQuery,
        ok=AuditEntries,
        errors={503: "the audit trail is not available here"},
    )
    async def audit(self, request: web.Request, query: AuditQuery) -> AuditEntries:
        if self.deps.audit is None:
            raise ApiError(503, "this server keeps no audit trail", code="unavailable")
        if query.from_ and query.to and query.to <= query.from_:
            raise invalid("to", "must be after from")
        f = AuditFilter(
            actor=query.actor,
            action=query.action,
            since=query.from_,
            until=query.to,
            limit=query.limit,
            offset=query.offset,
        )
        try:
            entries, total = await asyncio.to_thread(self.deps.audit.query, f)
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        return AuditEntries(
            entries=[AuditEntryJson.model_validate(asdict(e)) for e in entries],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )
