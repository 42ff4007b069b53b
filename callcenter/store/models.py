"""Database tables (SQLAlchemy 2.x). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Headers = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class AMIEvent(Base):
    """Every AMI event as received: append-only, never updated."""

    __tablename__ = "ami_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    # run_id + seq identify an event within one daemon run, so a batch retried after an
    # ambiguous failure (commit sent, answer lost) is not stored twice.
    run_id: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[str] = mapped_column(String(80))
    uniqueid: Mapped[str | None] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    action_id: Mapped[str | None] = mapped_column(String(64))
    headers: Mapped[dict[str, Any]] = mapped_column(Headers)

    __table_args__ = (
        Index("ux_ami_events_run_seq", "server_id", "run_id", "seq", unique=True),
        Index("ix_ami_events_received", "received_at"),
        Index("ix_ami_events_linkedid", "linkedid"),
    )


class Call(Base):
    """One finished inbound call (see docs/metrics.md). Derived from the event log."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    linkedid: Mapped[str] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Day and hour of arrival in the service time zone, stored so that grouping is the
    # same plain GROUP BY on SQLite and PostgreSQL, and index-friendly.
    local_day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    caller_num: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(128))
    dnis: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[list[str]] = mapped_column(Headers)
    busy_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(String(80))
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    handle_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float)
    park_seconds: Mapped[float] = mapped_column(Float)
    parks: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(Headers)
    heard_busy: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20))
    abandon_stage: Mapped[str | None] = mapped_column(String(10))
    system_end: Mapped[str | None] = mapped_column(String(40))
    estimated: Mapped[bool] = mapped_column(Boolean)
    # Where the record came from: "ami" (seen live, or rebuilt from the stored events)
    # or "pbx" (completed from Asterisk's own record after a gap).
    source: Mapped[str] = mapped_column(String(8), server_default="ami")
    # The definitions that classified it (telephony.calls.definitions_key).
    definitions: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        Index("ux_calls_server_linkedid", "server_id", "linkedid", unique=True),
        Index("ix_calls_day", "local_day"),
        Index("ix_calls_queue_day", "queue", "local_day"),
        Index("ix_calls_agent_day", "agent", "local_day"),
    )


class IncidentRow(Base):
    """An incident (ticket); see docs/incidents.md. ``version`` guards concurrent edits."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    # The call that opened it: one incident per call, whatever is replayed or retried.
    server_id: Mapped[str | None] = mapped_column(String(40))
    call_linkedid: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[list[str]] = mapped_column(Headers)
    agent: Mapped[str | None] = mapped_column(String(80))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(24))
    category: Mapped[str | None] = mapped_column(String(80))
    priority: Mapped[str] = mapped_column(String(10))
    flags: Mapped[list[str]] = mapped_column(Headers)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_by: Mapped[str | None] = mapped_column(String(80))
    escalated_to: Mapped[str | None] = mapped_column(String(80))
    escalation_answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_progress_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress_reports: Mapped[list[dict[str, Any]]] = mapped_column(Headers)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution: Mapped[str | None] = mapped_column(String(12))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    related_incident_id: Mapped[int | None] = mapped_column(BigInteger)
    notes: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ux_incidents_call", "server_id", "call_linkedid", unique=True),
        Index("ix_incidents_received", "received_at"),
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_caller", "caller_number", "received_at"),
        Index("ix_incidents_agent", "agent_id", "status"),
    )


class IncidentHistoryRow(Base):
    """Every action on an incident: who, when, what changed (append-only)."""

    __tablename__ = "incident_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(Headers)
    note: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_incident_history_incident", "incident_id", "id"),)


class SurveyRow(Base):
    """One satisfaction survey (phone or imported form); answers 1 (不満) .. 5 (満足)."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # phone | csv
    respondent: Mapped[str] = mapped_column(String(128))
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    answers: Mapped[list[int]] = mapped_column(Headers)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # A re-imported form or a replayed phone answer is not counted twice.
        Index("ux_survey_once", "source", "respondent", "at", unique=True),
        Index("ix_survey_at", "at"),
    )


class PbxRecordRow(Base):
    """One line of Asterisk's own record (CEL), as read; append-only.

    ``line_hash`` (SHA-1 of the line) makes a re-read harmless: after a rotation, a
    truncation or a cursor lost with the database, lines already stored are skipped.
    """

    __tablename__ = "pbx_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(8))  # cel
    line_hash: Mapped[str] = mapped_column(String(40))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the daemon read it (its own clock): calls settle on this, so a PBX clock
    # that runs behind never gets a call checked before the live path wrote it.
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    eventtype: Mapped[str] = mapped_column(String(40))
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    # The line as Asterisk wrote it (parsed again when used: one set of rules); a line
    # that did not parse is kept with the reason in ``note``.
    line: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ux_pbx_record_line", "server_id", "line_hash", unique=True),
        Index("ix_pbx_record_linkedid", "server_id", "linkedid"),
        Index("ix_pbx_record_time", "server_id", "event_time"),
        # The reconcile pass: the caller hang-ups read since its mark.
        Index("ix_pbx_record_type", "server_id", "eventtype", "id"),
    )


class PbxCursor(Base):
    """How far the PBX record has been read (file inode and offset) and reconciled."""

    __tablename__ = "pbx_cursor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    # pbx_record.id up to which finished calls were checked against the calls table.
    reconciled_id: Mapped[int] = mapped_column(BigInteger)
    # Asterisk's time of the newest record read: "the record is read up to here".
    read_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_pbx_cursor", "server_id", "source", unique=True),)


class QuarantineRow(Base):
    """What a writer could not store as it came (a poison event, call or incident job),
    kept byte for byte for a person to look at; append-only.

    ``original`` is ``json.dumps(..., ensure_ascii=True)``: NULs and lone surrogates,
    which the database refuses in text, survive exactly as JSON escapes.
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # ami_event | call | incident_job
    ref: Mapped[str | None] = mapped_column(String(120))  # run_id:seq, linkedid, ...
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str] = mapped_column(String(300))
    original: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_quarantine_at", "at"),)


class CoverageRow(Base):
    """An interval in which the daemon saw the PBX through AMI (from a connect and its
    resync to the loss of the link, extended while it lasts)."""

    __tablename__ = "coverage"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(8))  # ami
    run_id: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_coverage_server_time", "server_id", "started_at"),)


class AgentEventRow(Base):
    """One fact of agent activity (agents/activity.py): a log-in, log-out, pause (with its
    reason), resume or queue call's end of an agent in a queue, or what a resync saw.

    Derived from the event log (the daemon records them as the events arrive, and
    ``callcenter agents rebuild-activity`` re-derives them): ``at`` is the AMI event's
    receive time, so a rebuild finds the same key and stores nothing twice.
    """

    __tablename__ = "agent_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(8))  # ami
    agent: Mapped[str] = mapped_column(String(80))  # "" for a snapshot mark
    queue: Mapped[str] = mapped_column(String(64))  # "" for a snapshot of every queue
    kind: Mapped[str] = mapped_column(String(10))  # login logout pause resume talk seen snapshot
    reason: Mapped[str] = mapped_column(String(200))
    paused: Mapped[bool] = mapped_column(Boolean)
    seconds: Mapped[float] = mapped_column(Float)  # talk: the call's TalkTime
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ux_agent_events_key",
            *("server_id", "source", "agent"),
            *("queue", "kind", "at"),
            unique=True,
        ),
        Index("ix_agent_events_time", "server_id", "at"),
    )


class ApiTokenRow(Base):
    """One API token (its hash only); revoked ones are kept, for the audit trail."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_api_tokens_hash", "token_hash", unique=True),)


class ImprovementActionRow(Base):
    """An improvement action (改善施策) a supervisor wrote for a month; printed in that
    month's report (callcenter.reports.actions)."""

    __tablename__ = "improvement_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(120))  # who carries it out
    status: Mapped[str] = mapped_column(String(16))  # planned, in_progress, done
    author: Mapped[str] = mapped_column(String(120))  # who wrote it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_improvement_actions_month", "month", "id"),)


MAX_ERROR_CHARS = 500
# Rows still to send, as each dialect renders ``_pending()``: the partial index below
# is only used when a query's WHERE repeats its predicate, and it covers only the few
# pending rows, however many delivered ones pile up. The migration writes the same text.
PENDING_SQLITE = "delivered_at IS NULL AND dead = 0"
PENDING_POSTGRESQL = "delivered_at IS NULL AND dead = false"


class WebhookOutbox(Base):
    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(2000))
    # The exact text that is signed and sent (UTF-8 on the wire): never re-serialised,
    # so every retry carries the same bytes.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR_CHARS))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ux_webhook_outbox_url_delivery", "url", "delivery_id", unique=True),
        Index(
            "ix_webhook_outbox_pending",
            "url",
            "id",
            sqlite_where=text(PENDING_SQLITE),
            postgresql_where=text(PENDING_POSTGRESQL),
        ),
        Index("ix_webhook_outbox_created", "created_at"),
    )


class ReportRun(Base):
    """A report made for a period (the monthly one: kind "monthly", period "YYYY-MM"):
    made once (the unique key; several daemons on one database race to insert it), then
    mailed and announced once each."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(20))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    made_by: Mapped[str] = mapped_column(String(40))  # the server id that made it
    mailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mail_error: Mapped[str | None] = mapped_column(String(500))
    announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_report_runs_kind_period", "kind", "period", unique=True),)


class ReportFile(Base):
    """One stored form of a made report (xlsx, PDF, ...), kept ``[reports] keep_months``."""

    __tablename__ = "report_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(8))
    lang: Mapped[str] = mapped_column(String(5))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_report_files", "kind", "period", "format", "lang", unique=True),)


class AuditRow(Base):
    """Who did what, and how it ended: every change made through the API, the pages and
    the command line. Append-only (the database refuses an update or a delete)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(200))
    result: Mapped[int] = mapped_column(Integer)  # the HTTP status (the CLI: 0 = done)
    detail: Mapped[dict[str, Any]] = mapped_column(Headers)
    via: Mapped[str] = mapped_column(String(10))  # api, page, cli
    server_id: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor_at", "actor", "at"),
        Index("ix_audit_action_at", "action", "at"),
    )


OPEN_FOLLOWUP = "status = 'open'"


class FollowupRow(Base):
    """A caller the desk has not reached yet (callcenter.followups): opened by an
    abandoned, after-hours, voicemail or callback call, one open entry per number; closed
    when the caller is reached (a call-back answered, or an answered call of theirs) or
    the number is wrong."""

    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    caller_num: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # open reached wrong_number
    reason: Mapped[str] = mapped_column(String(16))  # the latest unanswered call's outcome
    queue: Mapped[str | None] = mapped_column(String(64))
    server_id: Mapped[str] = mapped_column(String(40))  # of the first call
    first_linkedid: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # first call's arrival
    last_call_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    calls: Mapped[int] = mapped_column(Integer)  # the unanswered calls it stands for
    attempts: Mapped[int] = mapped_column(Integer)  # call-backs started
    last_result: Mapped[str | None] = mapped_column(String(16))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(16))  # callback call_again agent
    closed_ref: Mapped[str | None] = mapped_column(String(64))  # the call or the attempt
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index(
            "ux_followups_open_number",
            "caller_num",
            unique=True,
            sqlite_where=text(OPEN_FOLLOWUP),
            postgresql_where=text(OPEN_FOLLOWUP),
        ),
        Index("ix_followups_opened", "opened_at"),
        Index("ix_followups_status", "status", "last_call_at"),
    )


class FollowupCallRow(Base):
    """A finished call that changed the follow-up list, once (server_id, linkedid): the
    same call from the live tracker and from the PBX record, or replayed, changes it once."""

    __tablename__ = "followup_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    linkedid: Mapped[str] = mapped_column(String(64))
    followup_id: Mapped[int] = mapped_column(BigInteger)
    effect: Mapped[str] = mapped_column(String(10))  # opened added reached
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ux_followup_calls_call", "server_id", "linkedid", unique=True),
        Index("ix_followup_calls_followup", "followup_id"),
    )


class FollowupAttemptRow(Base):
    """One call-back (the agent's phone first, then the caller) or a result an agent set."""

    __tablename__ = "followup_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    followup_id: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # reached no_answer wrong_number cancelled agent_missed; None while it rings
    result: Mapped[str | None] = mapped_column(String(16))
    result_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(String(40))  # Dial's status, the OriginateResponse
    set_by: Mapped[str] = mapped_column(String(40))  # pbx, or the actor that set it

    __table_args__ = (Index("ix_followup_attempts_followup", "followup_id"),)


class LeaseRow(Base):
    """Who runs a scheduled job now (callcenter.store.leases): one holder per name
    until ``expires_at``, whatever the number of daemons."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PageSessionRow(Base):
    """A page's login session (callcenter.web.auth), by the SHA-256 of its id: the id a
    browser presents is never stored."""

    __tablename__ = "page_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(BigId)
    role: Mapped[str] = mapped_column(String(16))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The sooner of idle and absolute expiry, as of the last time it was seen.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_page_sessions_token", "token_id", "seen_at"),
        Index("ix_page_sessions_role", "role", "expires_at"),
        Index("ix_page_sessions_expires", "expires_at"),
    )


class CallDayStamp(Base):
    """How many times the calls of one (server, local day) were written: a trigger on
    ``calls`` (migration 0015) bumps it on every insert, update and delete, whoever
    writes (the live writer, ``calls rebuild``, the PBX record's reconciliation)."""

    __tablename__ = "call_day_stamps"

    server_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    local_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class CallFigureDay(Base):
    """The (server, day) whose figure cells are stored, as of which stamp generation and
    with which service-level threshold (the one setting the counts depend on)."""

    __tablename__ = "call_figure_days"

    server_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    local_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    sl_seconds: Mapped[float] = mapped_column(Float)


class CallFigureCell(Base):
    """The counts and sums of ``CallFigures`` for the calls of one (server, day, hour,
    queue): a month's figures add up from its cells instead of scanning its calls
    (callcenter.metrics.cells). One column per outcome: a new outcome needs a migration."""

    __tablename__ = "call_figure_cells"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    local_day: Mapped[str] = mapped_column(String(10))
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    queue: Mapped[str | None] = mapped_column(String(64))
    # The definitions that classified its calls (a period that mixes them says so).
    definitions: Mapped[str | None] = mapped_column(String(120))
    after_hours: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    transferred_out: Mapped[int] = mapped_column(Integer)
    voicemail: Mapped[int] = mapped_column(Integer)
    callback: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    unknown: Mapped[int] = mapped_column(Integer)
    short_abandoned: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    busy: Mapped[int] = mapped_column(Integer)
    answered_within_sl: Mapped[int] = mapped_column(Integer)
    wait_count: Mapped[int] = mapped_column(Integer)
    wait_sum: Mapped[float] = mapped_column(Float)
    handle_count: Mapped[int] = mapped_column(Integer)
    handle_sum: Mapped[float] = mapped_column(Float)
    max_wait_seconds: Mapped[float | None] = mapped_column(Float)
    # Its abandoned calls by how long they waited (metrics.sql.ABANDON_WAIT_EDGES):
    # under 10 s, 20, 30, 60, 120, 300 s, longer, and no wait recorded.
    abandoned_w0: Mapped[int] = mapped_column(Integer)
    abandoned_w1: Mapped[int] = mapped_column(Integer)
    abandoned_w2: Mapped[int] = mapped_column(Integer)
    abandoned_w3: Mapped[int] = mapped_column(Integer)
    abandoned_w4: Mapped[int] = mapped_column(Integer)
    abandoned_w5: Mapped[int] = mapped_column(Integer)
    abandoned_w6: Mapped[int] = mapped_column(Integer)
    abandoned_wnone: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_call_figure_cells_day", "local_day", "server_id"),)


class LiveStateRow(Base):
    """A server's live state as its daemon last published it (callcenter.cluster): the
    truth a daemon reloads the other servers from, since notifications are not kept."""

    __tablename__ = "live_states"

    server_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # which daemon of that server wrote it
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(Headers)
