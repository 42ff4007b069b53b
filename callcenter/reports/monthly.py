"""The monthly operations report (月次運用報告書, SPEC.md section 5): every figure the
contract defines for one month, with its target, met or not and the margin; the month by
day, by hour and by queue; abandoned calls by waiting time; incidents by category and
status with the breaches; improvement actions; the definitions and coverage.

``build`` gathers it all through the domains' own functions (the call figures are
``callcenter.metrics.query_figures`` / ``query_figures_by``, as `callcenter metrics`;
the incident figures ``monthly_figures``, as `callcenter incidents figures`), so the
report never computes a figure differently. ``render`` draws it as xlsx, PDF, HTML,
CSV or JSON, in Japanese or English (``callcenter.reports.render_*``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentTargets, month_range, monthly_figures
from callcenter.incidents.store import IncidentStore
from callcenter.metrics import query_figures
from callcenter.metrics.period import period_record
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports import actions as action_store
from callcenter.reports.i18n import LANGS, Lang
from callcenter.reports.model import MonthlyReport, ReportContext, Section, SectionProvider, Slot
from callcenter.reports.months import month_bounds
from callcenter.reports.sections import abandoned, calls, incidents
from callcenter.reports.sections.calls import SameNameQueues
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig

FORMATS = ("xlsx", "pdf", "html", "csv", "json")
BINARY_FORMATS = ("xlsx", "pdf")

__all__ = ["FORMATS", "LANGS", "build", "month_bounds", "render"]


def build(
    engine: Engine,
    service: ServiceConfig,
    metrics: MetricsConfig,
    month: str,
    targets: IncidentTargets,
    now: datetime,
    providers: Sequence[SectionProvider] = (),
    *,
    same_name_queues: SameNameQueues = "apart",
) -> MonthlyReport:
    """The month's report. ``providers`` add other areas' sections (model.SLOTS)."""
    year, mon, day_from, day_to = month_bounds(month)
    month = f"{year:04d}-{mon:02d}"
    cal = BusinessCalendar.from_config(service)
    start, end = month_range(year, mon, cal.tz)
    store = IncidentStore(engine)
    received = store.received_between(start, end)
    ctx = ReportContext(engine, service, metrics, month, day_from, day_to, start, end, now)
    grouped = calls.gather(engine, metrics, day_from, day_to, same_name_queues)
    extra: dict[Slot, Section] = {}
    for p in providers:
        if p.slot in extra:
            raise ValueError(f"two providers for the slot {p.slot!r}")
        made = p.build(ctx)
        if made is not None:
            extra[p.slot] = made
    return MonthlyReport(
        month=month,
        calls=query_figures(engine, metrics, day_from, day_to),
        calls_by_queue=grouped["queue"],
        incidents=monthly_figures(received, store.surveys(start, end), cal, year, mon, targets),
        generated_at=now,
        record=period_record(engine, service, metrics, day_from, day_to),
        timezone=service.timezone,
        calls_by_day=grouped["day"],
        calls_by_hour=grouped["hour"],
        calls_by_server=grouped["server"],
        abandoned_by_wait=abandoned.gather(engine, metrics, day_from, day_to),
        incidents_by_category=incidents.by_category(received),
        incident_risks=incidents.risks(received, cal, targets, now),
        actions=tuple(action_store.ImprovementActions(engine).for_month(month)),
        extra=extra,
    )


def render(report: MonthlyReport, fmt: str, lang: Lang) -> bytes:
    """The report in one of ``FORMATS``, as the bytes of the file."""
    if lang not in LANGS:
        raise ValueError(f"lang: one of {', '.join(LANGS)}")
    if fmt == "json":
        return (json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "csv":
        from callcenter.reports.render_csv import render_csv

        return render_csv(report, lang)
    if fmt == "html":
        from callcenter.reports.render_html import render_html

        return render_html(report, lang).encode()
    if fmt == "pdf":
        from callcenter.reports.render_pdf import render_pdf

        return render_pdf(report, lang)
    if fmt == "xlsx":
        from callcenter.reports.render_xlsx import render_xlsx

        return render_xlsx(report, lang)
    raise ValueError(f"format: one of {', '.join(FORMATS)}")
