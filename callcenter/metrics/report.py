"""Call figures as text for people and as JSON for programs (used by `callcenter metrics`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter.metrics.figures import CallFigures, Grouping, GroupKey, key_label

_TARGET_TEXT = {"abandonment_rate": "<", "busy_rate": "<", "service_level": ">="}


def grouped_json(by: Grouping, groups: Mapping[GroupKey, CallFigures], total: CallFigures) -> Any:
    return {
        "by": by,
        "groups": {key_label(k): f.to_dict() for k, f in groups.items()},
        "total": total.to_dict(),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} s"


def _met(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "n/a (no incoming calls)"}[met]


def figures_text(f: CallFigures) -> list[str]:
    sl = f"{f.service_level_seconds:g}"
    counts = [
        ("calls", f.calls),
        ("  after hours (not in rates)", f.after_hours),
        ("  unknown (not in rates)", f.unknown),
        (f"  short abandons < {f.cfg.short_abandon_seconds:g} s (not in rates)", f.short_abandoned),
        ("total incoming", f.total_incoming),
        ("  answered", f.answered),
        ("    of which after the busy announcement (busy)", f.busy),
        (f"    of which within {sl} s", f.answered_within_sl),
        ("  abandoned", f.abandoned),
        ("  transferred out", f.transferred_out),
        ("  voicemail", f.voicemail),
        ("  callback", f.callback),
        ("  failed", f.failed),
    ]
    width = max(len(label) for label, _ in counts)
    lines = [f"{label:<{width}}  {n:>9,}" for label, n in counts]
    lines.append("")
    rates = [
        ("abandonment rate", f.abandonment_rate, "abandonment_rate"),
        ("busy rate", f.busy_rate, "busy_rate"),
        (f"service level ({sl} s)", f.service_level, "service_level"),
    ]
    targets = f.targets
    for label, value, key in rates:
        t = targets[key]
        lines.append(
            f"{label:<{width}}  {_pct(value):>9}   target {_TARGET_TEXT[key]} {_pct(t.target)}: "
            f"{_met(t.met)}"
        )
    lines.append(f"{'average speed of answer':<{width}}  {_secs(f.asa_seconds):>9}")
    lines.append(f"{'average handle time':<{width}}  {_secs(f.aht_seconds):>9}")
    lines.append(f"{'longest wait':<{width}}  {_secs(f.max_wait_seconds):>9}")
    return lines


_COLUMNS = (
    "calls",
    "incoming",
    "answered",
    "abandoned",
    "short",
    "busy",
    "after hrs",
    "abandon %",
    "busy %",
    "SL %",
    "ASA",
    "AHT",
    "max wait",
)


def _row(f: CallFigures) -> list[str]:
    return [
        f"{f.calls:,}",
        f"{f.total_incoming:,}",
        f"{f.answered:,}",
        f"{f.abandoned:,}",
        f"{f.short_abandoned:,}",
        f"{f.busy:,}",
        f"{f.after_hours:,}",
        _pct(f.abandonment_rate),
        _pct(f.busy_rate),
        _pct(f.service_level),
        _secs(f.asa_seconds),
        _secs(f.aht_seconds),
        _secs(f.max_wait_seconds),
    ]


def grouped_text(
    by: Grouping, groups: Mapping[GroupKey, CallFigures], total: CallFigures
) -> list[str]:
    table = [[by, *_COLUMNS]]
    table += [[key_label(k), *_row(f)] for k, f in groups.items()]
    table.append(["total", *_row(total)])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]

    def fmt(r: list[str]) -> str:
        right = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join([r[0].ljust(widths[0]), *right])

    rule = "-" * len(fmt(table[0]))
    lines = [fmt(table[0]), rule, *(fmt(r) for r in table[1:-1]), rule, fmt(table[-1]), ""]
    lines.append("total:")
    lines += ["  " + line if line else line for line in figures_text(total)]
    return lines
