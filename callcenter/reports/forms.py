"""The monthly report's forms as bytes, and its summary (for the mail's text and the
webhook's payload): what ``delivery`` stores and sends, and the API serves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.i18n import Lang, fmt, met_text, pick, target_text
from callcenter.reports.model import MonthlyReport, SectionProvider
from callcenter.reports.monthly import FORMATS, build, render
from callcenter.reports.sections.calls import SameNameQueues
from callcenter.reports.sections.summary import sla_lines
from callcenter.schedule.settings import ServiceConfig

RATES = ("abandonment_rate", "busy_rate", "service_level")


class MonthlyForms:
    """``render`` and ``summarize`` for ``ReportDelivery`` and the API, over one database;
    ``providers`` add the other areas' sections (agent activity, follow-ups)."""

    def __init__(
        self,
        engine: Engine,
        service: ServiceConfig,
        metrics: MetricsConfig,
        targets: IncidentTargets,
        clock: Callable[[], datetime],
        providers: Sequence[SectionProvider] = (),
        *,
        same_name_queues: SameNameQueues = "apart",
    ) -> None:
        self.engine = engine
        self.service = service
        self.metrics = metrics
        self.targets = targets
        self.clock = clock
        self.providers = tuple(providers)
        self.same_name_queues: SameNameQueues = same_name_queues

    def report(self, month: str) -> MonthlyReport:
        return build(
            self.engine,
            self.service,
            self.metrics,
            month,
            self.targets,
            self.clock(),
            self.providers,
            same_name_queues=self.same_name_queues,
        )

    def render(self, month: str, form: str, lang: str) -> bytes:
        if form not in FORMATS:
            raise ValueError(f"formats: {form} is not one of {', '.join(FORMATS)}")
        return render(self.report(month), form, _lang(lang))

    def summarize(self, month: str, lang: str) -> tuple[str, dict[str, Any]]:
        report = self.report(month)
        language = _lang(lang)
        lines = []
        for line in sla_lines(report):
            value = fmt(line.kind, line.value, language)
            target = target_text(line.kind, line.target, line.op, language)
            lines.append(
                f"- {pick(line.label, language)}: {value} ({target}) {met_text(line.met, language)}"
            )
        calls = report.calls.to_dict()
        summary = {
            "month": report.month,
            "calls": {
                "total_incoming": calls["total_incoming"],
                **{k: calls[k] for k in RATES},
                "targets": calls["targets"],
            },
            "incidents": {
                "received": report.incidents.incidents,
                "figures": {k: f.to_dict() for k, f in report.incidents.figures().items()},
            },
        }
        return "\n".join(lines), summary


def _lang(lang: str) -> Lang:
    if lang not in ("ja", "en"):
        raise ValueError(f"lang: {lang!r} is not ja or en")
    return "ja" if lang == "ja" else "en"
