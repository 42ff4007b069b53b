"""Call figures over a set of finished calls (definitions: docs/metrics.md).

Figures are held as counts and sums, never as rates: counts and sums add up (a month's
figures are the sum of its days'), rates do not. Rates and means are derived from them on
demand. Pure code, no I/O; ``callcenter.metrics.sql`` computes the same counts in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from callcenter.metrics.settings import MetricsConfig
from callcenter.telephony.calls import CallRecord, Outcome

Grouping = Literal["queue", "agent", "hour", "day", "month", "server"]
GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)
GroupKey = str | int | None  # None: calls with no queue / no agent

OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
# Reported, but outside both rates, numerator and denominator.
EXCLUDED: tuple[str, ...] = ("after_hours", "unknown", "short_abandoned")
COUNTS: tuple[str, ...] = (*OUTCOMES, "busy", "answered_within_sl")
# What adds up when figures are combined; everything else is derived from these and the max.
_SUMMED = (*COUNTS, "wait_count", "wait_sum", "handle_count", "handle_sum")


@dataclass(frozen=True)
class Target:
    target: float
    met: bool | None  # None: no incoming calls, so nothing to meet


@dataclass(frozen=True)
class CallFigures:
    """Counts and sums over some calls; ``+`` adds figures taken with the same settings."""

    cfg: MetricsConfig  # the settings the counts were taken with (thresholds, targets)
    # One count per outcome (the field names are the Outcome values).
    after_hours: int = 0
    answered: int = 0
    transferred_out: int = 0
    voicemail: int = 0
    callback: int = 0
    failed: int = 0
    unknown: int = 0
    short_abandoned: int = 0
    abandoned: int = 0
    busy: int = 0  # answered after the busy announcement had started
    answered_within_sl: int = 0  # answered with wait_seconds <= service_level_seconds
    # Answered calls' waits and handle times. Counted apart from `answered` so that a
    # record missing a time is left out of the mean, as SQL's AVG would.
    wait_count: int = 0
    wait_sum: float = 0.0
    handle_count: int = 0
    handle_sum: float = 0.0
    max_wait_seconds: float | None = None  # of answered or abandoned calls

    def __add__(self, other: CallFigures) -> CallFigures:
        if not isinstance(other, CallFigures):
            return NotImplemented
        if other.cfg != self.cfg:
            # Counts like answered_within_sl depend on the settings: never mix them.
            raise ValueError("cannot add figures taken with different metrics settings")
        waits = [w for w in (self.max_wait_seconds, other.max_wait_seconds) if w is not None]
        return replace(
            self,
            **{name: getattr(self, name) + getattr(other, name) for name in _SUMMED},
            max_wait_seconds=max(waits) if waits else None,
        )

    def __sub__(self, other: CallFigures) -> CallFigures:
        """Take calls back out (one replaced by a better record of it). The longest wait
        cannot be taken back: it stays the longest seen."""
        if not isinstance(other, CallFigures):
            return NotImplemented
        if other.cfg != self.cfg:
            raise ValueError("cannot subtract figures taken with different metrics settings")
        return replace(
            self, **{name: getattr(self, name) - getattr(other, name) for name in _SUMMED}
        )

    @property
    def calls(self) -> int:
        return sum(int(getattr(self, o)) for o in OUTCOMES)

    @property
    def total_incoming(self) -> int:
        return self.calls - sum(int(getattr(self, o)) for o in EXCLUDED)

    def _rate(self, count: int) -> float:
        return count / self.total_incoming if self.total_incoming else 0.0

    @property
    def answer_rate(self) -> float:
        """応答率 in the monthly report: answered / total_incoming (busy ones included).

        Not in ``to_dict`` (yet): the API's published CallFigures model forbids unknown
        keys, so adding it there is a change of the web contract, made with it."""
        return self._rate(self.answered)

    @property
    def abandonment_rate(self) -> float:
        return self._rate(self.abandoned)

    @property
    def busy_rate(self) -> float:
        return self._rate(self.busy)

    @property
    def service_level(self) -> float:
        return self._rate(self.answered_within_sl)

    @property
    def service_level_seconds(self) -> float:
        return self.cfg.service_level_seconds

    @property
    def asa_seconds(self) -> float | None:
        return self.wait_sum / self.wait_count if self.wait_count else None

    @property
    def aht_seconds(self) -> float | None:
        return self.handle_sum / self.handle_count if self.handle_count else None

    @property
    def targets(self) -> dict[str, Target]:
        cfg = self.cfg
        if self.total_incoming == 0:
            return {
                "abandonment_rate": Target(cfg.abandonment_rate_target, None),
                "busy_rate": Target(cfg.busy_rate_target, None),
                "service_level": Target(cfg.service_level_target, None),
            }
        return {
            "abandonment_rate": Target(
                cfg.abandonment_rate_target, self.abandonment_rate < cfg.abandonment_rate_target
            ),
            "busy_rate": Target(cfg.busy_rate_target, self.busy_rate < cfg.busy_rate_target),
            "service_level": Target(
                cfg.service_level_target, self.service_level >= cfg.service_level_target
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "total_incoming": self.total_incoming,
            **{name: getattr(self, name) for name in COUNTS},
            "abandonment_rate": self.abandonment_rate,
            "busy_rate": self.busy_rate,
            "service_level": self.service_level,
            "service_level_seconds": self.service_level_seconds,
            "short_abandon_seconds": self.cfg.short_abandon_seconds,
            "asa_seconds": self.asa_seconds,
            "aht_seconds": self.aht_seconds,
            "max_wait_seconds": self.max_wait_seconds,
            "targets": {k: {"target": t.target, "met": t.met} for k, t in self.targets.items()},
        }


def compute_figures(records: Iterable[CallRecord], cfg: MetricsConfig) -> CallFigures:
    """Figures over finished calls; a call without an outcome is an error (not finished)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    busy = within = wait_n = handle_n = 0
    wait_sum = handle_sum = 0.0
    max_wait: float | None = None
    for r in records:
        if r.outcome is None:
            raise ValueError(f"call {r.linkedid} has no outcome: it is not finished")
        counts[r.outcome.value] += 1
        wait = r.wait_seconds
        if r.outcome is Outcome.ANSWERED:
            busy += r.heard_busy
            if wait is not None:
                wait_n += 1
                wait_sum += wait
                within += wait <= cfg.service_level_seconds
            handle = r.handle_seconds
            if handle is not None:
                handle_n += 1
                handle_sum += handle
        if wait is not None and r.outcome in (Outcome.ANSWERED, Outcome.ABANDONED):
            max_wait = wait if max_wait is None else max(max_wait, wait)
    return CallFigures(
        cfg,
        **counts,
        busy=busy,
        answered_within_sl=within,
        wait_count=wait_n,
        wait_sum=wait_sum,
        handle_count=handle_n,
        handle_sum=handle_sum,
        max_wait_seconds=max_wait,
    )


def combine(parts: Iterable[CallFigures], cfg: MetricsConfig) -> CallFigures:
    """The figures of the union of disjoint sets of calls (e.g. days into a month)."""
    total = CallFigures(cfg)
    for part in parts:
        total += part
    return total


def group_key(record: CallRecord, by: Grouping, tz: ZoneInfo) -> GroupKey:
    """The group of a call, as the calls table stores it (telephony.callrows.call_row)."""
    if by == "queue":
        return record.queue
    if by == "agent":
        return record.agent  # only answered calls have one
    if by == "server":
        return record.server_id
    local = datetime.fromtimestamp(record.arrived_at, tz)
    if by == "hour":
        return local.hour
    return local.strftime("%Y-%m-%d" if by == "day" else "%Y-%m")


def sort_key(key: GroupKey) -> tuple[bool, int, str]:
    """Groups in order of their key, the no-queue / no-agent group last."""
    return (key is None, key if isinstance(key, int) else 0, key if isinstance(key, str) else "")


def key_label(key: GroupKey) -> str:
    if key is None:
        return "(none)"
    return f"{key:02d}" if isinstance(key, int) else key


def compute_grouped(
    records: Iterable[CallRecord], cfg: MetricsConfig, by: Grouping, tz: ZoneInfo
) -> dict[GroupKey, CallFigures]:
    groups: dict[GroupKey, list[CallRecord]] = {}
    for r in records:
        groups.setdefault(group_key(r, by, tz), []).append(r)
    return {k: compute_figures(groups[k], cfg) for k in sorted(groups, key=sort_key)}
