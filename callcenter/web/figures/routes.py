"""GET /metrics/today (live) and /metrics (a period, from the database)."""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.metrics import combine, query_figures, query_figures_by
from callcenter.metrics.report import grouped_json
from callcenter.web.api import PREFIX, endpoint
from callcenter.web.auth import READERS
from callcenter.web.errors import ApiError, invalid
from callcenter.web.figures.models import (
    GroupedFigures,
    PeriodFigures,
    PeriodQuery,
    QueueToday,
    Today,
    TodayQuery,
)
from callcenter.web.pbxside import UNAVAILABLE, PbxArea
from callcenter.web.views import figures_dict, today_view

log = structlog.get_logger("callcenter.web")


class FigureRoutes(PbxArea):
    @endpoint(
        "GET",
        f"{PREFIX}/metrics/today",
        summary="Today's call figures so far (service time zone), live",
        tag="figures",
        description="With queue: that queue's figures only.",
        query=TodayQuery,
        ok=(Today, QueueToday),
        errors={422: "unknown queue or parameter", **UNAVAILABLE},
    )
    async def metrics_today(self, request: web.Request, query: TodayQuery) -> Today | QueueToday:
        queue = self.known_queue("queue", query.queue)
        if queue is None:
            return Today.model_validate(today_view(self.pbx))
        figures = figures_dict(self.pbx.today_figures(queue))
        return QueueToday.model_validate({"queue": queue, **figures})

    @endpoint(
        "GET",
        f"{PREFIX}/metrics",
        summary="Call figures for the local days [from, to), from the database",
        tag="figures",
        description="As `callcenter metrics --json` (with by: its grouped form, "
        "{by, groups, total}).",
        roles=READERS,
        query=PeriodQuery,
        ok=(PeriodFigures, GroupedFigures),
        errors={503: "the database is not available, or no PBX connection"},
    )
    async def metrics(
        self, request: web.Request, query: PeriodQuery
    ) -> PeriodFigures | GroupedFigures:
        if query.to <= query.from_:
            raise invalid("to", "must be after from (the period is [from, to))")
        day_from, day_to = query.from_.isoformat(), query.to.isoformat()
        where = {"queue": query.queue, "server_id": query.server}
        engine = self.pbx.engine
        if engine is None:
            raise ApiError(503, "past figures need the database", code="unavailable")
        cfg = self.pbx.cfg.metrics
        period = {"from": day_from, "to": day_to, **where}
        try:
            if query.by is None:
                figures = await asyncio.to_thread(
                    query_figures, engine, cfg, day_from, day_to, **where
                )
                return PeriodFigures.model_validate({**period, **figures.to_dict()})
            groups = await asyncio.to_thread(
                query_figures_by, engine, cfg, query.by, day_from, day_to, **where
            )
        except SQLAlchemyError as exc:
            log.warning("api.metrics_failed", error=type(exc).__name__)
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        total = combine(groups.values(), cfg)
        return GroupedFigures.model_validate({**period, **grouped_json(query.by, groups, total)})
