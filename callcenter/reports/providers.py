"""The sections other areas add to the monthly report, for one daemon's configuration:
agent activity, and the follow-up list's recall figures."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.dialplan.settings import QueueConfig
from callcenter.reports.model import SectionProvider
from callcenter.reports.sections.agents import agent_activity
from callcenter.reports.sections.followups import FOLLOWUPS


def providers_for(server_id: str, queues: Sequence[QueueConfig]) -> tuple[SectionProvider, ...]:
    wrapup = {q.name: float(q.wrapuptime) for q in queues}
    return (agent_activity(server_id, wrapup), FOLLOWUPS)
