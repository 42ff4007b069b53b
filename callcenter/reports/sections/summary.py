"""The SLA summary: every contract figure with its target, met or not, and the margin;
the definitions and coverage the figures rest on; the month's improvement actions."""

from __future__ import annotations

from datetime import datetime

from callcenter.reports.i18n import (
    CALL_COLUMNS,
    INCIDENT_FIGURES,
    Kind,
    Measured,
    Op,
    Text,
    local_time,
)
from callcenter.reports.model import Column, MonthlyReport, Section, SlaLine, Table

CALL_OPS: dict[str, Op] = {"abandonment_rate": "<", "busy_rate": "<", "service_level": ">="}
MARGIN_KIND: dict[Kind, Kind] = {"rate": "points", "seconds": "seconds", "score": "score"}


def sla_lines(report: MonthlyReport) -> list[SlaLine]:
    calls = report.calls
    out = [
        SlaLine(key, CALL_COLUMNS[key][0], "rate", float(getattr(calls, key)), t.target,
                CALL_OPS[key], t.met, calls.total_incoming)
        for key, t in calls.targets.items()
    ]  # fmt: skip
    for key, fig in report.incidents.figures().items():
        label, kind = INCIDENT_FIGURES[key]
        op: Op = ">=" if fig.at_least else "<="
        out.append(SlaLine(key, label, kind, fig.value, fig.target, op, fig.met, fig.count))
    return out


def sla_section(report: MonthlyReport) -> Section:
    lines = sla_lines(report)
    table = Table(
        key="sla",
        title=("SLA 指標の達成状況", "SLA figures against their targets"),
        columns=(
            Column("figure", ("項目", "Figure"), "text"),
            Column("value", ("実績", "Result"), "text"),
            Column("target", ("目標", "Target"), "text"),
            Column("met", ("達成", "Met"), "met"),
            Column("margin", ("余裕（＋）／超過（－）", "Margin (+ ahead / − behind)"), "text",
                   signed=True),
            Column("over", ("対象件数", "Over"), "count"),
        ),
        rows=tuple(
            (ln.label, Measured(ln.value, ln.kind), Measured(ln.target, ln.kind, ln.op),
             ln.met, Measured(ln.margin, MARGIN_KIND[ln.kind]), ln.over)
            for ln in lines
        ),
        missed=tuple(ln.met is False for ln in lines),
        note=(
            "率の分母は総着信数（時間外・ワンコール切り・不明を除く）。時間は営業時間で数える。",
            "Rates are over incoming calls (after hours, one-ring hang-ups and unknown left "
            "out). Incident times are business time.",
        ),
    )  # fmt: skip
    met = sum(ln.met is True for ln in lines)
    judged = sum(ln.met is not None for ln in lines)
    return Section(
        key="sla",
        title=("SLA サマリー", "SLA summary"),
        tables=(table,),
        paragraphs=((f"{judged}項目中 {met}項目を達成。", f"{met} of {judged} figures met."),),
    )


def _when(text: str, report: MonthlyReport) -> Text:
    at = datetime.fromisoformat(text)
    return (local_time(at, report.tz, "ja"), local_time(at, report.tz, "en"))


def record_section(report: MonthlyReport) -> Section:
    rec = report.record
    if not rec:
        return Section(key="record", title=("定義と網羅性", "Definitions and coverage"))
    d = rec["definitions"]
    f = d["in_force"]
    cov = rec["coverage"]
    gaps = [(s["server"], g) for s in cov["servers"] for g in s["uncovered"]]
    defs = Table(
        key="definitions",
        title=("集計の定義", "Definitions"),
        columns=(Column("item", ("項目", "Item"), "text"),
                 Column("value", ("値", "Value"), "text")),
        rows=(
            (("ワンコール切りの閾値", "One-ring threshold"),
             Measured(f["short_abandon_seconds"], "seconds")),
            (("サービスレベルの基準（この秒数以内に応答）", "Service level: answered within"),
             Measured(f["service_level_seconds"], "seconds")),
            (("異なる定義で分類された通話", "Calls classified with other definitions"),
             Measured(d["calls_classified_otherwise"], "count")),
            (("記録のない区間の数", "Intervals no source covered"), Measured(len(gaps), "count")),
            (("記録の網羅性", "Coverage"),
             ("完全", "complete") if cov["complete"] else ("不完全", "INCOMPLETE")),
        ),
        missed=(False, False, bool(d["mixed"]), bool(gaps), not cov["complete"]),
        note=(
            f"この期間の{d['calls_classified_otherwise']}件は現行と異なる定義で分類されている"
            "（`callcenter calls rebuild` で現行の定義に再分類できる）。",
            d["note"],
        )
        if d["note"]
        else None,
    )  # fmt: skip
    gap_table = Table(
        key="coverage_gaps",
        title=("記録のない区間", "Intervals not covered by any source"),
        columns=(
            Column("server", ("サーバー", "Server"), "text"),
            Column("from", ("開始", "From"), "text"),
            Column("to", ("終了", "To"), "text"),
        ),
        rows=tuple((server, _when(g["from"], report), _when(g["to"], report))
                   for server, g in gaps),
        note=(
            "この期間の網羅性の記録がない（デーモンが動いていないか、記録開始前のデータベース）。",
            cov["note"],
        )
        if cov["note"]
        else None,
        print_limit=30,
    )  # fmt: skip
    return Section(
        key="record", title=("定義と網羅性", "Definitions and coverage"), tables=(defs, gap_table)
    )


ACTION_STATUS: dict[str, Text] = {
    "planned": ("計画", "planned"),
    "in_progress": ("実施中", "in progress"),
    "done": ("完了", "done"),
}


def actions_section(report: MonthlyReport) -> Section:
    table = Table(
        key="improvement_actions",
        title=("改善施策", "Improvement actions"),
        columns=(
            Column("title", ("施策", "Action"), "text"),
            Column("body", ("内容", "Details"), "text"),
            Column("owner", ("担当", "Owner"), "text"),
            Column("status", ("状況", "Status"), "text"),
            Column("author", ("記入者", "Written by"), "text"),
            Column("updated", ("更新", "Updated"), "text"),
        ),
        rows=tuple(
            (a.title, a.body, a.owner, ACTION_STATUS.get(a.status, (a.status, a.status)),
             a.author, (local_time(a.updated_at, report.tz, "ja"),
                        local_time(a.updated_at, report.tz, "en")))
            for a in report.actions
        ),
    )  # fmt: skip
    return Section(key="actions", title=("改善施策", "Improvement actions"), tables=(table,))
