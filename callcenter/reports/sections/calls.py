"""Calls: by day, by hour and by queue, with the daily rates against their targets.

Every figure is a ``CallFigures`` from ``callcenter.metrics.query_figures_by``: the
function behind ``callcenter metrics --by ...``, so the report and the command agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from sqlalchemy import Engine

from callcenter.metrics import (
    CallFigures,
    Grouping,
    GroupKey,
    combine,
    key_label,
    query_figures_by_keys,
)
from callcenter.metrics.figures import sort_key
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.i18n import CALL_COLUMNS, Text
from callcenter.reports.model import Chart, Column, MonthlyReport, Section, Series, Table

# The columns of the by-day / by-hour / by-queue tables (CallFigures.to_dict keys).
TABLE_COLUMNS = (
    "calls", "answered", "abandoned", "answer_rate", "abandonment_rate", "busy_rate",
    "service_level", "asa_seconds", "aht_seconds",
)  # fmt: skip


GATHERED: tuple[Grouping, ...] = ("day", "hour", "server", "queue")
SameNameQueues = Literal["apart", "merged"]


def queue_labels(
    pairs: Iterable[tuple[GroupKey, GroupKey]], same_name_queues: SameNameQueues
) -> dict[tuple[GroupKey, GroupKey], str]:
    """How each (server, queue) is reported: a name that several servers have is
    name@server for each (``apart``) or one virtual queue (``merged``), as the
    wallboard shows it (web.live_merge)."""
    pairs = list(pairs)
    servers: dict[GroupKey, set[GroupKey]] = {}
    for server, queue in pairs:
        servers.setdefault(queue, set()).add(server)
    return {
        (server, queue): f"{queue}@{server}"
        if same_name_queues == "apart" and queue is not None and len(servers[queue]) > 1
        else key_label(queue)
        for server, queue in pairs
    }


def gather(
    engine: Engine,
    metrics: MetricsConfig,
    day_from: str,
    day_to: str,
    same_name_queues: SameNameQueues = "apart",
) -> dict[Grouping, dict[str, CallFigures]]:
    """The month by day, by hour, by server and by queue, from one read of the month's
    figure cells (``query_figures_by_keys`` over day x hour x server x queue, each
    grouping the ``combine`` of its parts)."""
    fine = query_figures_by_keys(engine, metrics, GATHERED, day_from, day_to)
    out: dict[Grouping, dict[str, CallFigures]] = {}
    for i, by in enumerate(GATHERED[:3]):
        parts: dict[GroupKey, list[CallFigures]] = {}
        for key, f in fine.items():
            parts.setdefault(key[i], []).append(f)
        out[by] = {key_label(k): combine(parts[k], metrics) for k in sorted(parts, key=sort_key)}
    labels = queue_labels({(k[2], k[3]) for k in fine}, same_name_queues)
    queues: dict[str, list[CallFigures]] = {}
    for key, f in sorted(fine.items(), key=lambda kv: (sort_key(kv[0][3]), sort_key(kv[0][2]))):
        queues.setdefault(labels[(key[2], key[3])], []).append(f)
    out["queue"] = {label: combine(parts, metrics) for label, parts in queues.items()}
    return out


def _columns(first: Column) -> tuple[Column, ...]:
    return (first, *(Column(k, *CALL_COLUMNS[k]) for k in TABLE_COLUMNS))


def _row(label: str, f: CallFigures) -> tuple[object, ...]:
    return (label, *(getattr(f, k) for k in TABLE_COLUMNS))


def _missed(f: CallFigures) -> bool:
    return any(t.met is False for t in f.targets.values())


def figures_table(
    key: str, title: Text, first: Column, groups: Mapping[str, CallFigures], total: CallFigures
) -> Table:
    return Table(
        key=key,
        title=title,
        columns=_columns(first),
        rows=tuple(_row(label, f) for label, f in groups.items()),
        total=_row("", total)[1:],
        missed=tuple(_missed(f) for f in groups.values()),
    )


def _day_label(day: str) -> str:
    return day[5:].replace("-", "/")  # MM/DD


def daily_charts(report: MonthlyReport) -> tuple[Chart, ...]:
    days = report.calls_by_day
    cats = tuple(_day_label(d) for d in days)
    targets = report.calls.targets
    charts = []
    for key in ("abandonment_rate", "busy_rate", "service_level"):
        label, _kind = CALL_COLUMNS[key]
        values = tuple(float(getattr(f, key)) for f in days.values())
        target = targets[key].target
        charts.append(
            Chart(
                key=f"daily_{key}",
                title=(f"日別{label[0]}と目標", f"Daily {label[1].lower()} and target"),
                kind="line",
                categories=cats,
                series=(
                    Series(label, values),
                    Series(("目標", "Target"), tuple(target for _ in values), target=True),
                ),
                y_kind="rate",
                x_label=("日", "Day"),
            )
        )
    return tuple(charts)


def hourly_chart(report: MonthlyReport) -> Chart:
    hours = report.calls_by_hour
    return Chart(
        key="hourly_calls",
        title=("時間帯別の入電数・応答数", "Calls and answered by hour"),
        kind="column",
        categories=tuple(f"{h}時" if h.isdigit() else h for h in hours),
        series=(
            Series(CALL_COLUMNS["calls"][0], tuple(float(f.calls) for f in hours.values())),
            Series(CALL_COLUMNS["answered"][0], tuple(float(f.answered) for f in hours.values())),
        ),
        y_kind="count",
        x_label=("時台", "Hour"),
    )


def by_day_section(report: MonthlyReport) -> Section:
    first = Column("day", ("日付", "Day"), "text")
    return Section(
        key="by_day",
        title=("日別", "By day"),
        tables=(figures_table("by_day", ("日別の実績", "Figures by day"), first,
                              report.calls_by_day, report.calls),),
        charts=daily_charts(report),
    )  # fmt: skip


def by_hour_section(report: MonthlyReport) -> Section:
    first = Column("hour", ("時台", "Hour"), "text")
    return Section(
        key="by_hour",
        title=("時間帯別", "By hour"),
        tables=(figures_table("by_hour", ("時間帯別の実績", "Figures by hour"), first,
                              report.calls_by_hour, report.calls),),
        charts=(hourly_chart(report),),
    )  # fmt: skip


def by_queue_section(report: MonthlyReport) -> Section:
    first = Column("queue", ("キュー", "Queue"), "text")
    tables = [figures_table("by_queue", ("キュー別の実績", "Figures by queue"), first,
                            dict(sorted(report.calls_by_queue.items())), report.calls)]  # fmt: skip
    if len(report.calls_by_server) > 1:  # several PBXs on one database
        server = Column("server", ("サーバー", "Server"), "text")
        tables.insert(0, figures_table("by_server", ("サーバー別の実績", "Figures by server"),
                                       server, report.calls_by_server, report.calls))  # fmt: skip
    return Section(key="by_queue", title=("サーバー・キュー別", "By server and queue")
                   if len(report.calls_by_server) > 1 else ("キュー別", "By queue"),
                   tables=tuple(tables))  # fmt: skip
