"""The monthly report's forms as bytes, and its summary (for the mail's text and the
webhook's payload): what ``delivery`` stores and sends, from ``monthly.build``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.monthly import MonthlyReport, build, render_csv, render_html, rows
from callcenter.schedule.settings import ServiceConfig

BOM = "\ufeff"  # Excel opens a CSV with it as UTF-8 (not Shift_JIS)
RATES = ("abandonment_rate", "busy_rate", "service_level")


class MonthlyForms:
    """``render`` and ``summarize`` for ``ReportDelivery``, over one database."""

    def __init__(
        self,
        engine: Engine,
        service: ServiceConfig,
        metrics: MetricsConfig,
        targets: IncidentTargets,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.service = service
        self.metrics = metrics
        self.targets = targets
        self.clock = clock

    def report(self, month: str) -> MonthlyReport:
        return build(self.engine, self.service, self.metrics, month, self.targets, self.clock())

    def render(self, month: str, fmt: str, lang: str) -> bytes:
        report = self.report(month)
        if fmt == "json":
            return json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")
        if fmt == "csv":
            text = render_csv(report, lang)
            return (text if text.startswith(BOM) else BOM + text).encode("utf-8")
        if fmt == "html":
            return render_html(report, lang).encode("utf-8")
        raise ValueError(f"formats: {fmt} is not available here")

    def summarize(self, month: str, lang: str) -> tuple[str, dict[str, Any]]:
        report = self.report(month)
        lines = [
            f"- {label}: {value}（{target}）{met}" if lang == "ja" else
            f"- {label}: {value} ({target}) {met}"
            for section, _key, label, value, target, met in rows(report, lang)
            if section in ("calls", "incidents") and target
        ]  # fmt: skip
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
