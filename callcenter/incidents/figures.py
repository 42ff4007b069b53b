"""The contract's incident figures (SPEC 3; definitions: docs/incidents.md).

Every duration is business time on a ``BusinessCalendar``: a clock starts at
``received_effective(received_at)`` (a contact outside service hours counts from the next
opening) and only open time counts (``business_seconds``). Figures are held as a count
and a total, the value derived on demand, as the call figures are. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from callcenter.incidents.model import (
    SATISFACTION_SCORES,
    Flag,
    Incident,
    SurveyResponse,
    utc,
)
from callcenter.incidents.settings import IncidentsConfig
from callcenter.schedule.calendar import BusinessCalendar

FigureName = Literal[
    "first_contact_resolution",
    "handling_seconds",
    "escalation_seconds",
    "progress_seconds",
    "satisfaction",
]
# Incidents with any of these flags are left out of the figure (numerator and denominator).
FCR_EXCLUDED: frozenset[Flag] = frozenset({"technical_investigation"})
HANDLING_EXCLUDED: frozenset[Flag] = frozenset({"technical_investigation", "vendor_investigation"})
PROGRESS_EXCLUDED: frozenset[Flag] = frozenset({"caller_set_contact_time"})


@dataclass(frozen=True)
class IncidentTargets:
    first_contact_resolution: float = 0.90  # met at or above
    handling_seconds: float = 1800.0  # met at or below (the average)
    escalation_seconds: float = 600.0  # met at or below
    progress_seconds: float = 1800.0  # met at or below
    satisfaction: float = 75.0  # met at or above, out of 100

    @classmethod
    def from_config(cls, cfg: IncidentsConfig) -> IncidentTargets:
        """The targets of the ``[incidents]`` section (minutes there, seconds here)."""
        return cls(
            first_contact_resolution=cfg.first_contact_resolution_target,
            handling_seconds=cfg.handling_minutes_target * 60,
            escalation_seconds=cfg.escalation_minutes_target * 60,
            progress_seconds=cfg.progress_report_minutes_target * 60,
            satisfaction=cfg.satisfaction_target,
        )

    def __post_init__(self) -> None:
        if not 0.0 <= self.first_contact_resolution <= 1.0:
            raise ValueError("first_contact_resolution: a rate between 0 and 1")
        if not 0.0 <= self.satisfaction <= 100.0:
            raise ValueError("satisfaction: a score between 0 and 100")
        for name in ("handling_seconds", "escalation_seconds", "progress_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: a positive number of seconds")


@dataclass(frozen=True)
class Figure:
    count: int  # incidents (respondents, for satisfaction) the figure is over
    total: float  # the rate's numerator, or the sum of seconds / scores
    target: float
    at_least: bool  # the target is a minimum (rate, satisfaction), else a maximum

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def met(self) -> bool | None:
        """None: nothing to measure, so nothing to meet."""
        value = self.value
        if value is None:
            return None
        return value >= self.target if self.at_least else value <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count, "target": self.target, "met": self.met}


@dataclass(frozen=True)
class IncidentFigures:
    start: datetime  # incidents received, and survey responses given, in [start, end)
    end: datetime
    incidents: int  # received in the period, flags or not
    unresolved: int  # of those, not resolved yet: the period's figures may still change
    first_contact_resolution: Figure
    handling_seconds: Figure
    escalation_seconds: Figure
    progress_seconds: Figure
    satisfaction: Figure

    def figures(self) -> dict[FigureName, Figure]:
        return {
            "first_contact_resolution": self.first_contact_resolution,
            "handling_seconds": self.handling_seconds,
            "escalation_seconds": self.escalation_seconds,
            "progress_seconds": self.progress_seconds,
            "satisfaction": self.satisfaction,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "incidents": self.incidents,
            "unresolved": self.unresolved,
            **{name: f.to_dict() for name, f in self.figures().items()},
        }


# -- one incident --------------------------------------------------------------------


def clock_start(incident: Incident, calendar: BusinessCalendar) -> datetime:
    """When the incident's clocks start: its arrival, or the next opening if closed then."""
    return calendar.received_effective(incident.received_at)


def escalation_hold_seconds(
    incident: Incident, calendar: BusinessCalendar, until: datetime
) -> float:
    """Business time the second line held it (escalated -> answered, else ``until``),
    clipped to the incident's own span [clock start, ``until``]."""
    if incident.escalated_at is None:
        return 0.0
    start = clock_start(incident, calendar)
    answered = incident.escalation_answered_at or until
    lo = max(incident.escalated_at, start, key=utc)
    hi = min(answered, until, key=utc)
    return calendar.business_seconds(lo, hi)


def handling_seconds(
    incident: Incident, calendar: BusinessCalendar, until: datetime | None = None
) -> float | None:
    """Clock start -> resolved (or ``until``), less the escalation hold; None if unresolved."""
    end = until if until is not None else incident.resolved_at
    if end is None:
        return None
    span = calendar.business_seconds(clock_start(incident, calendar), end)
    # The hold is inside the span, so this is >= 0 but for float rounding.
    return max(0.0, span - escalation_hold_seconds(incident, calendar, end))


def escalation_seconds(incident: Incident, calendar: BusinessCalendar) -> float | None:
    """Clock start -> escalated; None if never escalated."""
    if incident.escalated_at is None:
        return None
    return calendar.business_seconds(clock_start(incident, calendar), incident.escalated_at)


def progress_seconds(incident: Incident, calendar: BusinessCalendar) -> float | None:
    """Clock start -> the first progress report; None if there is none."""
    if incident.first_progress_at is None:
        return None
    return calendar.business_seconds(clock_start(incident, calendar), incident.first_progress_at)


def satisfaction_score(answers: Iterable[int]) -> float | None:
    """The mean score (0-100) of some answers; None for no answers."""
    scores = [SATISFACTION_SCORES[a] for a in answers]
    return sum(scores) / len(scores) if scores else None


# -- a period ------------------------------------------------------------------------


def month_range(year: int, month: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """[first instant of the month, first instant of the next) in ``tz``."""
    if not 1 <= month <= 12:
        raise ValueError(f"month: 1 to 12, got {month}")
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=tz), datetime(*nxt, 1, tzinfo=tz)


def _within(at: datetime, start: datetime, end: datetime) -> bool:
    return utc(start) <= utc(at) < utc(end)


def incident_figures(
    incidents: Iterable[Incident],
    responses: Iterable[SurveyResponse],
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    targets: IncidentTargets | None = None,
) -> IncidentFigures:
    """The five figures over incidents received, and responses given, in [start, end)."""
    t = targets or IncidentTargets()
    taken = [i for i in incidents if _within(i.received_at, start, end)]
    fcr_n = fcr_ok = handle_n = esc_n = prog_n = 0
    handle_sum = esc_sum = prog_sum = 0.0
    for inc in taken:
        resolved = inc.resolved_at is not None
        if not inc.flags & FCR_EXCLUDED:
            fcr_n += 1
            fcr_ok += resolved and inc.escalated_at is None
        if resolved and not inc.flags & HANDLING_EXCLUDED:
            handle_n += 1
            handle_sum += handling_seconds(inc, calendar) or 0.0
        esc = escalation_seconds(inc, calendar)
        if esc is not None:
            esc_n += 1
            esc_sum += esc
            prog = progress_seconds(inc, calendar)
            if prog is not None and not inc.flags & PROGRESS_EXCLUDED:
                prog_n += 1
                prog_sum += prog
    answers: dict[str, list[int]] = {}
    for r in responses:
        if _within(r.at, start, end):
            answers.setdefault(r.respondent, []).extend(r.answers)
    means = [m for m in map(satisfaction_score, answers.values()) if m is not None]
    return IncidentFigures(
        start=start,
        end=end,
        incidents=len(taken),
        unresolved=sum(i.resolved_at is None for i in taken),
        first_contact_resolution=Figure(fcr_n, fcr_ok, t.first_contact_resolution, True),
        handling_seconds=Figure(handle_n, handle_sum, t.handling_seconds, False),
        escalation_seconds=Figure(esc_n, esc_sum, t.escalation_seconds, False),
        progress_seconds=Figure(prog_n, prog_sum, t.progress_seconds, False),
        satisfaction=Figure(len(means), sum(means), t.satisfaction, True),
    )


def monthly_figures(
    incidents: Iterable[Incident],
    responses: Iterable[SurveyResponse],
    calendar: BusinessCalendar,
    year: int,
    month: int,
    targets: IncidentTargets | None = None,
) -> IncidentFigures:
    """The figures of a calendar month in the calendar's (the service's) time zone."""
    start, end = month_range(year, month, calendar.tz)
    return incident_figures(incidents, responses, calendar, start, end, targets)


# -- what needs fast action ----------------------------------------------------------

RiskState = Literal["breached", "at_risk"]


@dataclass(frozen=True)
class Risk:
    incident_id: int | None
    figure: FigureName  # handling_seconds or progress_seconds
    elapsed_seconds: float  # business seconds on the figure's clock so far
    target_seconds: float
    state: RiskState  # breached: past the target; at_risk: past warn_fraction of it

    @property
    def urgency(self) -> float:
        return self.elapsed_seconds / self.target_seconds


def _most_urgent_first(r: Risk) -> tuple[bool, float, bool, int, str]:
    return (r.state != "breached", -r.urgency, r.incident_id is None, r.incident_id or 0, r.figure)


def at_risk(
    incidents: Iterable[Incident],
    now: datetime,
    calendar: BusinessCalendar,
    targets: IncidentTargets | None = None,
    warn_fraction: float = 0.8,
) -> list[Risk]:
    """Unresolved incidents whose own clock is past, or near, a time target; most urgent first.

    The targets are monthly averages; one incident over is not a breach of the contract,
    but it is what pulls the average up, so it is what the desk must act on.
    """
    if not 0.0 < warn_fraction <= 1.0:
        raise ValueError(f"warn_fraction: above 0 and at most 1, got {warn_fraction}")
    t = targets or IncidentTargets()
    risks: list[Risk] = []

    def check(inc: Incident, figure: FigureName, elapsed: float, target: float) -> None:
        if elapsed > target:
            risks.append(Risk(inc.id, figure, elapsed, target, "breached"))
        elif elapsed > 0 and elapsed >= warn_fraction * target:
            risks.append(Risk(inc.id, figure, elapsed, target, "at_risk"))

    for inc in incidents:
        if inc.resolved_at is not None or not inc.is_open:
            continue
        if not inc.flags & HANDLING_EXCLUDED:
            elapsed = handling_seconds(inc, calendar, now) or 0.0
            check(inc, "handling_seconds", elapsed, t.handling_seconds)
        if (
            inc.escalated_at is not None
            and inc.first_progress_at is None
            and not inc.flags & PROGRESS_EXCLUDED
        ):
            elapsed = calendar.business_seconds(clock_start(inc, calendar), now)
            check(inc, "progress_seconds", elapsed, t.progress_seconds)
    # Not escalation: an incident not escalated yet may never be (the desk solving it is
    # the good outcome), so warning on it would push towards needless escalations.
    risks.sort(key=_most_urgent_first)
    return risks
