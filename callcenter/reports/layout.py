"""The order of the monthly report's sections, and where other areas' sections go."""

from __future__ import annotations

from callcenter.reports.model import MonthlyReport, Section, Slot
from callcenter.reports.sections import abandoned, calls, incidents, summary

# (section key or slot). A slot is drawn only when a SectionProvider filled it.
ORDER: tuple[str, ...] = (
    "sla",
    "by_day",
    "by_hour",
    "by_queue",
    "agent_activity",  # slot: agent activity (callcenter.agents.activity)
    "abandoned",
    "followups",  # slot: the follow-up list (callcenter.followups)
    "incidents",
    "actions",
    "record",
)

_BUILT = {
    "sla": summary.sla_section,
    "by_day": calls.by_day_section,
    "by_hour": calls.by_hour_section,
    "by_queue": calls.by_queue_section,
    "abandoned": abandoned.section,
    "incidents": incidents.section,
    "actions": summary.actions_section,
    "record": summary.record_section,
}


def sections(report: MonthlyReport) -> list[Section]:
    out = []
    for key in ORDER:
        if key in _BUILT:
            out.append(_BUILT[key](report))
        else:
            slot: Slot = key  # type: ignore[assignment]
            if slot in report.extra:
                out.append(report.extra[slot])
    return out
