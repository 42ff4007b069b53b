"""Incidents in the database: opened once per answered call, changed only through the
lifecycle functions (callcenter.incidents.lifecycle), each change with its history row
and, in the same transaction, the webhook it triggers (a transactional outbox).

Synchronous SQLAlchemy Core: the daemon calls it through ``asyncio.to_thread``.
Concurrent edits (two agents, the second line's answer arriving while an agent types)
are serialised by a ``version`` column: an update that lost the race is retried on the
fresh row, so no change is lost and none is applied on stale data.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Table,
    and_,
    bindparam,
    insert,
    select,
    update,
)

from callcenter.incidents import lifecycle
from callcenter.incidents.model import (
    OPEN_STATUSES,
    HistoryEntry,
    Incident,
    IncidentError,
    ProgressReport,
    SurveyResponse,
)
from callcenter.incidents.serialize import incident_dict
from callcenter.store.db import insert_or_skip
from callcenter.store.models import IncidentHistoryRow, IncidentRow, SurveyRow
from callcenter.telephony.calls import CallRecord
from callcenter.webhooks.outbox import enqueue
from callcenter.webhooks.settings import WebhookSettings

INCIDENTS: Table = IncidentRow.__table__  # type: ignore[assignment]
HISTORY: Table = IncidentHistoryRow.__table__  # type: ignore[assignment]
SURVEYS: Table = SurveyRow.__table__  # type: ignore[assignment]

# The lifecycle actions the store applies, and the webhook each one sends (if any).
ACTIONS: dict[str, Callable[..., tuple[Incident, HistoryEntry]]] = {
    "start": lifecycle.start,
    "escalate": lifecycle.escalate,
    "answer_escalation": lifecycle.answer_escalation,
    "report_progress": lifecycle.report_progress,
    "resolve": lifecycle.resolve,
    "close": lifecycle.close,
    "reopen": lifecycle.reopen,
    "update": lifecycle.update,
}
WEBHOOK_EVENTS = {
    "created": "incident.created",
    "escalate": "incident.escalated",
    "answer_escalation": "incident.escalation_answered",
    "resolve": "incident.resolved",
}
MAX_RETRIES = 20


# Built once: making a statement per call (its values, its cache key) cost more CPU
# than running it (bench/per_call).
_REPEAT_OF = (
    select(INCIDENTS.c.id)
    .where(
        INCIDENTS.c.caller_number == bindparam("caller"),
        INCIDENTS.c.status.in_(sorted(OPEN_STATUSES)),
        INCIDENTS.c.received_at >= bindparam("since"),
        INCIDENTS.c.received_at <= bindparam("until"),
    )
    .order_by(INCIDENTS.c.received_at.desc())
    .limit(1)
)


@functools.cache
def _open_statement(dialect: str) -> Insert:
    """The call's incident, unless the call has one: its id, or no row."""
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    keys = ("server_id", "call_linkedid")
    return insert_or_skip(dialect, INCIDENTS, keys).returning(INCIDENTS.c.id)


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id


@dataclass(frozen=True)
class IncidentFilter:
    status: tuple[str, ...] = ()
    open_only: bool = False
    agent_id: str | None = None
    caller_number: str | None = None
    queue: str | None = None
    received_from: datetime | None = None  # [from, to)
    received_to: datetime | None = None
    limit: int = 100
    offset: int = 0


def _utc(at: datetime | None) -> datetime | None:
    """SQLite hands times back naive (they were stored in UTC)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _stored(at: datetime | None) -> datetime | None:
    """In UTC: SQLite keeps a time's wall clock and drops its offset."""
    return None if at is None else at.astimezone(UTC)


def _row(i: Incident) -> dict[str, Any]:
    return {
        "server_id": i.server_id,
        "call_linkedid": i.call_linkedid,
        "caller_number": (i.caller_number or "")[:64] or None,
        "caller_name": (i.caller_name or "")[:128] or None,
        "queue": i.queue,
        "ivr_path": list(i.ivr_path),
        "agent": i.agent,
        "agent_id": i.agent_id,
        "received_at": i.received_at.astimezone(UTC),
        "answered_at": _stored(i.answered_at),
        "status": i.status,
        "category": i.category,
        "priority": i.priority,
        "flags": sorted(i.flags),
        "escalated_at": _stored(i.escalated_at),
        "escalated_by": i.escalated_by,
        "escalated_to": i.escalated_to,
        "escalation_answered_at": _stored(i.escalation_answered_at),
        "first_progress_at": _stored(i.first_progress_at),
        "progress_reports": [
            {"at": r.at.isoformat(), "how": r.how, "by": r.by, "note": r.note}
            for r in i.progress_reports
        ],
        "resolved_at": _stored(i.resolved_at),
        "resolved_by": i.resolved_by,
        "resolution": i.resolution,
        "closed_at": _stored(i.closed_at),
        "related_incident_id": i.related_incident_id,
        "notes": i.notes,
        "updated_at": _stored(i.updated_at),
    }


def _incident(r: Any) -> Incident:
    received = _utc(r.received_at)
    assert received is not None
    return Incident(
        id=r.id,
        call_linkedid=r.call_linkedid,
        server_id=r.server_id,
        caller_number=r.caller_number,
        caller_name=r.caller_name,
        queue=r.queue,
        ivr_path=tuple(r.ivr_path or ()),
        agent=r.agent,
        agent_id=r.agent_id,
        received_at=received,
        answered_at=_utc(r.answered_at),
        status=r.status,
        category=r.category,
        priority=r.priority,
        flags=frozenset(r.flags or ()),
        escalated_at=_utc(r.escalated_at),
        escalated_by=r.escalated_by,
        escalated_to=r.escalated_to,
        escalation_answered_at=_utc(r.escalation_answered_at),
        first_progress_at=_utc(r.first_progress_at),
        progress_reports=tuple(
            ProgressReport(datetime.fromisoformat(p["at"]), p["how"], p["by"], p.get("note", ""))
            for p in (r.progress_reports or ())
        ),
        resolved_at=_utc(r.resolved_at),
        resolved_by=r.resolved_by,
        resolution=r.resolution,
        closed_at=_utc(r.closed_at),
        related_incident_id=r.related_incident_id,
        notes=r.notes or "",
        updated_at=_utc(r.updated_at),
    )


def _survey(r: Any) -> SurveyResponse:
    at = _utc(r.at)
    assert at is not None  # the column is NOT NULL
    return SurveyResponse(r.respondent, r.incident_id, tuple(r.answers), at)


def _history_row(incident_id: int, h: HistoryEntry) -> dict[str, Any]:
    d = h.to_dict()
    return {
        "incident_id": incident_id,
        "at": h.at.astimezone(UTC),
        "actor": h.actor[:80],
        "action": h.action,
        "changes": d["changes"],
        "note": h.note,
    }


class IncidentStore:
    def __init__(
        self,
        engine: Engine,
        *,
        webhooks: WebhookSettings | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        """``on_commit`` runs after a transaction that queued a webhook (the sender's
        ``wake``), so it goes out at once instead of at the next poll."""
        self.engine = engine
        self.webhooks = webhooks or WebhookSettings()
        self.on_commit = on_commit

    # -- reading -----------------------------------------------------------------------

    def get(self, incident_id: int) -> Incident:
        with self.engine.connect() as conn:
            return self._get(conn, incident_id)

    def _get(self, conn: Connection, incident_id: int) -> Incident:
        row = conn.execute(select(INCIDENTS).where(INCIDENTS.c.id == incident_id)).first()
        if row is None:
            raise IncidentNotFound(incident_id)
        return _incident(row)

    def find_by_call(self, server_id: str, linkedid: str) -> Incident | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(INCIDENTS).where(
                    INCIDENTS.c.server_id == server_id, INCIDENTS.c.call_linkedid == linkedid
                )
            ).first()
        return None if row is None else _incident(row)

    def history(self, incident_id: int) -> list[HistoryEntry]:
        with self.engine.connect() as conn:
            self._get(conn, incident_id)
            rows = conn.execute(
                select(HISTORY).where(HISTORY.c.incident_id == incident_id).order_by(HISTORY.c.id)
            ).all()
        return [
            HistoryEntry(
                _utc(r.at) or datetime.now(UTC),
                r.actor,
                r.action,
                {k: (v[0], v[1]) for k, v in (r.changes or {}).items()},
                r.note,
            )
            for r in rows
        ]

    def search(self, f: IncidentFilter = IncidentFilter()) -> list[Incident]:
        q = select(INCIDENTS)
        conds: list[ColumnElement[bool]] = []
        if f.status:
            conds.append(INCIDENTS.c.status.in_(f.status))
        if f.open_only:
            conds.append(INCIDENTS.c.status.in_(sorted(OPEN_STATUSES)))
        for col, value in (
            (INCIDENTS.c.agent_id, f.agent_id),
            (INCIDENTS.c.caller_number, f.caller_number),
            (INCIDENTS.c.queue, f.queue),
        ):
            if value is not None:
                conds.append(col == value)
        if f.received_from is not None:
            conds.append(INCIDENTS.c.received_at >= f.received_from.astimezone(UTC))
        if f.received_to is not None:
            conds.append(INCIDENTS.c.received_at < f.received_to.astimezone(UTC))
        if conds:
            q = q.where(and_(*conds))
        q = q.order_by(INCIDENTS.c.received_at.desc(), INCIDENTS.c.id.desc())
        q = q.limit(f.limit).offset(f.offset)
        with self.engine.connect() as conn:
            return [_incident(r) for r in conn.execute(q)]

    def received_between(self, start: datetime, end: datetime) -> list[Incident]:
        """Every incident received in [start, end) (the monthly figures' population)."""
        out: list[Incident] = []
        offset = 0
        while True:
            page = self.search(
                IncidentFilter(received_from=start, received_to=end, limit=5000, offset=offset)
            )
            out.extend(page)
            if len(page) < 5000:
                return out
            offset += len(page)

    def open_incidents(self) -> list[Incident]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(INCIDENTS).where(INCIDENTS.c.status.in_(sorted(OPEN_STATUSES)))
            ).all()
        return [_incident(r) for r in rows]

    # -- opening -----------------------------------------------------------------------

    def open_for_call(
        self,
        call: CallRecord,
        *,
        agent_id: str | None,
        at: datetime,
        repeat_window: timedelta,
        actor: str = "system",
    ) -> tuple[Incident, bool]:
        """The call's incident, opened now unless it already was: (incident, opened).

        Idempotent on (server_id, linkedid): a replayed AgentConnect, a resync that
        finds the call again, or a retry after a lost commit all return the same one. A
        caller with an open incident received within ``repeat_window`` gets the new
        one linked to it (``related_incident_id``).
        """
        [result] = self.open_for_calls(
            [(call, agent_id)], at=at, repeat_window=repeat_window, actor=actor
        )
        return result

    def open_for_calls(
        self,
        calls: Sequence[tuple[CallRecord, str | None]],
        *,
        at: datetime,
        repeat_window: timedelta,
        actor: str = "system",
    ) -> list[tuple[Incident, bool]]:
        """``open_for_call`` for several (call, agent id), in order, in one transaction.

        All or none: the daemon's desk opens the calls answered since its last write
        together, because a commit (and the round trips around it) costs more than the
        rows. Calls are taken in order, so a caller's second call in the same batch is
        linked to the first one's incident, as it would be one by one.
        """
        results: list[tuple[Incident, bool]] = []
        queued = False
        with self.engine.begin() as conn:
            known = self._by_calls(conn, [c for c, _ in calls])
            for call, agent_id in calls:
                key = (call.server_id, call.linkedid)
                existing = known.get(key)
                if existing is not None:
                    results.append((existing, False))
                    continue
                incident, opened, sent = self._open(conn, call, agent_id, at, repeat_window, actor)
                known[key] = incident
                queued = queued or sent
                results.append((incident, opened))
        if queued and self.on_commit is not None:
            self.on_commit()
        return results

    def _by_calls(
        self, conn: Connection, calls: Iterable[CallRecord]
    ) -> dict[tuple[str, str], Incident]:
        """The incidents already opened for these calls, by (server_id, linkedid)."""
        by_server: dict[str, set[str]] = {}
        for c in calls:
            by_server.setdefault(c.server_id, set()).add(c.linkedid)
        found: dict[tuple[str, str], Incident] = {}
        for server_id, linkedids in by_server.items():
            rows = conn.execute(
                select(INCIDENTS).where(
                    INCIDENTS.c.server_id == server_id,
                    INCIDENTS.c.call_linkedid.in_(sorted(linkedids)),
                )
            )
            for row in rows:
                found[(row.server_id, row.call_linkedid)] = _incident(row)
        return found

    def _open(
        self,
        conn: Connection,
        call: CallRecord,
        agent_id: str | None,
        at: datetime,
        repeat_window: timedelta,
        actor: str,
    ) -> tuple[Incident, bool, bool]:
        """Open one call's incident on ``conn``: (incident, opened, webhook queued)."""
        received = datetime.fromtimestamp(call.arrived_at, UTC)
        answered = (
            datetime.fromtimestamp(call.answered_at, UTC) if call.answered_at is not None else None
        )
        related = self._repeat_of(conn, call.caller_num, received, repeat_window)
        incident, entry = lifecycle.open_incident(
            actor,
            max(at, answered or received, received),
            received_at=received,
            answered_at=answered,
            call_linkedid=call.linkedid,
            server_id=call.server_id,
            caller_number=call.caller_num or None,
            caller_name=call.caller_name or None,
            queue=call.queue,
            ivr_path=call.ivr_path,
            agent=call.agent,
            agent_id=agent_id,
            related_incident_id=related,
        )
        inserted: int | None = conn.execute(
            _open_statement(conn.dialect.name), {"version": 1, **_row(incident)}
        ).scalar()
        if inserted is None:
            # Another writer opened it first (it has committed: the conflict waited).
            theirs = self._by_calls(conn, [call]).get((call.server_id, call.linkedid))
            assert theirs is not None
            return theirs, False, False
        new_id = int(inserted)
        incident = _with_id(incident, new_id)
        conn.execute(insert(HISTORY), [_history_row(new_id, entry)])
        queued = enqueue(
            conn,
            WEBHOOK_EVENTS["created"],
            incident_dict(incident),
            at,
            settings=self.webhooks,
        )
        return incident, True, queued is not None

    def create(self, actor: str, at: datetime, **fields: Any) -> Incident:
        """An incident opened by hand (no call), e.g. from a form or an e-mail."""
        incident, entry = lifecycle.open_incident(actor, at, **fields)
        with self.engine.begin() as conn:
            result = conn.execute(insert(INCIDENTS).values(version=1, **_row(incident)))
            new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            incident = _with_id(incident, new_id)
            conn.execute(insert(HISTORY), [_history_row(new_id, entry)])
            queued = enqueue(
                conn, WEBHOOK_EVENTS["created"], incident_dict(incident), at, settings=self.webhooks
            )
        if queued and self.on_commit is not None:
            self.on_commit()
        return incident

    @staticmethod
    def _repeat_of(
        conn: Connection, caller: str, received: datetime, window: timedelta
    ) -> int | None:
        if not caller or window <= timedelta(0):
            return None
        return conn.execute(
            _REPEAT_OF, {"caller": caller, "since": received - window, "until": received}
        ).scalar()

    # -- changing ----------------------------------------------------------------------

    def change(
        self, incident_id: int, action: str, actor: str, at: datetime, **kwargs: Any
    ) -> Incident:
        """Apply one lifecycle action (``ACTIONS``); IncidentError names a refused field."""
        fn = ACTIONS.get(action)
        if fn is None:
            raise IncidentError("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
        for attempt in range(MAX_RETRIES):
            if attempt:
                time.sleep(random.uniform(0, 0.005 * attempt))
            with self.engine.begin() as conn:
                # FOR UPDATE (PostgreSQL; SQLite serialises writers itself): the others
                # wait for the row instead of losing the race; the version check stays
                # as the guard wherever the lock is not taken.
                row = conn.execute(
                    select(INCIDENTS).where(INCIDENTS.c.id == incident_id).with_for_update()
                ).first()
                if row is None:
                    raise IncidentNotFound(incident_id)
                new, entry = fn(_incident(row), actor, at, **kwargs)
                result = conn.execute(
                    update(INCIDENTS)
                    .where(INCIDENTS.c.id == incident_id, INCIDENTS.c.version == row.version)
                    .values(version=row.version + 1, **_row(new))
                )
                if result.rowcount != 1:
                    continue  # lost the race: apply it again on the fresh row
                conn.execute(insert(HISTORY), [_history_row(incident_id, entry)])
                event = WEBHOOK_EVENTS.get(action)
                queued = (
                    enqueue(conn, event, incident_dict(new), at, settings=self.webhooks)
                    if event is not None
                    else None
                )
            if queued and self.on_commit is not None:
                self.on_commit()
            return new
        raise RuntimeError(f"incident {incident_id}: too many concurrent changes, try again")

    # -- surveys -----------------------------------------------------------------------

    def add_survey(self, response: SurveyResponse, source: str) -> bool:
        """Store one survey; False if the same (source, respondent, time) is stored."""
        return self.add_surveys([response], source) == 1

    def add_surveys(self, responses: Iterable[SurveyResponse], source: str) -> int:
        """Store surveys in one transaction (all or none); return how many were new.

        IncidentNotFound for a survey naming an incident that does not exist.
        """
        stored = 0
        with self.engine.begin() as conn:
            for response in responses:
                if response.incident_id is not None:
                    self._get(conn, response.incident_id)
                row = {
                    "source": source,
                    "respondent": response.respondent[:128],
                    "incident_id": response.incident_id,
                    "answers": list(response.answers),
                    "at": response.at.astimezone(UTC),
                }
                stmt = insert_or_skip(conn.dialect.name, SURVEYS, ("source", "respondent", "at"))
                new = conn.execute(stmt.values(**row).returning(SURVEYS.c.id)).scalar()
                stored += new is not None
        return stored

    def surveys(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[SurveyResponse]:
        q = select(SURVEYS).order_by(SURVEYS.c.at, SURVEYS.c.id)
        if start is not None:
            q = q.where(SURVEYS.c.at >= start.astimezone(UTC))
        if end is not None:
            q = q.where(SURVEYS.c.at < end.astimezone(UTC))
        with self.engine.connect() as conn:
            return [_survey(r) for r in conn.execute(q)]

    def surveys_of(self, incident_ids: Sequence[int]) -> list[SurveyResponse]:
        q = select(SURVEYS).where(SURVEYS.c.incident_id.in_(list(incident_ids)))
        with self.engine.connect() as conn:
            return [_survey(r) for r in conn.execute(q)]


def _with_id(incident: Incident, new_id: int) -> Incident:
    from dataclasses import replace

    return replace(incident, id=new_id)
