"""The yearly trend (for the annual review): the contract's figures month by month over
twelve months, from the same functions as the monthly report.

The call figures are one ``query_figures_by(..., "month")`` over the twelve months (the
grouping behind `callcenter metrics --by month`); the incident figures are
``monthly_figures`` per month over the incidents of the whole span, read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentFigures, IncidentTargets, monthly_figures
from callcenter.incidents.figures import month_range as _month_range
from callcenter.incidents.store import IncidentStore
from callcenter.metrics import CallFigures, key_label, query_figures_by
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.months import add_months, month_bounds, months_ending
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig

MONTHS = 12


@dataclass(frozen=True)
class TrendMonth:
    month: str
    calls: CallFigures
    incidents: IncidentFigures

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "calls": self.calls.to_dict(),
            "incidents": {
                "received": self.incidents.incidents,
                "unresolved": self.incidents.unresolved,
                "figures": {k: f.to_dict() for k, f in self.incidents.figures().items()},
            },
        }


def build_trend(
    engine: Engine,
    service: ServiceConfig,
    metrics: MetricsConfig,
    targets: IncidentTargets,
    last_month: str,
    months: int = MONTHS,
) -> list[TrendMonth]:
    """The ``months`` months ending with ``last_month`` (YYYY-MM), oldest first."""
    if months < 1:
        raise ValueError("months: at least 1")
    month_bounds(last_month)
    names = months_ending(last_month, months)
    _, _, day_from, _ = month_bounds(names[0])
    _, _, _, day_to = month_bounds(last_month)
    by_month = {
        key_label(k): f
        for k, f in query_figures_by(engine, metrics, "month", day_from, day_to).items()
    }
    cal = BusinessCalendar.from_config(service)
    y0, m0 = (int(x) for x in names[0].split("-"))
    y1, m1 = (int(x) for x in add_months(last_month, 1).split("-"))
    start, _ = _month_range(y0, m0, cal.tz)
    end, _ = _month_range(y1, m1, cal.tz)
    store = IncidentStore(engine)
    received = store.received_between(start, end)
    surveys = store.surveys(start, end)
    out = []
    for name in names:
        year, mon = (int(x) for x in name.split("-"))
        inc = monthly_figures(received, surveys, cal, year, mon, targets)
        out.append(TrendMonth(name, by_month.get(name, CallFigures(metrics)), inc))
    return out


def trend_dict(rows: list[TrendMonth]) -> dict[str, Any]:
    return {"months": [r.to_dict() for r in rows]}


def trend_text(rows: list[TrendMonth]) -> list[str]:
    head = (
        f"{'month':7}  {'calls':>9}  {'answered':>9}  {'abandon':>7}  {'busy':>6}  "
        f"{'SL':>6}  {'ASA s':>6}  {'AHT s':>7}  {'incid.':>6}  {'FCR':>6}  {'handl.min':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        c, i = r.calls, r.incidents
        fcr = i.first_contact_resolution.value
        handling = i.handling_seconds.value
        lines.append(
            f"{r.month:7}  {c.calls:>9,}  {c.answered:>9,}  {100 * c.abandonment_rate:>6.1f}%  "
            f"{100 * c.busy_rate:>5.1f}%  {100 * c.service_level:>5.1f}%  "
            f"{'-' if c.asa_seconds is None else f'{c.asa_seconds:.1f}':>6}  "
            f"{'-' if c.aht_seconds is None else f'{c.aht_seconds:.1f}':>7}  "
            f"{i.incidents:>6,}  {'-' if fcr is None else f'{100 * fcr:.1f}%':>6}  "
            f"{'-' if handling is None else f'{handling / 60:.1f}':>9}"
        )
    return lines
