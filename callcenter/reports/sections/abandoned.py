"""Abandoned calls by how long the caller waited before hanging up.

The calls are exactly those ``CallFigures.abandoned`` counts (outcome ``abandoned``:
one-ring hang-ups are their own outcome and stay out), so the buckets add up to the
abandoned figure of ``callcenter metrics``. The waiting time is the call's stored
``wait_seconds`` (from joining the queue, or from arrival for a caller who left in the
IVR). Counted per figure cell (metrics.cells), so a month adds up from its cells.
"""

from __future__ import annotations

from sqlalchemy import Engine

from callcenter.metrics.query import query_wait_buckets
from callcenter.metrics.settings import MetricsConfig
from callcenter.metrics.sql import ABANDON_WAIT_EDGES
from callcenter.reports.i18n import Lang
from callcenter.reports.model import (
    Chart,
    Column,
    MonthlyReport,
    Section,
    Series,
    Table,
    WaitBucket,
)

EDGES = ABANDON_WAIT_EDGES  # seconds


def gather(
    engine: Engine, metrics: MetricsConfig, day_from: str, day_to: str
) -> tuple[WaitBucket, ...]:
    """The month's abandoned calls by wait, from the figure cells (metrics.cells)."""
    counts = query_wait_buckets(engine, metrics, day_from, day_to)
    lows: list[float | None] = [0.0, *EDGES]
    highs: list[float | None] = [*EDGES, None]
    out = [WaitBucket(lows[i], highs[i], counts[f"abandoned_w{i}"]) for i in range(len(EDGES) + 1)]
    if counts["abandoned_wnone"]:
        out.append(WaitBucket(None, None, counts["abandoned_wnone"]))
    return tuple(out)


def _edge(seconds: float, lang: Lang) -> str:
    if seconds < 120:
        return f"{seconds:g}秒" if lang == "ja" else f"{seconds:g} s"
    return f"{seconds / 60:g}分" if lang == "ja" else f"{seconds / 60:g} min"


def bucket_label(b: WaitBucket, lang: Lang) -> str:
    if b.low is None:
        return "記録なし" if lang == "ja" else "not recorded"
    if b.high is None:
        return f"{_edge(b.low, lang)}以上" if lang == "ja" else f"{_edge(b.low, lang)} or more"
    return (
        f"{_edge(b.low, lang)}〜{_edge(b.high, lang)}"
        if lang == "ja"
        else (f"{_edge(b.low, lang)}-{_edge(b.high, lang)}")
    )


def section(report: MonthlyReport) -> Section:
    total = sum(b.calls for b in report.abandoned_by_wait)
    buckets = report.abandoned_by_wait
    # The bucket is named in both languages: the label column holds (ja, en).
    labels = tuple((bucket_label(b, "ja"), bucket_label(b, "en")) for b in buckets)
    rows = tuple(
        (labels[i], b.calls, b.calls / total if total else 0.0) for i, b in enumerate(buckets)
    )
    table = Table(
        key="abandoned_by_wait",
        title=("待ち時間別の放棄呼", "Abandoned calls by waiting time"),
        columns=(
            Column(
                "wait", ("待ち時間（下限以上・上限未満）", "Waiting time (from, to under)"), "text"
            ),
            Column("abandoned", ("放棄数", "Abandoned"), "count"),
            Column("share", ("割合", "Share"), "rate"),
        ),
        rows=rows,
        total=(total, 1.0 if total else 0.0),
        note=(
            f"ワンコール切り（{report.calls.cfg.short_abandon_seconds:g}秒未満）は放棄に含めない: "
            f"{report.calls.short_abandoned}件",
            f"One-ring hang-ups (under {report.calls.cfg.short_abandon_seconds:g} s) are not "
            f"abandoned calls: {report.calls.short_abandoned}",
        ),
    )
    chart = Chart(
        key="abandoned_by_wait",
        title=("待ち時間別の放棄呼", "Abandoned calls by waiting time"),
        kind="column",
        categories=labels,
        series=(Series(("放棄数", "Abandoned"), tuple(float(b.calls) for b in buckets)),),
        y_kind="count",
    )
    return Section(
        key="abandoned",
        title=("放棄呼の待ち時間", "Abandoned calls by waiting time"),
        tables=(table,),
        charts=(chart,),
    )
