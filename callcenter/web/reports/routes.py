"""The monthly report for supervisors and auditors: made on request in any form, and
the forms the daemon made and kept on the first operating day of each month."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.incidents.figures import IncidentTargets
from callcenter.reports.actions import ActionNotFound, ImprovementActions
from callcenter.reports.archive import MONTHLY, ReportArchive
from callcenter.reports.delivery import MIME
from callcenter.reports.forms import MonthlyForms
from callcenter.reports.months import month_bounds
from callcenter.reports.providers import providers_for
from callcenter.reports.trend import build_trend, trend_dict
from callcenter.web.api import PREFIX, PathParam, Reply, endpoint
from callcenter.web.auth import READERS, STAFF, principal
from callcenter.web.errors import ApiError, invalid
from callcenter.web.pbxside import PbxArea
from callcenter.web.reports.models import (
    Action,
    ActionChange,
    ActionIn,
    Actions,
    Archive,
    FormQuery,
    OneAction,
    StoredForm,
    StoredQuery,
    Trend,
    TrendQuery,
)

MONTH = PathParam("month", r"\d{4}-\d{2}", {"type": "string"}, "YYYY-MM")
FORMAT = PathParam("format", r"xlsx|pdf|html|csv|json", {"type": "string"}, "the form")
_FILE_ANSWER = {
    "200": {
        "description": "The report in the form asked for",
        "content": {
            f"{MIME[f][0]}/{MIME[f][1]}": {"schema": {"type": "string", "format": "binary"}}
            for f in MIME
        },
    }
}
_DB = {503: "the database is not available, or no PBX connection"}


def _month(request: web.Request) -> str:
    month = request.match_info["month"]
    try:
        month_bounds(month)
    except ValueError as exc:
        raise invalid("month", str(exc).removeprefix("--month: ")) from None
    return month


def _file(content: bytes, fmt: str, name: str) -> web.Response:
    maintype, subtype, ext = MIME[fmt]
    # The HTML form is shown in the page; the others are downloaded.
    how = "inline" if fmt == "html" else "attachment"
    return web.Response(
        body=content,
        headers={
            "Content-Type": f"{maintype}/{subtype}"
            + ("; charset=utf-8" if maintype == "text" else ""),
            "Content-Disposition": f'{how}; filename="{name}.{ext}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


class ReportRoutes(PbxArea):
    def _engine(self) -> Engine:
        if self.pbx.engine is None:
            raise ApiError(503, "reports need the database", code="unavailable")
        return self.pbx.engine

    def forms(self) -> MonthlyForms:
        cfg = self.pbx.cfg
        return MonthlyForms(
            self._engine(),
            cfg.service,
            cfg.metrics,
            IncidentTargets.from_config(cfg.incidents),
            lambda: datetime.now(UTC),
            providers_for(cfg.server.id, cfg.queues),
            same_name_queues=cfg.cluster.same_name_queues,
        )

    @endpoint(
        "GET",
        f"{PREFIX}/reports/monthly/{{month}}",
        summary="The monthly operations report (月次運用報告書), made now",
        tag="reports",
        description="Every figure of the contract for the month, with its target, met or "
        "not, as xlsx, PDF, HTML, CSV (UTF-8 with a BOM) or JSON, in Japanese or English.",
        roles=READERS,
        params=(MONTH,),
        query=FormQuery,
        raw_responses=_FILE_ANSWER,
        errors=_DB,
    )
    async def monthly(self, request: web.Request, query: FormQuery) -> web.Response:
        month = _month(request)
        forms = self.forms()
        try:
            content = await asyncio.to_thread(forms.render, month, query.format, query.lang)
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        except ValueError as exc:  # a form this server cannot make
            raise invalid("format", str(exc).removeprefix("formats: ")) from None
        return _file(content, query.format, f"monthly-report-{month}-{query.lang}")

    @endpoint(
        "GET",
        f"{PREFIX}/reports/archive",
        summary="The reports the daemon made and kept, newest first",
        tag="reports",
        roles=READERS,
        ok=Archive,
        errors=_DB,
    )
    async def archive(self, request: web.Request) -> Archive:
        try:
            forms = await asyncio.to_thread(ReportArchive(self._engine()).forms, MONTHLY)
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        rows: list[dict[str, Any]] = [
            {
                "period": f.period,
                "format": f.format,
                "lang": f.lang,
                "size": f.size,
                "sha256": f.sha256,
                "made_at": f.made_at,
                "url": f"{PREFIX}/reports/archive/{f.period}/{f.format}?lang={f.lang}",
            }
            for f in forms
        ]
        return Archive(reports=[StoredForm.model_validate(r) for r in rows])

    @endpoint(
        "GET",
        f"{PREFIX}/reports/archive/{{month}}/{{format}}",
        summary="One kept report, as it was made and sent",
        tag="reports",
        roles=READERS,
        params=(MONTH, FORMAT),
        query=StoredQuery,
        raw_responses=_FILE_ANSWER,
        errors={404: "not kept (not made, or older than [reports] keep_months)", **_DB},
    )
    async def stored(self, request: web.Request, query: StoredQuery) -> web.Response:
        month, fmt = _month(request), request.match_info["format"]
        try:
            content = await asyncio.to_thread(
                ReportArchive(self._engine()).content, MONTHLY, month, fmt, query.lang
            )
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        if content is None:
            raise ApiError(404, f"no {fmt} report kept for {month} ({query.lang})")
        return _file(content, fmt, f"monthly-report-{month}-{query.lang}")


ACTION_ID = PathParam("id", r"[1-9]\d{0,17}", {"type": "integer", "minimum": 1}, "the action")


class ActionRoutes(PbxArea):
    """Improvement actions (改善施策): supervisors and admins write them for a month;
    auditors read them; each month's report prints its own."""

    def _actions(self) -> ImprovementActions:
        if self.pbx.engine is None:
            raise ApiError(503, "improvement actions need the database", code="unavailable")
        return ImprovementActions(self.pbx.engine)

    @endpoint(
        "GET",
        f"{PREFIX}/reports/monthly/{{month}}/actions",
        summary="The month's improvement actions (改善施策)",
        tag="reports",
        roles=READERS,
        params=(MONTH,),
        ok=Actions,
        errors=_DB,
    )
    async def list_actions(self, request: web.Request) -> Actions:
        month = _month(request)
        found = await asyncio.to_thread(self._actions().for_month, month)
        return Actions(actions=[Action.model_validate(a.to_dict()) for a in found])

    @endpoint(
        "POST",
        f"{PREFIX}/reports/monthly/{{month}}/actions",
        summary="Write an improvement action for the month",
        tag="reports",
        roles=STAFF,
        params=(MONTH,),
        body=ActionIn,
        body_required=True,
        ok=OneAction,
        status=201,
        ok_description="Written",
        errors=_DB,
    )
    async def add_action(self, request: web.Request, body: ActionIn) -> Reply:
        month = _month(request)
        who = principal(request)
        made = await asyncio.to_thread(
            self._actions().add,
            month,
            body.title,
            author=who.actor,
            at=datetime.now(UTC),
            body=body.body,
            owner=body.owner,
            status=body.status,
        )
        return Reply(OneAction(action=Action.model_validate(made.to_dict())), status=201)

    @endpoint(
        "PATCH",
        f"{PREFIX}/reports/actions/{{id}}",
        summary="Change an improvement action (its title, body, owner or status)",
        tag="reports",
        roles=STAFF,
        params=(ACTION_ID,),
        body=ActionChange,
        body_required=True,
        ok=OneAction,
        errors={404: "no such action", **_DB},
    )
    async def change_action(self, request: web.Request, body: ActionChange) -> OneAction:
        changes = {k: getattr(body, k) for k in body.model_fields_set}
        if not changes:
            raise ApiError(422, "nothing to change: give any of title, body, owner, status")
        try:
            changed = await asyncio.to_thread(
                self._actions().update,
                int(request.match_info["id"]),
                at=datetime.now(UTC),
                **changes,
            )
        except ActionNotFound as exc:
            raise ApiError(404, str(exc)) from None
        return OneAction(action=Action.model_validate(changed.to_dict()))

    @endpoint(
        "DELETE",
        f"{PREFIX}/reports/actions/{{id}}",
        summary="Remove an improvement action",
        tag="reports",
        roles=STAFF,
        params=(ACTION_ID,),
        ok=Actions,
        errors={404: "no such action", **_DB},
    )
    async def remove_action(self, request: web.Request) -> Actions:
        actions = self._actions()
        action_id = int(request.match_info["id"])
        try:
            gone = await asyncio.to_thread(actions.get, action_id)
            await asyncio.to_thread(actions.remove, action_id)
        except ActionNotFound as exc:
            raise ApiError(404, str(exc)) from None
        left = await asyncio.to_thread(actions.for_month, gone.month)
        return Actions(actions=[Action.model_validate(a.to_dict()) for a in left])

    @endpoint(
        "GET",
        f"{PREFIX}/reports/trend",
        summary="The figures month by month (12 by default): the annual review's trend",
        tag="reports",
        roles=READERS,
        query=TrendQuery,
        ok=Trend,
        errors=_DB,
    )
    async def trend(self, request: web.Request, query: TrendQuery) -> Trend:
        if self.pbx.engine is None:
            raise ApiError(503, "the trend needs the database", code="unavailable")
        cfg = self.pbx.cfg
        try:
            rows = await asyncio.to_thread(
                build_trend,
                self.pbx.engine,
                cfg.service,
                cfg.metrics,
                IncidentTargets.from_config(cfg.incidents),
                query.to,
                query.months,
            )
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        except ValueError as exc:  # a first month before 1970
            raise invalid("months", str(exc).partition(": ")[2] or str(exc)) from None
        return Trend.model_validate(trend_dict(rows))
