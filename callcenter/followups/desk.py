"""The follow-up desk: the list fed by finished calls, and the agents' call-backs.

The daemon routes to it (one way): each finished call (``call_finished``, from the call
tracker's CallFinished facts and from the calls completed from the PBX record) and each
AMI event (``apply``: the call-backs' dialplan stages and OriginateResponse). Writes go
to the store in order, off the event loop, in one supervised task (``run``) that keeps
them through a database outage and retries with the bounded backoff.

A call-back (``call_back``) is one AMI Originate: the agent's phone rings first
(``PJSIP/<agent>``, Async); answered, it runs [callcenter-followup] at the caller's
number, which dials them with ``[followups] dial`` and reports, as every stage, with a
UserEvent and CELGenUserEvent:

  followup_answered  the caller's leg answered (Dial's U() on it): reached
  followup_result    the agent's leg hung up: Dial's status (ANSWER, NOANSWER, BUSY,
                     CHANUNAVAIL, CONGESTION: no answer; CANCEL: the agent gave up)

An OriginateResponse failure (the agent's phone did not answer) records the attempt as
``agent_missed``; the entry stays open. The first result of an attempt counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from callcenter.ami import AMI_UNSAFE, AMIActions, AMIError
from callcenter.backoff import backoff
from callcenter.calls.errors import AgentBusyError, PBXError, UnknownAgentError
from callcenter.dialplan.settings import AgentConfig
from callcenter.followups.figures import RecallFigures
from callcenter.followups.rules import Reason, Result, Status, dial_result
from callcenter.followups.settings import FollowupsConfig
from callcenter.followups.store import Followup, FollowupStore
from callcenter.store.quarantine import is_transient, short_error
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.live import LiveState
from callcenter.telephony.tracker import event_time

log = structlog.get_logger("callcenter.followups")

CONTEXT = "callcenter-followup"
# Finished calls applied in one transaction at most.
CALLS_BATCH = 200
_T = TypeVar("_T")


def _cid(text: str) -> str:
    return AMI_UNSAFE.sub(" ", text.replace('"', "'"))


@dataclass(frozen=True)
class CallBack:
    """A call-back started: the entry and the attempt's id."""

    followup: Followup
    attempt_id: int
    agent_id: str


class FollowupDesk:
    def __init__(
        self,
        store: FollowupStore,
        client: AMIActions,
        live: LiveState,
        agents: Sequence[AgentConfig],
        cfg: FollowupsConfig,
        *,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
        on_change: Callable[[], None] | None = None,
        gather: float = 0.0,
    ) -> None:
        """``gather``: how long a job waits for others to share its transaction."""
        self.store = store
        self.gather = gather
        self._client = client
        self._live = live
        self._agents = {a.id: a for a in agents}
        self.cfg = cfg
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._on_change = on_change
        # (what, job, the finished call it applies if it is one: those are batched)
        self._jobs: deque[tuple[str, Callable[[], object], CallRecord | None]] = deque()
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()  # set whenever every job is written
        self.idle.set()
        # Originate ActionID -> attempt, for its OriginateResponse; and responses that
        # came before the action's own answer was read.
        self._originates: dict[str, int] = {}
        self._early: dict[str, Mapping[str, str]] = {}

    # -- what the daemon routes here ------------------------------------------------------

    def call_finished(self, call: CallRecord) -> None:
        self._put(f"call {call.linkedid}", lambda: self.store.call_finished(call), call)

    def apply(self, msg: Mapping[str, str], received: float) -> None:
        """An AMI event: a call-back's stage, or an Originate's response."""
        event = msg.get("Event")
        if event == "UserEvent" and msg.get("UserEvent") == "CallCenter":
            stage = msg.get("Stage", "")
            if stage not in ("followup_answered", "followup_result"):
                return
            try:
                attempt_id = int(msg.get("Attempt", ""))
            except ValueError:
                return
            if stage == "followup_answered":
                result, detail = Result.REACHED, "ANSWER"
            else:
                detail = msg.get("Status", "")
                result = dial_result(detail)
            self._result(attempt_id, result, detail, event_time(msg, received))
        elif event == "OriginateResponse":
            action_id = msg.get("ActionID", "")
            originated = self._originates.pop(action_id, None)
            if originated is None:
                if action_id:
                    self._early[action_id] = dict(msg)
                    while len(self._early) > 100:
                        self._early.pop(next(iter(self._early)))
                return
            self._originated(originated, msg, event_time(msg, received))

    def _originated(self, attempt_id: int, msg: Mapping[str, str], t: float) -> None:
        if msg.get("Response") == "Failure":
            detail = f"originate reason {msg.get('Reason', '')}".strip()
            self._result(attempt_id, Result.AGENT_MISSED, detail, t)

    def _result(self, attempt_id: int, result: Result, detail: str, t: float) -> None:
        at = datetime.fromtimestamp(t, UTC)
        self._put(
            f"attempt {attempt_id}",
            lambda: self.store.attempt_result(attempt_id, result, at, detail),
        )

    def _put(self, what: str, job: Callable[[], object], call: CallRecord | None = None) -> None:
        self._jobs.append((what, job, call))
        self.idle.clear()
        self._wake.set()

    # -- the writer -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Write the jobs in order until ``stop``; then what is left, once."""
        while not stop.is_set():
            self._wake.clear()
            if self._jobs and self.gather > 0:
                # The calls finishing in the next moment go in the same transaction.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.gather)
            await self._drain(stop)
            if self._jobs:
                continue
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        await self._drain(stop)

    def _next(self) -> tuple[str, Callable[[], object], int]:
        """The next job to write and how many queued jobs it covers: the finished calls
        at the head of the queue go in one transaction (up to CALLS_BATCH), since a
        commit per call cost more than the call's own reads (bench/per_call)."""
        what, job, call = self._jobs[0]
        if call is None:
            return what, job, 1
        calls = [call]
        for _, _, more in itertools.islice(self._jobs, 1, CALLS_BATCH):
            if more is None:
                break
            calls.append(more)
        if len(calls) == 1:
            return what, job, 1
        batch = f"{len(calls)} calls from {call.linkedid}"
        return batch, lambda: self.store.calls_finished(calls), len(calls)

    async def _drain(self, stop: asyncio.Event) -> None:
        attempt = 0
        while self._jobs:
            what, job, covers = self._next()
            try:
                await asyncio.to_thread(job)
            except Exception as exc:
                if is_transient(exc) and not stop.is_set():
                    delay = backoff(attempt, self.retry_min, self.retry_max)
                    attempt += 1
                    log.warning("followups.db_unavailable", job=what, error=short_error(exc))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    continue
                if covers > 1:
                    # A refused batch: write its calls one by one, so only the bad one
                    # is left out.
                    await self._one_by_one(covers)
                    covers = 0
                else:
                    # Refused (or stopping during an outage): logged; the event log
                    # keeps the call and its events.
                    log.error("followups.not_written", job=what, error=short_error(exc))
            attempt = 0
            for _ in range(covers):
                self._jobs.popleft()
            if self._on_change is not None:
                self._on_change()
        self.idle.set()

    async def _one_by_one(self, n: int) -> None:
        """The first ``n`` jobs one at a time; an outage stops here (the drain goes on
        from the first job not written, with its backoff)."""
        for _ in range(n):
            what, job, _ = self._jobs[0]
            try:
                await asyncio.to_thread(job)
            except Exception as exc:
                if is_transient(exc):
                    return
                log.error("followups.not_written", job=what, error=short_error(exc))
            self._jobs.popleft()

    # -- the agents' actions ----------------------------------------------------------------

    async def _db(self, work: Callable[[], _T]) -> _T:
        return await asyncio.to_thread(work)

    async def entries(self, **filters: Any) -> tuple[list[Followup], int]:
        return await self._db(lambda: self.store.entries(**filters))

    async def get(self, followup_id: int) -> Followup:
        return await self._db(lambda: self.store.get(followup_id))

    async def recall(self, start: datetime, end: datetime) -> RecallFigures:
        return await self._db(lambda: self.store.recall(start, end))

    def _busy(self, agent_id: str) -> bool:
        prefix = f"PJSIP/{agent_id}-"
        return any(c.name.startswith(prefix) for c in self._live.channels.values())

    async def call_back(self, followup_id: int, agent_id: str, now: datetime) -> CallBack:
        """Ring the agent's phone; answered, it calls the caller back."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgentError(agent_id)
        if self._busy(agent.id):
            raise AgentBusyError(agent.id)
        entry, attempt_id = await self._db(
            lambda: self.store.start_attempt(followup_id, agent.id, now)
        )
        e = entry.entry
        name = _cid(e.caller_name or e.caller_num)
        headers = {
            "Channel": f"PJSIP/{agent.id}",
            "Context": CONTEXT,
            "Exten": e.caller_num,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(self.cfg.agent_ring_seconds * 1000),
            # The agent's phone shows whom it is about to call back.
            "CallerID": f'"{name}" <{_cid(e.caller_num)}>',
            "Variable": f"CC_ATTEMPT={attempt_id}",
        }
        try:
            reply = await self._client.action("Originate", headers)
        except AMIError as exc:
            detail = getattr(exc, "reason", None) or str(exc)
            t = datetime.now(UTC).timestamp()
            self._result(attempt_id, Result.AGENT_MISSED, "originate refused", t)
            raise PBXError("Originate", agent.id, detail) from exc
        action_id = reply.get("ActionID", "")
        early = self._early.pop(action_id, None)
        if early is not None:
            self._originated(attempt_id, early, datetime.now(UTC).timestamp())
        elif action_id:
            self._originates[action_id] = attempt_id
        log.info("followup.call_back", followup=followup_id, attempt=attempt_id, agent=agent.id)
        return CallBack(entry, attempt_id, agent.id)

    async def set_result(
        self, followup_id: int, result: Result, now: datetime, actor: str, agent_id: str | None
    ) -> Followup:
        done = await self._db(
            lambda: self.store.set_result(followup_id, result, now, actor, agent_id)
        )
        log.info("followup.result", followup=followup_id, result=result.value, actor=actor)
        if self._on_change is not None:
            self._on_change()
        return done


__all__ = ["CallBack", "FollowupDesk", "Reason", "Result", "Status"]
