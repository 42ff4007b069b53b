"""The follow-up list in the database (followups, followup_calls, followup_attempts).

Synchronous SQLAlchemy Core: the daemon and the API call it through
``asyncio.to_thread``. A finished call changes the list once: ``(server_id, linkedid)``
is kept in ``followup_calls`` with the change it made, so the same call from the live
tracker, from the PBX record or from a replay is skipped (a call that changed nothing
is not kept: a resync's ``unknown`` estimate does not hide the PBX record's
``abandoned``). One open entry per number is the partial unique index; concurrent
changes of one entry are serialised by its ``version`` (retried on the fresh row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from callcenter.followups.figures import RecallFigures, recall_figures
from callcenter.followups.rules import (
    ClosedBy,
    Entry,
    Reason,
    Result,
    Status,
    add_call,
    close,
    dialable,
    entry_after,
    open_entry,
    opening_reason,
    reached_by_call,
    reaches,
)
from callcenter.store.models import FollowupAttemptRow, FollowupCallRow, FollowupRow
from callcenter.telephony.calls import CallRecord

FOLLOWUPS: Table = FollowupRow.__table__  # type: ignore[assignment]
CALLS: Table = FollowupCallRow.__table__  # type: ignore[assignment]
ATTEMPTS: Table = FollowupAttemptRow.__table__  # type: ignore[assignment]
# Built once: every finished call runs them, and building a statement per call cost
# more CPU than running it (bench/per_call).
_SEEN = select(CALLS.c.id).where(
    CALLS.c.server_id == bindparam("server"), CALLS.c.linkedid == bindparam("linkedid")
)
_OPEN_ENTRY = select(FOLLOWUPS).where(
    FOLLOWUPS.c.caller_num == bindparam("number"), FOLLOWUPS.c.status == Status.OPEN.value
)
RETRIES = 10


class FollowupError(Exception):
    """A refusal fit to show the agent."""


class UnknownFollowupError(FollowupError, LookupError):
    def __init__(self, followup_id: int) -> None:
        super().__init__(f"no follow-up {followup_id}")


class FollowupClosedError(FollowupError):
    def __init__(self, followup_id: int, status: str) -> None:
        super().__init__(f"follow-up {followup_id} is closed ({status})")
        self.status = status


class _Lost(Exception):
    """Another writer changed the entry first: read it again and retry."""


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Attempt:
    id: int
    followup_id: int
    agent_id: str
    started_at: datetime
    result: Result | None
    result_at: datetime | None
    detail: str
    set_by: str


@dataclass(frozen=True)
class Followup:
    """An entry with its id, as the API lists it."""

    id: int
    entry: Entry
    version: int
    pending: Attempt | None = None  # a call-back ringing now (no result yet)


def _entry(row: Any) -> Entry:
    return Entry(
        caller_num=row.caller_num,
        caller_name=row.caller_name,
        reason=Reason(row.reason),
        queue=row.queue,
        server_id=row.server_id,
        first_linkedid=row.first_linkedid,
        opened_at=_utc(row.opened_at),  # type: ignore[arg-type]
        last_call_at=_utc(row.last_call_at),  # type: ignore[arg-type]
        calls=row.calls,
        status=Status(row.status),
        attempts=row.attempts,
        last_result=Result(row.last_result) if row.last_result else None,
        last_attempt_at=_utc(row.last_attempt_at),
        closed_at=_utc(row.closed_at),
        closed_by=ClosedBy(row.closed_by) if row.closed_by else None,
        closed_ref=row.closed_ref,
    )


def _values(e: Entry) -> dict[str, Any]:
    return {
        "caller_num": e.caller_num,
        "caller_name": e.caller_name[:128],
        "status": e.status.value,
        "reason": e.reason.value,
        "queue": e.queue,
        "server_id": e.server_id,
        "first_linkedid": e.first_linkedid,
        "opened_at": e.opened_at,
        "last_call_at": e.last_call_at,
        "calls": e.calls,
        "attempts": e.attempts,
        "last_result": e.last_result.value if e.last_result else None,
        "last_attempt_at": e.last_attempt_at,
        "closed_at": e.closed_at,
        "closed_by": e.closed_by.value if e.closed_by else None,
        "closed_ref": e.closed_ref,
    }


def _attempt(row: Any) -> Attempt:
    return Attempt(
        id=row.id,
        followup_id=row.followup_id,
        agent_id=row.agent_id,
        started_at=_utc(row.started_at),  # type: ignore[arg-type]
        result=Result(row.result) if row.result else None,
        result_at=_utc(row.result_at),
        detail=row.detail,
        set_by=row.set_by,
    )


@dataclass(frozen=True)
class Change:
    """What a finished call did to the list."""

    followup_id: int
    effect: str  # opened added reached


class FollowupStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading -------------------------------------------------------------------------

    def _row(self, conn: Connection, followup_id: int) -> Any:
        row = conn.execute(select(FOLLOWUPS).where(FOLLOWUPS.c.id == followup_id)).first()
        if row is None:
            raise UnknownFollowupError(followup_id)
        return row

    def _pending(self, conn: Connection, ids: Sequence[int]) -> dict[int, Attempt]:
        if not ids:
            return {}
        rows = conn.execute(
            select(ATTEMPTS)
            .where(ATTEMPTS.c.followup_id.in_(ids), ATTEMPTS.c.result.is_(None))
            .order_by(ATTEMPTS.c.id)
        )
        return {r.followup_id: _attempt(r) for r in rows}

    def get(self, followup_id: int) -> Followup:
        with self.engine.connect() as conn:
            row = self._row(conn, followup_id)
            pending = self._pending(conn, [row.id]).get(row.id)
        return Followup(row.id, _entry(row), row.version, pending)

    def entries(
        self,
        *,
        statuses: Sequence[Status] = (Status.OPEN,),
        queue: str | None = None,
        reasons: Sequence[Reason] = (),
        caller: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Followup], int]:
        """Entries, the oldest first call first (who has waited longest), and how many
        match in all."""
        where: list[ColumnElement[bool]] = [FOLLOWUPS.c.status.in_([s.value for s in statuses])]
        if queue is not None:
            where.append(FOLLOWUPS.c.queue == queue)
        if reasons:
            where.append(FOLLOWUPS.c.reason.in_([r.value for r in reasons]))
        if caller:
            where.append(FOLLOWUPS.c.caller_num == (dialable(caller) or caller))
        with self.engine.connect() as conn:
            total = int(conn.scalar(select(func.count()).select_from(FOLLOWUPS).where(*where)) or 0)
            rows = list(
                conn.execute(
                    select(FOLLOWUPS)
                    .where(*where)
                    .order_by(FOLLOWUPS.c.opened_at, FOLLOWUPS.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            pending = self._pending(conn, [r.id for r in rows])
        return [Followup(r.id, _entry(r), r.version, pending.get(r.id)) for r in rows], total

    def attempts(self, followup_id: int) -> list[Attempt]:
        with self.engine.connect() as conn:
            self._row(conn, followup_id)
            rows = conn.execute(
                select(ATTEMPTS)
                .where(ATTEMPTS.c.followup_id == followup_id)
                .order_by(ATTEMPTS.c.id)
            )
            return [_attempt(r) for r in rows]

    def opened_between(self, start: datetime, end: datetime) -> list[Entry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(FOLLOWUPS).where(FOLLOWUPS.c.opened_at >= start, FOLLOWUPS.c.opened_at < end)
            )
            return [_entry(r) for r in rows]

    def recall(self, start: datetime, end: datetime) -> RecallFigures:
        """The recall figures of the callers put on the list in [start, end)."""
        return recall_figures(self.opened_between(start, end), start, end)

    # -- writing -------------------------------------------------------------------------

    def _save(self, conn: Connection, followup_id: int, version: int, entry: Entry) -> None:
        done = conn.execute(
            update(FOLLOWUPS)
            .where(FOLLOWUPS.c.id == followup_id, FOLLOWUPS.c.version == version)
            .values(**_values(entry), version=version + 1)
        )
        if done.rowcount != 1:
            raise _Lost

    def _retrying(self, work: Any) -> Any:
        for attempt in range(RETRIES):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except (_Lost, IntegrityError):
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def call_finished(self, call: CallRecord) -> Change | None:
        """Apply one finished call: open or add to its caller's entry, or close it as
        reached (the caller called again and was answered). Idempotent per call."""
        reason = opening_reason(call)
        if reason is None and not reaches(call):
            return None
        result: Change | None = self._retrying(lambda conn: self._apply_call(conn, call, reason))
        return result

    def calls_finished(self, calls: Sequence[CallRecord]) -> list[Change | None]:
        """``call_finished`` for several calls, in order, in one transaction (all or
        none): a caller's second call sees what the first did to the entry. One answer
        per call."""
        todo = [(call, opening_reason(call)) for call in calls]
        if not any(r is not None or reaches(c) for c, r in todo):
            return [None] * len(todo)

        def work(conn: Connection) -> list[Change | None]:
            return [
                self._apply_call(conn, c, r) if r is not None or reaches(c) else None
                for c, r in todo
            ]

        result: list[Change | None] = self._retrying(work)
        return result

    def _apply_call(
        self, conn: Connection, call: CallRecord, reason: Reason | None
    ) -> Change | None:
        seen = conn.execute(_SEEN, {"server": call.server_id, "linkedid": call.linkedid}).first()
        if seen is not None:
            return None
        number = dialable(call.caller_num)
        row = conn.execute(_OPEN_ENTRY, {"number": number}).first()
        arrived = _at(call.arrived_at)
        if reason is not None:
            if row is None:
                entry = open_entry(call, reason, arrived)
                followup_id = int(
                    conn.execute(
                        insert(FOLLOWUPS).values(**_values(entry), version=1)
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
                effect = "opened"
            else:
                self._save(conn, row.id, row.version, add_call(_entry(row), call, reason, arrived))
                followup_id, effect = row.id, "added"
        else:
            assert call.answered_at is not None
            answered = _at(call.answered_at)
            if row is None or not reached_by_call(_entry(row), answered):
                return None
            entry = close(_entry(row), Status.REACHED, answered, ClosedBy.CALL_AGAIN, call.linkedid)
            self._save(conn, row.id, row.version, entry)
            followup_id, effect = row.id, "reached"
        conn.execute(
            insert(CALLS),
            {
                "server_id": call.server_id,
                "linkedid": call.linkedid,
                "followup_id": followup_id,
                "effect": effect,
                "at": arrived,
            },
        )
        return Change(followup_id, effect)

    def start_attempt(self, followup_id: int, agent_id: str, at: datetime) -> tuple[Followup, int]:
        """A call-back begins: the entry must be open; returns it and the attempt's id."""

        def work(conn: Connection) -> tuple[Followup, int]:
            row = self._row(conn, followup_id)
            entry = _entry(row)
            if entry.status is not Status.OPEN:
                raise FollowupClosedError(followup_id, entry.status.value)
            entry = replace(entry, attempts=entry.attempts + 1, last_attempt_at=at)
            self._save(conn, row.id, row.version, entry)
            attempt_id = int(
                conn.execute(
                    insert(ATTEMPTS).values(
                        followup_id=followup_id,
                        agent_id=agent_id,
                        started_at=at,
                        result=None,
                        result_at=None,
                        detail="",
                        set_by="",
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            return Followup(row.id, entry, row.version + 1), attempt_id

        out: tuple[Followup, int] = self._retrying(work)
        return out

    def attempt_result(
        self, attempt_id: int, result: Result, at: datetime, detail: str = "", set_by: str = "pbx"
    ) -> Followup | None:
        """The PBX's word on a call-back: the first result counts (the answer, then the
        hang-up's ANSWER status, say the same); None for an unknown or settled attempt."""

        def work(conn: Connection) -> Followup | None:
            att = conn.execute(select(ATTEMPTS).where(ATTEMPTS.c.id == attempt_id)).first()
            if att is None or att.result is not None:
                return None
            conn.execute(
                update(ATTEMPTS)
                .where(ATTEMPTS.c.id == attempt_id)
                .values(result=result.value, result_at=at, detail=detail[:40], set_by=set_by)
            )
            row = self._row(conn, att.followup_id)
            entry = entry_after(_entry(row), result, at, ClosedBy.CALLBACK, f"attempt:{attempt_id}")
            self._save(conn, row.id, row.version, entry)
            return Followup(row.id, entry, row.version + 1)

        out: Followup | None = self._retrying(work)
        return out

    def set_result(
        self, followup_id: int, result: Result, at: datetime, actor: str, agent_id: str | None
    ) -> Followup:
        """An agent's word on the entry's latest call-back (or on a call made otherwise):
        reached, no answer or wrong number. A wrong number also corrects an entry a
        call-back closed as reached (someone else answered)."""

        def work(conn: Connection) -> Followup:
            row = self._row(conn, followup_id)
            entry = _entry(row)
            correcting = (
                result is Result.WRONG_NUMBER
                and entry.status is Status.REACHED
                and entry.closed_by in (ClosedBy.CALLBACK, ClosedBy.AGENT)
            )
            if entry.status is not Status.OPEN and not correcting:
                raise FollowupClosedError(followup_id, entry.status.value)
            latest = conn.execute(
                select(ATTEMPTS)
                .where(ATTEMPTS.c.followup_id == followup_id)
                .order_by(ATTEMPTS.c.id.desc())
                .limit(1)
            ).first()
            values = {"result": result.value, "result_at": at, "set_by": actor[:40]}
            if latest is not None and (latest.result is None or correcting):
                attempt_id = latest.id
                conn.execute(update(ATTEMPTS).where(ATTEMPTS.c.id == attempt_id).values(**values))
            else:
                attempt_id = int(
                    conn.execute(
                        insert(ATTEMPTS).values(
                            followup_id=followup_id,
                            agent_id=agent_id or "",
                            started_at=at,
                            detail="",
                            **values,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
            if correcting:
                entry = replace(entry, status=Status.OPEN, closed_at=None, closed_by=None)
            entry = entry_after(entry, result, at, ClosedBy.AGENT, f"attempt:{attempt_id}")
            self._save(conn, row.id, row.version, entry)
            return Followup(row.id, entry, row.version + 1)

        out: Followup = self._retrying(work)
        return out
