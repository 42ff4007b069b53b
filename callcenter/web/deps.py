"""What the API and the pages work on, handed in by the daemon (or a test): its own
module, so the route modules import it and the application imports them, one way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from callcenter.agents import AgentService
from callcenter.calls import CallControl
from callcenter.config import Config
from callcenter.followups.desk import FollowupDesk
from callcenter.incidents.figures import IncidentTargets
from callcenter.incidents.store import IncidentStore
from callcenter.metrics import CallFigures
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.store.audit import AuditLog
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.live import LiveState
from callcenter.web.auth import TokenStore


@dataclass(frozen=True)
class PbxDeps:
    """The daemon's live PBX side, for the queue, agent, call, parking, metrics and
    service-mode routes (None in tests that only exercise incidents)."""

    cfg: Config
    live: LiveState
    agents: AgentService
    calls: CallControl
    # Today so far (service time zone), all queues (None) or one.
    today_figures: Callable[[str | None], CallFigures]
    service_mode: ModeKeeper | None  # None when the daemon does not manage the mode
    # The calls in progress as the call tracker has them, by Linkedid (queue, arrival,
    # queue join and answer times). None: the views fall back on what the live state
    # alone tells (wait times from the channel's creation, no queue for /calls).
    open_calls: Callable[[], Mapping[str, CallRecord]] | None = None
    # For the figures of past days (GET /metrics); None answers 503 there.
    engine: Engine | None = None
    # Today's coverage as the daemon last measured it (coverage.CoverageKeeper.today).
    today_coverage: Callable[[], dict[str, Any] | None] | None = None
    # The follow-up list and the call-backs (None: [followups] enabled = false).
    followups: FollowupDesk | None = None


@dataclass(frozen=True)
class ApiDeps:
    """What the API works on. More will come (queues, agents, calls, service mode)."""

    incidents: IncidentStore
    tokens: TokenStore
    calendar: BusinessCalendar
    targets: IncidentTargets = field(default_factory=IncidentTargets)
    # The shared secret of the second line's signed answers; "" turns the endpoint off.
    second_line_secret: str = field(default="", repr=False)
    # The TLS proxies in front ([http] trusted_proxies): their X-Forwarded-Proto counts.
    trusted_proxies: tuple[str, ...] = ()
    # None: the real time. Tests pass a settable clock; every action's time comes from it.
    clock: Callable[[], datetime] | None = None
    pbx: PbxDeps | None = None
    # The audit trail every change through the API is written to (None: not kept).
    audit: AuditLog | None = None

    def now(self) -> datetime:
        """Now, in UTC: the store keeps UTC, and on SQLite a time in another zone would be
        stored as its wall time and read back as UTC."""
        at = self.clock() if self.clock is not None else datetime.now(UTC)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("ApiDeps.clock must return aware datetimes")
        return at.astimezone(UTC)
