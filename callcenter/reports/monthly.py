"""The monthly operations report (月次運用報告書, SPEC.md section 5): every figure the
contract defines for one month, with its target and met / not met, as JSON, CSV or HTML
in Japanese or English.

``build`` gathers the figures (the call figures in SQL, by queue too; the incident
figures over the month's incidents and surveys); the renderers only format them, so the
three formats always say the same thing.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from callcenter.incidents.figures import (
    IncidentFigures,
    IncidentTargets,
    month_range,
    monthly_figures,
)
from callcenter.incidents.store import IncidentStore
from callcenter.metrics import CallFigures, query_figures, query_figures_by
from callcenter.metrics.figures import key_label
from callcenter.metrics.period import period_record
from callcenter.metrics.settings import MetricsConfig
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig

FORMATS = ("json", "csv", "html")
LANGS = ("ja", "en")

# Every line of the report: key -> (日本語, English, kind). Kinds: rate (a fraction),
# seconds, score (out of 100), count.
LABELS: dict[str, tuple[str, str, str]] = {
    "calls": ("着信数", "Calls", "count"),
    "total_incoming": ("総着信数（率の分母）", "Total incoming (rates' denominator)", "count"),
    "answered": ("応答数", "Answered", "count"),
    "abandoned": ("放棄呼数", "Abandoned", "count"),
    "short_abandoned": ("ワンコール切り", "One-ring hang-ups", "count"),
    "busy": (
        "ビジー（ビジーアナウンス後に応答）",
        "Busy (answered after the busy message)",
        "count",
    ),
    "after_hours": ("時間外着信", "After hours", "count"),
    "abandonment_rate": ("放棄率", "Abandonment rate", "rate"),
    "busy_rate": ("ビジー率", "Busy rate", "rate"),
    "service_level": ("サービスレベル", "Service level", "rate"),
    "asa_seconds": ("平均応答時間", "Average speed of answer", "seconds"),
    "aht_seconds": ("平均処理時間", "Average handling time", "seconds"),
    "max_wait_seconds": ("最長待ち時間", "Longest wait", "seconds"),
    "first_contact_resolution": ("初期サポート解決率", "First-contact resolution", "rate"),
    "handling_seconds": ("サービスデスク対応時間", "Service desk handling time", "seconds"),
    "escalation_seconds": (
        "二次サポートエスカレーション時間",
        "Second-line escalation time",
        "seconds",
    ),
    "progress_seconds": ("経過報告時間", "Progress report time", "seconds"),
    "satisfaction": ("顧客満足度", "Customer satisfaction", "score"),
}
CALL_LINES = (
    "calls", "total_incoming", "answered", "abandoned", "short_abandoned", "busy",
    "after_hours", "abandonment_rate", "busy_rate", "service_level", "asa_seconds",
    "aht_seconds", "max_wait_seconds",
)  # fmt: skip
WORDS = {
    "ja": {
        "title": "月次運用報告書",
        "calls": "通話（SLA 別紙4 5・6）",
        "incidents": "インシデント（SLA 別紙4 1〜4・7）",
        "by_queue": "キュー別",
        "figure": "項目",
        "value": "実績",
        "target": "目標",
        "met": "達成",
        "yes": "達成",
        "no": "未達",
        "none": "対象なし",
        "over": "件数",
        "received": "受付インシデント",
        "unresolved": "うち未解決",
        "generated": "作成",
        "record": "定義とデータの網羅性",
        "def_short": "ワンコール切りの閾値",
        "def_sl": "サービスレベルの基準",
        "def_mixed": "異なる定義で分類された通話",
        "coverage": "記録のない区間の数",
        "gap": "記録のない区間",
    },
    "en": {
        "title": "Monthly operations report",
        "calls": "Calls (SLA annex 4, items 5-6)",
        "incidents": "Incidents (SLA annex 4, items 1-4, 7)",
        "by_queue": "By queue",
        "figure": "Figure",
        "value": "Result",
        "target": "Target",
        "met": "Met",
        "yes": "met",
        "no": "NOT met",
        "none": "no data",
        "over": "Count",
        "received": "Incidents received",
        "unresolved": "of which unresolved",
        "generated": "Generated",
        "record": "Definitions and coverage",
        "def_short": "One-ring threshold",
        "def_sl": "Service level within",
        "def_mixed": "Calls classified with other definitions",
        "coverage": "Intervals no source covered",
        "gap": "Not covered by any source",
    },
}


@dataclass(frozen=True)
class MonthlyReport:
    month: str  # YYYY-MM
    calls: CallFigures
    calls_by_queue: dict[str, CallFigures]
    incidents: IncidentFigures
    generated_at: datetime
    # The definitions in force and stored, and the coverage (metrics.period).
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "generated_at": self.generated_at.isoformat(),
            "calls": self.calls.to_dict(),
            "calls_by_queue": {q: f.to_dict() for q, f in self.calls_by_queue.items()},
            "incidents": {
                "received": self.incidents.incidents,
                "unresolved": self.incidents.unresolved,
                "figures": {k: f.to_dict() for k, f in self.incidents.figures().items()},
            },
            **self.record,
        }


def month_bounds(month: str) -> tuple[int, int, str, str]:
    """(year, month, first day, first day of the next month); ValueError names the flag."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start, end = month_range(year, mon, UTC) if 1970 <= year <= 9000 else (None, None)
    except (ValueError, OverflowError):
        raise ValueError(f"--month: {month!r} is not YYYY-MM") from None
    if start is None or end is None:
        # The month after December 9999 is no date, and nothing was recorded before 1970.
        raise ValueError(f"--month: {month!r} is out of range (1970-01 to 9000-12)")
    return year, mon, f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"


def build(
    engine: Engine,
    service: ServiceConfig,
    metrics: MetricsConfig,
    month: str,
    targets: IncidentTargets,
    now: datetime,
) -> MonthlyReport:
    year, mon, day_from, day_to = month_bounds(month)
    calls = query_figures(engine, metrics, day_from, day_to)
    by_queue = query_figures_by(engine, metrics, "queue", day_from, day_to)
    cal = BusinessCalendar.from_config(service)
    store = IncidentStore(engine)
    start, end = month_range(year, mon, cal.tz)
    incidents = monthly_figures(
        store.received_between(start, end), store.surveys(start, end), cal, year, mon, targets
    )
    return MonthlyReport(
        f"{year:04d}-{mon:02d}",
        calls,
        {key_label(k): f for k, f in by_queue.items()},
        incidents,
        now,
        period_record(engine, service, metrics, day_from, day_to),
    )


def _value(kind: str, value: float | None) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "seconds":
        return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"
    if kind == "score":
        return f"{value:.1f}"
    return f"{value:.0f}"


def _target(kind: str, target: float | None, at_least: bool) -> str:
    if target is None:
        return ""
    return ("≥ " if at_least else "≤ ") + _value(kind, target)


def rows(report: MonthlyReport, lang: str) -> list[tuple[str, str, str, str, str, str]]:
    """(section, key, label, value, target, met) for every line, in report order."""
    w = WORDS[lang]
    out: list[tuple[str, str, str, str, str, str]] = []

    def met(flag: bool | None) -> str:
        return {True: w["yes"], False: w["no"], None: w["none"]}[flag]

    def call_lines(section: str, f: CallFigures) -> None:
        d = f.to_dict()
        for key in CALL_LINES:
            ja, en, kind = LABELS[key]
            t = d["targets"].get(key)
            target = ""
            if t is not None:
                target = ("≥ " if key == "service_level" else "< ") + _value(kind, t["target"])
            out.append(
                (section, key, ja if lang == "ja" else en, _value(kind, d[key]), target,
                 met(t["met"]) if t is not None else "")
            )  # fmt: skip

    call_lines("calls", report.calls)
    for queue, f in sorted(report.calls_by_queue.items()):
        call_lines(f"calls:{queue}", f)
    for key, fig in report.incidents.figures().items():
        ja, en, kind = LABELS[key]
        target = _target(kind, fig.target, fig.at_least)
        out.append(
            ("incidents", key, ja if lang == "ja" else en, _value(kind, fig.value), target,
             met(fig.met))
        )  # fmt: skip
    out += record_rows(report, lang)
    return out


def record_rows(report: MonthlyReport, lang: str) -> list[tuple[str, str, str, str, str, str]]:
    """The definitions in force (and whether the month mixes them), and the coverage."""
    if not report.record:
        return []
    w = WORDS[lang]
    d = report.record["definitions"]
    f = d["in_force"]
    out = [
        ("record", "short_abandon_seconds", w["def_short"],
         _value("seconds", f["short_abandon_seconds"]), "", ""),
        ("record", "service_level_seconds", w["def_sl"],
         _value("seconds", f["service_level_seconds"]), "", ""),
        ("record", "classified_otherwise", w["def_mixed"],
         str(d["calls_classified_otherwise"]), "0", w["yes"] if not d["mixed"] else w["no"]),
    ]  # fmt: skip
    cov = report.record["coverage"]
    gaps = [(s["server"], g) for s in cov["servers"] for g in s["uncovered"]]
    # How many intervals no source covered: 0 is a complete month.
    out.append(
        ("record", "coverage", w["coverage"], str(len(gaps)), "0",
         w["yes"] if cov["complete"] else w["no"])
    )  # fmt: skip
    for server, g in gaps:
        out.append(("record", "uncovered", f"{w['gap']} ({server})",
                    f"{g['from']} .. {g['to']}", "", ""))  # fmt: skip
    return out


def render_csv(report: MonthlyReport, lang: str) -> str:
    buf = io.StringIO()
    w = WORDS[lang]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["month", "section", "key", w["figure"], w["value"], w["target"], w["met"]])
    for section, key, label, value, target, met in rows(report, lang):
        writer.writerow([report.month, section, key, label, value, target, met])
    return buf.getvalue()


def render_html(report: MonthlyReport, lang: str) -> str:
    w = WORDS[lang]
    e = html.escape

    def table(section_rows: list[tuple[str, str, str, str, str, str]]) -> str:
        head = f"<tr><th>{e(w['figure'])}</th><th>{e(w['value'])}</th>"
        head += f"<th>{e(w['target'])}</th><th>{e(w['met'])}</th></tr>"
        body = "".join(
            f'<tr class="{"miss" if met == w["no"] else ""}"><td>{e(label)}</td>'
            f"<td>{e(value)}</td><td>{e(target)}</td><td>{e(met)}</td></tr>"
            for _s, _k, label, value, target, met in section_rows
        )
        return f"<table>{head}{body}</table>"

    all_rows = rows(report, lang)
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{e(w['title'])} {e(report.month)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}"
        "tr.miss td{background:#fde2e2}</style></head><body>",
        f"<h1>{e(w['title'])} {e(report.month)}</h1>",
        f"<h2>{e(w['calls'])}</h2>",
        table([r for r in all_rows if r[0] == "calls"]),
    ]
    queues = sorted({r[0] for r in all_rows if r[0].startswith("calls:")})
    if queues:
        parts.append(f"<h2>{e(w['by_queue'])}</h2>")
        for section in queues:
            parts.append(f"<h3>{e(section.split(':', 1)[1])}</h3>")
            parts.append(table([r for r in all_rows if r[0] == section]))
    inc = report.incidents
    parts += [
        f"<h2>{e(w['incidents'])}</h2>",
        f"<p>{e(w['received'])}: {inc.incidents}（{e(w['unresolved'])}: {inc.unresolved}）</p>"
        if lang == "ja"
        else f"<p>{e(w['received'])}: {inc.incidents} ({e(w['unresolved'])}: {inc.unresolved})</p>",
        table([r for r in all_rows if r[0] == "incidents"]),
        f"<h2>{e(w['record'])}</h2>",
        table([r for r in all_rows if r[0] == "record"]),
        f"<p>{e(w['generated'])}: {e(report.generated_at.isoformat(timespec='seconds'))}</p>",
        "</body></html>\n",
    ]
    return "\n".join(parts)
