"""Words and units of the monthly report, in Japanese and English.

Every figure is held as a raw number with a *kind* (``Kind``); this module alone turns
it into text: 件 / 分 / 秒 in Japanese, "calls" / min / s in English, percentages with
one decimal, margins with a sign, instants in the service time zone. The xlsx renderer
keeps the numbers and maps the kinds to Excel number formats (``EXCEL_FORMATS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")
Text = tuple[str, str]  # (日本語, English)

# count: a number of calls / incidents; rate: a fraction shown as %; seconds: a duration;
# minutes: a duration held in minutes (chart axes); score: out of 100; points: a
# difference of two rates (percentage points); text: shown as is; met: True/False/None.
Kind = Literal["count", "rate", "seconds", "minutes", "score", "points", "text", "met", "time"]


Op = Literal[">=", "<", "<="]  # how a value meets its target


def pick(text: Text, lang: Lang) -> str:
    return text[0] if lang == "ja" else text[1]


WORDS: dict[str, Text] = {
    "title": ("月次運用報告書", "Monthly operations report"),
    "period": ("対象期間", "Period"),
    "generated": ("作成日時", "Generated"),
    "timezone": ("時間帯", "Time zone"),
    "figure": ("項目", "Figure"),
    "value": ("実績", "Result"),
    "target": ("目標", "Target"),
    "met": ("達成", "Met"),
    "margin": ("余裕（＋）／超過（－）", "Margin (+ ahead / − behind)"),
    "over": ("対象件数", "Over"),
    "yes": ("達成", "met"),
    "no": ("未達", "NOT met"),
    "none": ("対象なし", "no data"),
    "total": ("合計", "Total"),
    "share": ("割合", "Share"),
    "contents": ("目次", "Contents"),
    "received": ("受付インシデント", "Incidents received"),
    "unresolved": ("うち未解決", "of which unresolved"),
    "no_rows": ("該当なし", "None"),
    "more_rows": ("ほか {n} 件（xlsx / CSV に全件）", "and {n} more (all in the xlsx / CSV)"),
}

# The call figures' columns, as in `metrics --json` (CallFigures.to_dict keys).
CALL_COLUMNS: dict[str, tuple[Text, Kind]] = {
    "calls": (("入電数", "Calls"), "count"),
    "total_incoming": (("総着信数（率の分母）", "Incoming (rates' base)"), "count"),
    "answered": (("応答数", "Answered"), "count"),
    "abandoned": (("放棄数", "Abandoned"), "count"),
    "busy": (("ビジー数", "Busy"), "count"),
    "short_abandoned": (("ワンコール切り", "One-ring hang-ups"), "count"),
    "after_hours": (("時間外着信", "After hours"), "count"),
    "answer_rate": (("応答率", "Answer rate"), "rate"),
    "abandonment_rate": (("放棄率", "Abandonment rate"), "rate"),
    "busy_rate": (("ビジー率", "Busy rate"), "rate"),
    "service_level": (("サービスレベル", "Service level"), "rate"),
    "asa_seconds": (("平均応答時間（ASA）", "Average speed of answer (ASA)"), "seconds"),
    "aht_seconds": (("平均処理時間（AHT）", "Average handling time (AHT)"), "seconds"),
    "max_wait_seconds": (("最長待ち時間", "Longest wait"), "seconds"),
}

INCIDENT_FIGURES: dict[str, tuple[Text, Kind]] = {
    "first_contact_resolution": (("初期サポート解決率", "First-contact resolution"), "rate"),
    "handling_seconds": (("サービスデスク対応時間", "Service desk handling time"), "seconds"),
    "escalation_seconds": (
        ("二次サポートエスカレーション時間", "Second-line escalation time"),
        "seconds",
    ),
    "progress_seconds": (("経過報告時間", "Progress report time"), "seconds"),
    "satisfaction": (("顧客満足度", "Customer satisfaction"), "score"),
}

STATUSES: dict[str, Text] = {
    "received": ("受付", "received"),
    "in_progress": ("対応中", "in progress"),
    "escalated": ("エスカレーション中", "escalated"),
    "escalation_answered": ("二次回答済", "second line answered"),
    "resolved": ("解決", "resolved"),
    "closed": ("完了", "closed"),
}
RISK_STATES: dict[str, Text] = {
    "breached": ("超過", "breached"),
    "at_risk": ("超過間近", "at risk"),
}


@dataclass(frozen=True)
class Measured:
    """A cell whose kind is its own (a column of mixed figures); with ``op`` it is a
    target, printed as "≥ 80.0%" / "80.0%以上"."""

    value: float | None
    kind: Kind
    op: Op | None = None


def met_text(flag: bool | None, lang: Lang) -> str:
    return pick(WORDS["yes" if flag else "none" if flag is None else "no"], lang)


def _number(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}"


def fmt(kind: Kind, value: object, lang: Lang, *, signed: bool = False) -> str:
    """A value as the report prints it; None (nothing to measure) is a dash."""
    if value is None:
        return "-"
    if isinstance(value, tuple):  # a Text: (日本語, English)
        return pick(value, lang)
    if isinstance(value, Measured):
        if value.op is not None and value.value is not None:
            return target_text(value.kind, value.value, value.op, lang)
        return fmt(value.kind, value.value, lang, signed=signed)
    if kind == "met":
        return met_text(value if isinstance(value, bool) else None, lang)
    if kind == "text" or not isinstance(value, int | float):
        return str(value)
    x = float(value)
    sign = ("+" if x > 0 else "−" if x < 0 else "±") if signed else ""
    if signed:
        x = abs(x)
    if kind == "count":
        n = _number(x, 0)
        return f"{sign}{n}件" if lang == "ja" else f"{sign}{n}"
    if kind == "rate":
        return f"{sign}{100 * x:.1f}%"
    if kind == "points":
        return f"{sign}{100 * x:.1f}ポイント" if lang == "ja" else f"{sign}{100 * x:.1f} pt"
    if kind == "score":
        return f"{sign}{x:.1f}点" if lang == "ja" else f"{sign}{x:.1f}"
    if kind == "minutes":
        x *= 60
    # Durations: seconds under two minutes, minutes above.
    if x < 120:
        return f"{sign}{x:.1f}秒" if lang == "ja" else f"{sign}{x:.1f} s"
    return f"{sign}{x / 60:,.1f}分" if lang == "ja" else f"{sign}{x / 60:,.1f} min"


def target_text(kind: Kind, target: float | None, op: Op, lang: Lang) -> str:
    if target is None:
        return ""
    if lang == "ja":
        return fmt(kind, target, lang) + {">=": "以上", "<": "未満", "<=": "以内"}[op]
    return {">=": "≥ ", "<": "< ", "<=": "≤ "}[op] + fmt(kind, target, lang)


def local_time(at: datetime, tz: tzinfo, lang: Lang) -> str:
    t = at.astimezone(tz)
    if lang == "ja":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    return f"{t:%Y-%m-%d %H:%M}"


def month_title(month: str, lang: Lang) -> str:
    year, mon = month.split("-")
    return f"{int(year)}年{int(mon)}月" if lang == "ja" else f"{month}"


# Excel number formats per kind (the xlsx keeps raw numbers, so sums and charts work).
EXCEL_FORMATS: dict[str, dict[Lang, str]] = {
    "count": {"ja": '#,##0"件"', "en": "#,##0"},
    "rate": {"ja": "0.0%", "en": "0.0%"},
    "points": {"ja": "+0.0%;-0.0%;0.0%", "en": "+0.0%;-0.0%;0.0%"},
    "seconds": {"ja": '#,##0.0"秒"', "en": '#,##0.0" s"'},
    "minutes": {"ja": '#,##0.0"分"', "en": '#,##0.0" min"'},
    "score": {"ja": '0.0"点"', "en": "0.0"},
}
