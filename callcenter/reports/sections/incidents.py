"""Incidents: the contract's five figures, the month's incidents by category and status,
and the incidents past (or near) a time target.

The figures are ``callcenter.incidents.figures.monthly_figures`` (what `callcenter
incidents figures` prints); the per-incident times are the same module's
``handling_seconds`` / ``escalation_seconds`` / ``progress_seconds``, and the open ones'
state is its ``at_risk``, so a breach here is one by the figures' own definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from callcenter.incidents.figures import (
    HANDLING_EXCLUDED,
    PROGRESS_EXCLUDED,
    FigureName,
    IncidentTargets,
    at_risk,
    escalation_seconds,
    handling_seconds,
    progress_seconds,
)
from callcenter.incidents.model import STATUSES, Incident
from callcenter.reports.i18n import INCIDENT_FIGURES, RISK_STATES, Measured, Op
from callcenter.reports.i18n import STATUSES as STATUS_WORDS
from callcenter.reports.model import (
    Chart,
    Column,
    IncidentRisk,
    MonthlyReport,
    Section,
    Series,
    Table,
)
from callcenter.schedule.calendar import BusinessCalendar

NO_CATEGORY = "(none)"
TIME_FIGURES: tuple[FigureName, ...] = (
    "handling_seconds",
    "escalation_seconds",
    "progress_seconds",
)


def by_category(incidents: Sequence[Incident]) -> dict[str, dict[str, int]]:
    """category -> status -> incidents, categories in name order (none last)."""
    out: dict[str, dict[str, int]] = {}
    for inc in incidents:
        counts = out.setdefault(inc.category or NO_CATEGORY, dict.fromkeys(STATUSES, 0))
        counts[inc.status] += 1
    return dict(sorted(out.items(), key=lambda kv: (kv[0] == NO_CATEGORY, kv[0])))


def risks(
    incidents: Sequence[Incident],
    calendar: BusinessCalendar,
    targets: IncidentTargets,
    now: datetime,
) -> tuple[IncidentRisk, ...]:
    """Resolved incidents whose own time was past a target (breached), then the open ones
    past or near one as of ``now`` (``at_risk``); most urgent first within each."""
    out: list[IncidentRisk] = []
    for inc in incidents:
        times: dict[str, float | None] = {"escalation_seconds": escalation_seconds(inc, calendar)}
        if inc.resolved_at is not None and not inc.flags & HANDLING_EXCLUDED:
            times["handling_seconds"] = handling_seconds(inc, calendar)
        if inc.escalated_at is not None and not inc.flags & PROGRESS_EXCLUDED:
            times["progress_seconds"] = progress_seconds(inc, calendar)
        for figure, elapsed in times.items():
            target = float(getattr(targets, figure))
            if elapsed is not None and elapsed > target:
                out.append(IncidentRisk(inc.id, inc.category, inc.status, figure, elapsed,
                                        target, "breached"))  # fmt: skip
    out.sort(key=lambda r: -r.elapsed_seconds / r.target_seconds)
    by_id = {i.id: i for i in incidents}
    seen = {(r.incident_id, r.figure) for r in out}
    for r in at_risk(incidents, now, calendar, targets):
        if (r.incident_id, r.figure) in seen:
            continue
        inc = by_id[r.incident_id]
        out.append(IncidentRisk(r.incident_id, inc.category, inc.status, r.figure,
                                r.elapsed_seconds, r.target_seconds, r.state))  # fmt: skip
    return tuple(out)


def _figures_table(report: MonthlyReport) -> Table:
    figs = report.incidents.figures()
    rows = []
    missed = []
    for key, fig in figs.items():
        label, kind = INCIDENT_FIGURES[key]
        op: Op = ">=" if fig.at_least else "<="
        rows.append((label, Measured(fig.value, kind), fig.count,
                     Measured(fig.target, kind, op), fig.met))  # fmt: skip
        missed.append(fig.met is False)
    return Table(
        key="incident_figures",
        title=("インシデントの指標", "Incident figures"),
        columns=(
            Column("figure", ("項目", "Figure"), "text"),
            Column("value", ("実績", "Result"), "text"),
            Column("over", ("対象件数", "Over"), "count"),
            Column("target", ("目標", "Target"), "text"),
            Column("met", ("達成", "Met"), "met"),
        ),
        rows=tuple(rows),
        missed=tuple(missed),
        note=(
            f"受付 {report.incidents.incidents}件（うち未解決 {report.incidents.unresolved}件）",
            f"Received {report.incidents.incidents} (of which unresolved "
            f"{report.incidents.unresolved})",
        ),
    )


def _category_table(report: MonthlyReport) -> Table:
    status_cols = tuple(Column(s, STATUS_WORDS[s], "count") for s in STATUSES)
    rows = tuple(
        ((("（未分類）", NO_CATEGORY) if cat == NO_CATEGORY else cat),
         *(counts[s] for s in STATUSES), sum(counts.values()))
        for cat, counts in report.incidents_by_category.items()
    )  # fmt: skip
    totals = tuple(sum(c[s] for c in report.incidents_by_category.values()) for s in STATUSES)
    return Table(
        key="incidents_by_category",
        title=("分類別・状態別のインシデント", "Incidents by category and status"),
        columns=(Column("category", ("分類", "Category"), "text"), *status_cols,
                 Column("total", ("合計", "Total"), "count")),
        rows=rows,
        total=(*totals, sum(totals)),
    )  # fmt: skip


def _risk_table(report: MonthlyReport) -> Table:
    rows = tuple(
        (r.incident_id, r.category or "", STATUS_WORDS.get(r.status, (r.status, r.status)),
         INCIDENT_FIGURES[r.figure][0], r.elapsed_seconds, r.target_seconds,
         RISK_STATES[r.state])
        for r in report.incident_risks
    )  # fmt: skip
    return Table(
        key="incident_risks",
        title=("目標超過・超過間近のインシデント", "Incidents past or near a time target"),
        columns=(
            Column("id", ("番号", "No."), "text"),
            Column("category", ("分類", "Category"), "text"),
            Column("status", ("状態", "Status"), "text"),
            Column("figure", ("指標", "Figure"), "text"),
            Column("elapsed", ("経過", "Elapsed"), "seconds"),
            Column("target", ("目標", "Target"), "seconds"),
            Column("state", ("判定", "State"), "text"),
        ),
        rows=rows,
        missed=tuple(r.state == "breached" for r in report.incident_risks),
        note=(
            "経過は営業時間で数える。解決済みは確定値、未解決は作成時点の値。",
            "Elapsed is business time: final for resolved incidents, as of the report's "
            "generation for open ones.",
        ),
        print_limit=40,
    )


def _chart(report: MonthlyReport) -> Chart:
    figs = report.incidents.figures()
    return Chart(
        key="incident_times",
        title=("インシデントの時間指標と目標", "Incident time figures and targets"),
        kind="column",
        categories=tuple(INCIDENT_FIGURES[k][0] for k in TIME_FIGURES),
        series=(
            Series(("実績", "Result"), tuple(
                None if figs[k].value is None else float(figs[k].value or 0) / 60
                for k in TIME_FIGURES)),
            Series(("目標", "Target"), tuple(figs[k].target / 60 for k in TIME_FIGURES),
                   target=True),
        ),
        y_kind="minutes",
    )  # fmt: skip


def section(report: MonthlyReport) -> Section:
    return Section(
        key="incidents",
        title=("インシデント", "Incidents"),
        tables=(_figures_table(report), _category_table(report), _risk_table(report)),
        charts=(_chart(report),),
    )
