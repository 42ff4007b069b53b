"""GET /call-records (a page) and /call-records/export (CSV, every row): the calls
behind the figures, for supervisors and auditors."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.metrics.detail import COLUMNS, FLAGS, CallFilter, query_calls
from callcenter.web.api import PREFIX, endpoint
from callcenter.web.auth import READERS
from callcenter.web.call_records.models import CallQuery, CallRows, ExportQuery
from callcenter.web.errors import ApiError, invalid
from callcenter.web.pbxside import PbxArea

EXPORT_PAGE = 5000
BOM = "\ufeff"  # Excel reads a CSV with it as UTF-8, not as Shift_JIS


def _filter(q: CallQuery | ExportQuery) -> CallFilter:
    if q.to <= q.from_:
        raise invalid("to", "must be after from (the period is [from, to))")
    return CallFilter(
        q.from_.isoformat(),
        q.to.isoformat(),
        queue=q.queue,
        agent=q.agent,
        outcomes=tuple(dict.fromkeys(q.outcome)),
        caller=q.caller,
        server_id=q.server,
    )


class CallRecordRoutes(PbxArea):
    def _engine(self) -> Engine:
        if self.pbx.engine is None:
            raise ApiError(503, "the call detail needs the database", code="unavailable")
        return self.pbx.engine

    @endpoint(
        "GET",
        f"{PREFIX}/call-records",
        summary="The finished calls behind the figures, filtered, a page at a time",
        tag="figures",
        description="Oldest first. Each row says what it counts for (incoming, abandoned, "
        "busy, within_sl), by the same definitions as GET /metrics: for the same filters, "
        "sum(abandoned) / sum(incoming) is its abandonment_rate.",
        roles=READERS,
        query=CallQuery,
        ok=CallRows,
        errors={503: "the database is not available, or no PBX connection"},
    )
    async def list_calls(self, request: web.Request, query: CallQuery) -> CallRows:
        f = _filter(query)
        cfg = self.pbx.cfg.metrics
        try:
            rows, total = await asyncio.to_thread(
                query_calls, self._engine(), cfg, f, limit=query.limit, offset=query.offset
            )
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        return CallRows.model_validate(
            {
                "calls": rows,
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
                "service_level_seconds": cfg.service_level_seconds,
                "short_abandon_seconds": cfg.short_abandon_seconds,
            }
        )

    @endpoint(
        "GET",
        f"{PREFIX}/call-records/export",
        summary="The same calls as CSV (UTF-8 with a BOM, for Excel), every row",
        tag="figures",
        roles=READERS,
        query=ExportQuery,
        raw_responses={
            "200": {
                "description": "CSV: a header row, then one row per call",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
        errors={503: "the database is not available, or no PBX connection"},
    )
    async def export(self, request: web.Request, query: ExportQuery) -> web.StreamResponse:
        f = _filter(query)
        engine, cfg = self._engine(), self.pbx.cfg.metrics
        name = f"calls-{f.day_from}-{f.day_to}.csv"
        try:
            first, _ = await asyncio.to_thread(
                query_calls, engine, cfg, f, limit=EXPORT_PAGE, offset=0
            )
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        answer = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}"',
            }
        )
        await answer.prepare(request)
        await answer.write((BOM + _csv([(*COLUMNS, *FLAGS)])).encode("utf-8"))
        page, offset = first, 0
        while page:
            await answer.write(
                _csv([[_cell(r[k]) for k in (*COLUMNS, *FLAGS)] for r in page]).encode()
            )
            if len(page) < EXPORT_PAGE:
                break
            offset += EXPORT_PAGE
            page, _ = await asyncio.to_thread(
                query_calls, engine, cfg, f, limit=EXPORT_PAGE, offset=offset
            )
        await answer.write_eof()
        return answer


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return int(value)  # 1/0: sums in a spreadsheet
    return "" if value is None else value


def _csv(rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
