"""The monthly report's data, and the neutral shapes every renderer draws.

Two layers:

* ``MonthlyReport``: the month's figures as the domains computed them (``CallFigures``
  from ``callcenter.metrics``, ``IncidentFigures`` from ``callcenter.incidents``), plus
  the breakdowns only the report has. ``to_dict`` is the JSON form.
* ``Section`` / ``Table`` / ``Chart``: what the report shows, as raw values with a
  ``Kind`` each (``callcenter.reports.i18n``), in report order (``callcenter.reports.
  layout``). The renderers (xlsx, PDF, HTML, CSV) only draw these, so every format
  shows the same figures.

Extension point: another area adds a section by giving ``build`` a ``SectionProvider``
for one of the ``SLOTS`` (agent activity, the follow-up list). The provider receives a
``ReportContext`` (the database, the settings, the month's bounds) and returns a
``Section`` made of ``Table``s and ``Chart``s; every renderer draws it in its slot, and
``to_dict`` includes it. A slot without a provider is left out of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentFigures
from callcenter.metrics.figures import CallFigures
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.i18n import Kind, Measured, Op, Text
from callcenter.schedule.settings import ServiceConfig

# Where sections from other areas go (see callcenter.reports.layout for the order).
Slot = Literal["agent_activity", "followups"]
SLOTS: tuple[Slot, ...] = get_args(Slot)


def _plain(value: object) -> object:
    """A cell as JSON has it: a measured figure is its number (its unit is the column's)."""
    return value.value if isinstance(value, Measured) else value


@dataclass(frozen=True)
class Column:
    key: str
    label: Text
    kind: Kind
    signed: bool = False  # printed with + / − (margins)


@dataclass(frozen=True)
class Table:
    key: str  # unique in the report (the xlsx names its cells' region after it)
    title: Text
    columns: tuple[Column, ...]
    # Raw values, one per column; a text cell may be a Text (日本語, English).
    rows: tuple[tuple[Any, ...], ...]
    # The total row: values for columns[1:]; renderers label it 合計 / Total.
    total: tuple[Any, ...] | None = None
    missed: tuple[bool, ...] = ()  # per row: a target not met (highlighted)
    note: Text | None = None
    # Long lists: the PDF / HTML print this many rows and say how many more there are;
    # the xlsx and the CSV always have every row.
    print_limit: int | None = None


@dataclass(frozen=True)
class Series:
    label: Text
    values: tuple[float | None, ...]
    target: bool = False  # a target line (drawn dashed)


@dataclass(frozen=True)
class Chart:
    key: str
    title: Text
    kind: Literal["line", "column"]
    categories: tuple[str | Text, ...]  # a Text where the name depends on the language
    series: tuple[Series, ...]
    y_kind: Kind  # rate (0..1), count, minutes
    x_label: Text = ("", "")


@dataclass(frozen=True)
class Section:
    key: str
    title: Text
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    paragraphs: tuple[Text, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": {"ja": self.title[0], "en": self.title[1]},
            "tables": {
                t.key: {
                    "columns": [c.key for c in t.columns],
                    "rows": [[_plain(v) for v in r] for r in t.rows],
                    "total": list(t.total) if t.total is not None else None,  # columns[1:]
                }
                for t in self.tables
            },
        }


@dataclass(frozen=True)
class ReportContext:
    """What a section provider gets: everything needed to query its own data."""

    engine: Engine
    service: ServiceConfig
    metrics: MetricsConfig
    month: str  # YYYY-MM
    day_from: str  # the first local day, YYYY-MM-DD
    day_to: str  # the first local day of the next month
    start: datetime  # the month's first instant in the service time zone
    end: datetime  # the next month's first instant
    now: datetime

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)


@dataclass(frozen=True)
class SectionProvider:
    """Adds one section in ``slot``: ``build(ctx)`` returns it, or None to leave it out."""

    slot: Slot
    build: Callable[[ReportContext], Section | None]

    def __post_init__(self) -> None:
        if self.slot not in SLOTS:
            raise ValueError(f"slot: one of {', '.join(SLOTS)}, got {self.slot!r}")


@dataclass(frozen=True)
class SlaLine:
    """One contract figure against its target."""

    key: str
    label: Text
    kind: Kind
    value: float | None
    target: float
    op: Op
    met: bool | None
    over: int | None = None  # calls / incidents / respondents it is over

    @property
    def margin(self) -> float | None:
        """How far inside the target (positive) or past it (negative), in the figure's unit."""
        if self.value is None:
            return None
        return self.value - self.target if self.op == ">=" else self.target - self.value


@dataclass(frozen=True)
class WaitBucket:
    """Abandoned calls that waited in [low, high) seconds (high None: no upper bound;
    low None: no waiting time recorded)."""

    low: float | None
    high: float | None
    calls: int


@dataclass(frozen=True)
class IncidentRisk:
    """An incident of the month past (breached) or near (at_risk) a time target."""

    incident_id: int | None
    category: str | None
    status: str
    figure: str  # handling_seconds, escalation_seconds, progress_seconds
    elapsed_seconds: float
    target_seconds: float
    state: Literal["breached", "at_risk"]


@dataclass(frozen=True)
class ImprovementAction:
    """An improvement action (改善施策) a supervisor wrote for a month."""

    id: int
    month: str
    title: str
    body: str
    owner: str
    status: str  # planned, in_progress, done
    author: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "month": self.month,
            "title": self.title,
            "body": self.body,
            "owner": self.owner,
            "status": self.status,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
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
    timezone: str = "Asia/Tokyo"
    calls_by_day: dict[str, CallFigures] = field(default_factory=dict)
    calls_by_hour: dict[str, CallFigures] = field(default_factory=dict)
    abandoned_by_wait: tuple[WaitBucket, ...] = ()
    incidents_by_category: dict[str, dict[str, int]] = field(default_factory=dict)
    incident_risks: tuple[IncidentRisk, ...] = ()
    actions: tuple[ImprovementAction, ...] = ()
    calls_by_server: dict[str, CallFigures] = field(default_factory=dict)
    # Sections from other areas, by slot (SectionProvider).
    extra: dict[Slot, Section] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "timezone": self.timezone,
            "generated_at": self.generated_at.isoformat(),
            "calls": self.calls.to_dict(),
            "calls_by_queue": {q: f.to_dict() for q, f in self.calls_by_queue.items()},
            "calls_by_day": {d: f.to_dict() for d, f in self.calls_by_day.items()},
            "calls_by_hour": {h: f.to_dict() for h, f in self.calls_by_hour.items()},
            "calls_by_server": {s: f.to_dict() for s, f in self.calls_by_server.items()},
            "abandoned_by_wait": [
                {"from_seconds": b.low, "to_seconds": b.high, "calls": b.calls}
                for b in self.abandoned_by_wait
            ],
            "incidents": {
                "received": self.incidents.incidents,
                "unresolved": self.incidents.unresolved,
                "figures": {k: f.to_dict() for k, f in self.incidents.figures().items()},
                "by_category": self.incidents_by_category,
                "risks": [
                    {
                        "incident_id": r.incident_id,
                        "category": r.category,
                        "status": r.status,
                        "figure": r.figure,
                        "elapsed_seconds": r.elapsed_seconds,
                        "target_seconds": r.target_seconds,
                        "state": r.state,
                    }
                    for r in self.incident_risks
                ],
            },
            "improvement_actions": [a.to_dict() for a in self.actions],
            "sections": {slot: s.to_dict() for slot, s in self.extra.items()},
            **self.record,
        }
