"""An active and a standby daemon for one PBX (issue 13, item 4; decision 0019).

With ``[cluster] standby = true``, every daemon of a server competes for the lease
``active/<server id>`` (store.leases). The one that holds it acts; the others stand by:
they follow the PBX over AMI like the active one (live state, call tracking: the
wallboard and the open calls stay warm) but write nothing: no event log, no calls, no
agent activity, no incidents, no reading of the PBX record. What they would have written
they hold for a while (``HOLD_SECONDS``).

The active daemon renews the lease every third of ``failover_seconds``. When it dies
the lease runs out, a standby takes it (within ``failover_seconds`` plus a renewal) and
takes over: what it held is written (calls by (server, linkedid), one incident per call:
both idempotent, so whatever the dead one had already written is not doubled), its
PBX-record reading starts (it completes the calls of the gap from Asterisk's own record),
and a resync records the agents' states as they are. The raw events of the gap (from the
active's last write to the takeover) are not in the event log: the coverage names them.

A daemon that finds the lease taken by another while it thought itself active (it was
cut off from the database longer than the lease) stands down: two writers for one PBX
would double the raw events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.cluster.settings import ClusterSettings
from callcenter.store import leases
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.facts import SurveyAnswered

log = structlog.get_logger("callcenter.standby")

# What a standby keeps of what it would have written: long past the lease's few seconds,
# so that a takeover after a slow renewal still covers the dead daemon's last writes.
HOLD_SECONDS = 600.0
HOLD_MAX = 20_000


def lease_name(server_id: str) -> str:
    return f"active/{server_id}"


class ActiveRole:
    def __init__(
        self,
        engine: Engine,
        server_id: str,
        settings: ClusterSettings,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.server_id = server_id
        self.enabled = settings.standby
        self.ttl = settings.failover_seconds
        self.holder = holder or f"{server_id}/{uuid.uuid4().hex}"
        self.clock = clock
        self.active = not self.enabled  # without standby, every daemon acts
        self.took_over_at: float | None = None
        self.on_takeover: Callable[[], Awaitable[None]] | None = None
        self.finished: deque[CallRecord] = deque(maxlen=HOLD_MAX)
        self.answered: deque[CallRecord] = deque(maxlen=HOLD_MAX)
        self.surveys: deque[SurveyAnswered] = deque(maxlen=HOLD_MAX)

    # -- what a standby holds -------------------------------------------------------------

    def hold_finished(self, call: CallRecord) -> None:
        self._trim()
        self.finished.append(call)

    def hold_answered(self, call: CallRecord) -> None:
        self._trim()
        self.answered.append(call)

    def hold_survey(self, fact: SurveyAnswered) -> None:
        self._trim()
        self.surveys.append(fact)

    def _trim(self) -> None:
        old = self.clock() - HOLD_SECONDS
        while self.finished and (self.finished[0].ended_at or 0.0) < old:
            self.finished.popleft()
        while self.answered and (self.answered[0].answered_at or 0.0) < old:
            self.answered.popleft()
        while self.surveys and self.surveys[0].at < old:
            self.surveys.popleft()

    def take_held(self) -> tuple[list[CallRecord], list[CallRecord], list[SurveyAnswered]]:
        self._trim()
        held = (list(self.finished), list(self.answered), list(self.surveys))
        self.finished.clear()
        self.answered.clear()
        self.surveys.clear()
        return held

    # -- the lease ------------------------------------------------------------------------

    async def claim(self) -> bool:
        """One attempt at the lease (take or renew); acts on what it says. Returns
        whether this daemon is active now."""
        if not self.enabled:
            return True
        now = datetime.fromtimestamp(self.clock(), UTC)
        try:
            mine = await asyncio.to_thread(
                leases.acquire,
                self.engine,
                lease_name(self.server_id),
                self.holder,
                now,
                timedelta(seconds=self.ttl),
            )
        except SQLAlchemyError as exc:
            # Nobody can take the lease while the database is away: stay as we are.
            log.warning("standby.lease_failed", error=type(exc).__name__)
            return self.active
        if mine and not self.active:
            self.active = True
            self.took_over_at = self.clock()
            log.warning("standby.taking_over", server=self.server_id, holder=self.holder)
            if self.on_takeover is not None:
                await self.on_takeover()
        elif not mine and self.active:
            self.active = False
            log.error("standby.standing_down", server=self.server_id, holder=self.holder)
        return self.active

    async def run(self) -> None:
        while True:
            await self.claim()
            await asyncio.sleep(self.ttl / 3)
