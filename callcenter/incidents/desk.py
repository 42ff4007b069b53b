"""The daemon's side of incidents: open one for every answered call, store the answers
of the phone survey; off the event loop, in order, retried until the database has them.

AMI events arrive on the loop and must never wait for the database, so the event
handler only queues a job. One worker runs the jobs in arrival order (a survey answer
always after the opening of its call's incident) through ``asyncio.to_thread``; a
database error retries the same job with backoff, so an outage delays incidents but
loses none. Opening is idempotent in the store (one incident per call), so a job run
twice (a resync that finds the call again, a retry after a lost commit) is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError

from callcenter.backoff import backoff
from callcenter.incidents.model import Incident, IncidentError, SurveyResponse
from callcenter.incidents.store import IncidentNotFound, IncidentStore
from callcenter.store.quarantine import (
    is_transient,
    record_original,
    short_error,
    store_quarantined,
)
from callcenter.telephony.calls import CallRecord

log = structlog.get_logger("callcenter.incidents")

# Incidents opened by this run kept for a look (tests, debugging): the last ones only,
# so a daemon that runs for months does not grow by one incident per answered call.
OPENED_KEEP = 1000
# A database refusal that is not an outage (an IntegrityError of a lost race) gets a
# few tries; past that, retrying the same job would fail forever.
REFUSED_TRIES = 3
# Openings written in one transaction at most (the backlog after an outage is written
# in slices of this many, so no transaction grows without bound).
OPEN_BATCH = 200


@dataclass(frozen=True)
class _Open:
    call: CallRecord


@dataclass(frozen=True)
class _Survey:
    server_id: str
    linkedid: str
    respondent: str
    answer: int
    at: datetime


class IncidentDesk:
    def __init__(
        self,
        store: IncidentStore,
        *,
        agent_ids: Mapping[str, str] | None = None,
        repeat_window: timedelta = timedelta(hours=24),
        retry_min: float = 0.2,
        retry_max: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        on_opened: Callable[[Incident], None] | None = None,
        gather: float = 0.0,
    ) -> None:
        """``agent_ids``: agent name -> id, for calls whose agent is known by name only.
        ``gather``: how long an opening waits for others to share its transaction."""
        self.store = store
        self.agent_ids = dict(agent_ids or {})
        self.repeat_window = repeat_window
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._clock = clock or (lambda: datetime.now(UTC))
        self.on_opened = on_opened
        self.gather = gather
        self._jobs: asyncio.Queue[_Open | _Survey] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # linkedid -> incident, the last OPENED_KEEP opened by this run
        self.opened: OrderedDict[str, Incident] = OrderedDict()
        self.opened_count = 0
        self.failures = 0
        self.quarantined = 0

    # -- from the event handler (never blocks) -------------------------------------------

    def call_answered(self, call: CallRecord) -> None:
        # A copy: the tracker goes on changing the record (hangup, transfers).
        self._jobs.put_nowait(_Open(copy.copy(call)))

    def survey_answer(
        self, server_id: str, linkedid: str, respondent: str, answer: int, at: datetime
    ) -> None:
        self._jobs.put_nowait(_Survey(server_id, linkedid, respondent, answer, at))

    @property
    def pending(self) -> int:
        return self._jobs.qsize()

    # -- the worker ----------------------------------------------------------------------

    async def start(
        self,
        spawn: Callable[[str, Callable[[], Awaitable[None]]], asyncio.Task[None]] | None = None,
    ) -> None:
        """Start the worker; ``spawn`` (e.g. ``Supervisor.start``) runs it supervised."""
        if self._task is None:
            if spawn is None:
                self._task = asyncio.create_task(self._work(), name="incident-desk")
            else:
                self._task = spawn("incident-desk", self._work)

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Finish the queued jobs (for a while), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._jobs.join(), drain_seconds)
        if self.pending:
            log.warning("incidents.stopped_with_pending", pending=self.pending)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _work(self) -> None:
        while True:
            jobs = [await self._jobs.get()]
            # Every opening queued since the last write goes in one transaction (up to
            # OPEN_BATCH): under load a commit per answered call was the largest part
            # of the daemon's CPU (bench/per_call). At a steady rate answers come one
            # by one, so the first waits ``gather`` for the next ones (the agent's
            # console shows the incident that much later). A survey ends the batch, so
            # it is still stored after the opening of its call's incident.
            if isinstance(jobs[0], _Open) and self.gather > 0:
                await asyncio.sleep(self.gather)
            while isinstance(jobs[-1], _Open) and len(jobs) < OPEN_BATCH and not self._jobs.empty():
                jobs.append(self._jobs.get_nowait())
            try:
                opens = [j for j in jobs if isinstance(j, _Open)]
                if len(opens) > 1:
                    await self._do_opens(opens)
                elif opens:
                    await self._do(opens[0])
                if not isinstance(jobs[-1], _Open):
                    await self._do(jobs[-1])
            finally:
                for _ in jobs:
                    self._jobs.task_done()

    async def _do_opens(self, jobs: list[_Open]) -> None:
        """Open several calls' incidents at once; an outage is retried as a whole, and
        anything else runs them one by one, so only a bad one is quarantined."""
        attempt = 0
        while True:
            try:
                await asyncio.to_thread(self._open_many, [j.call for j in jobs])
                return
            except Exception as exc:
                if not is_transient(exc):
                    break
                attempt += 1
                await self._wait_out(exc, attempt, calls=len(jobs))
        for job in jobs:
            await self._do(job)

    async def _wait_out(self, exc: Exception, attempt: int, **fields: int) -> None:
        """A failed try (``attempt``-th): counted, said, and the backoff slept."""
        self.failures += 1
        delay = backoff(attempt - 1, self.retry_min, self.retry_max)
        log.warning(
            "incidents.store_failed",
            error=type(exc).__name__,
            attempt=attempt,
            retry_in=round(delay, 2),
            **fields,
        )
        await asyncio.sleep(delay)

    async def _do(self, job: _Open | _Survey) -> None:
        """Run one job: outages are retried until they end; a job that cannot succeed is
        quarantined, and the worker goes on with the next (one bad job must not stop
        the incidents of every later call)."""
        attempt = 0
        while True:
            try:
                await asyncio.to_thread(self._run, job)
                return
            except (IncidentError, IncidentNotFound, ValueError) as exc:
                # Cannot succeed by retrying: say so loudly, go on with the next.
                log.error("incidents.job_refused", job=type(job).__name__, error=str(exc))
                await self._quarantine(job, exc)
                return
            except Exception as exc:
                attempt += 1
                transient = is_transient(exc)
                if transient or (isinstance(exc, SQLAlchemyError) and attempt < REFUSED_TRIES):
                    await self._wait_out(exc, attempt)
                    continue
                log.error(
                    "incidents.job_failed",
                    job=type(job).__name__,
                    error=type(exc).__name__,
                    exc_info=True,
                )
                await self._quarantine(job, exc)
                return

    async def _quarantine(self, job: _Open | _Survey, exc: BaseException) -> None:
        server_id = job.call.server_id if isinstance(job, _Open) else job.server_id
        linkedid = job.call.linkedid if isinstance(job, _Open) else job.linkedid
        try:
            qid = await asyncio.to_thread(
                store_quarantined,
                self.store.engine,
                server_id=server_id,
                kind="incident_job",
                error=short_error(exc),
                original=record_original(job),
                ref=f"{type(job).__name__}:{linkedid}",
            )
        except Exception as qexc:
            # Not lost: the event log holds the call's events.
            log.error("incidents.quarantine_failed", linkedid=linkedid, error=type(qexc).__name__)
            return
        self.quarantined += 1
        log.error("incidents.job_quarantined", quarantine_id=qid, linkedid=linkedid)

    def _run(self, job: _Open | _Survey) -> None:
        if isinstance(job, _Open):
            self._open_many([job.call])
        else:
            self._survey(job)

    def _agent_id(self, call: CallRecord) -> str | None:
        iface = call.agent_interface or ""
        if iface.startswith("PJSIP/"):
            return iface.split("/", 1)[1]
        return self.agent_ids.get(call.agent or "")

    def _open_many(self, calls: list[CallRecord]) -> None:
        results = self.store.open_for_calls(
            [(call, self._agent_id(call)) for call in calls],
            at=self._clock(),
            repeat_window=self.repeat_window,
        )
        for call, (incident, opened) in zip(calls, results, strict=True):
            self.opened[call.linkedid] = incident
            self.opened.move_to_end(call.linkedid)
            self.opened_count += 1
            if opened:
                log.info(
                    "incident.opened",
                    incident=incident.id,
                    linkedid=call.linkedid,
                    agent=incident.agent_id,
                    related=incident.related_incident_id,
                )
                if self.on_opened is not None:
                    self.on_opened(incident)
        while len(self.opened) > OPENED_KEEP:
            self.opened.popitem(last=False)

    def _survey(self, job: _Survey) -> None:
        incident = self.store.find_by_call(job.server_id, job.linkedid)
        response = SurveyResponse(
            job.respondent,
            incident.id if incident is not None else None,
            (job.answer,),
            job.at,
        )
        stored = self.store.add_survey(response, "phone")
        log.info(
            "incident.survey",
            incident=response.incident_id,
            linkedid=job.linkedid,
            answer=job.answer,
            stored=stored,
        )
