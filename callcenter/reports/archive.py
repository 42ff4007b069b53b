"""The reports made and kept: each period's run (made once, mailed once, announced once,
whichever daemon gets there first) and its stored forms."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.store.models import ReportFile, ReportRun

MONTHLY = "monthly"
_FILES: Table = ReportFile.__table__  # type: ignore[assignment]


def _utc(at: datetime) -> datetime:
    # SQLite hands back the stored UTC time without its zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True)
class Run:
    kind: str
    period: str
    made_at: datetime
    made_by: str
    mailed_at: datetime | None
    mail_error: str | None
    announced_at: datetime | None


_RUN_COLUMNS = tuple(ReportRun.__table__.c[name] for name in Run.__dataclass_fields__)


@dataclass(frozen=True)
class StoredForm:
    kind: str
    period: str
    format: str
    lang: str
    size: int
    sha256: str
    made_at: datetime


class ReportArchive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, kind: str, period: str, by: str, now: datetime) -> bool:
        """True for the one caller that gets to make this period's report."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(ReportRun).values(kind=kind, period=period, made_at=now, made_by=by)
                )
        except IntegrityError:
            return False
        return True

    def claim_mail(self, kind: str, period: str, now: datetime) -> bool:
        """True for the one daemon that gets to mail this period's report: the run is
        marked mailed in the same statement that checks it was not (several daemons)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(ReportRun)
                .where(ReportRun.kind == kind, ReportRun.period == period)
                .where(ReportRun.mailed_at.is_(None))
                .values(mailed_at=now)
            ).rowcount
        return done == 1

    def unclaim_mail(self, kind: str, period: str, error: str) -> None:
        """The mail did not go: the next tick (of any daemon) tries again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ReportRun)
                .where(ReportRun.kind == kind, ReportRun.period == period)
                .values(mailed_at=None, mail_error=error[:500])
            )

    def claim_announce(self, conn: Any, kind: str, period: str, now: datetime) -> bool:
        """Marks the run announced on ``conn`` (the webhook is queued in the same
        transaction): True for the one caller that does."""
        done = conn.execute(
            update(ReportRun)
            .where(ReportRun.kind == kind, ReportRun.period == period)
            .where(ReportRun.announced_at.is_(None))
            .values(announced_at=now)
        ).rowcount
        return bool(done == 1)

    def release(self, kind: str, period: str) -> None:
        """Give a claim back (making the report failed): the next try makes it."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(ReportRun).where(ReportRun.kind == kind, ReportRun.period == period)
            )

    def run(self, kind: str, period: str) -> Run | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(*_RUN_COLUMNS).where(ReportRun.kind == kind, ReportRun.period == period)
                )
                .mappings()
                .first()
            )
            return None if row is None else Run(**row)

    def unsent(self, kind: str) -> list[Run]:
        """Runs not yet mailed or announced (a mail server that was down, a restart)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_RUN_COLUMNS)
                .where(ReportRun.kind == kind)
                .where((ReportRun.mailed_at.is_(None)) | (ReportRun.announced_at.is_(None)))
                .order_by(ReportRun.period)
            ).mappings()
            return [Run(**r) for r in rows]

    def save(
        self, kind: str, period: str, fmt: str, lang: str, content: bytes, now: datetime
    ) -> None:
        """Store one form; a form already stored is replaced (made again on request)."""
        digest = hashlib.sha256(content).hexdigest()
        t = _FILES
        with self.engine.begin() as conn:
            conn.execute(
                delete(t).where(
                    t.c.kind == kind, t.c.period == period, t.c.format == fmt, t.c.lang == lang
                )
            )
            conn.execute(
                t.insert().values(
                    kind=kind,
                    period=period,
                    format=fmt,
                    lang=lang,
                    content=content,
                    sha256=digest,
                    made_at=now,
                )
            )

    def content(self, kind: str, period: str, fmt: str, lang: str) -> bytes | None:
        t = _FILES
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.c.content).where(
                    t.c.kind == kind, t.c.period == period, t.c.format == fmt, t.c.lang == lang
                )
            ).scalar()
            return None if value is None else bytes(value)

    def forms(self, kind: str) -> list[StoredForm]:
        t = _FILES
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.c.kind,
                    t.c.period,
                    t.c.format,
                    t.c.lang,
                    t.c.sha256,
                    t.c.made_at,
                    t.c.content,
                )
                .where(t.c.kind == kind)
                .order_by(t.c.period.desc(), t.c.format, t.c.lang)
            )
            return [
                StoredForm(
                    r.kind, r.period, r.format, r.lang, len(r.content), r.sha256, _utc(r.made_at)
                )
                for r in rows
            ]

    def mark(self, kind: str, period: str, *, mailed: datetime | None = None,
             mail_error: str | None = None, announced: datetime | None = None) -> None:  # fmt: skip
        values: dict[str, object] = {}
        if mailed is not None:
            values["mailed_at"] = mailed
            values["mail_error"] = None
        if mail_error is not None:
            values["mail_error"] = mail_error[:500]
        if announced is not None:
            values["announced_at"] = announced
        if not values:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(ReportRun)
                .where(ReportRun.kind == kind, ReportRun.period == period)
                .values(**values)
            )

    def prune(self, kind: str, oldest_period: str) -> int:
        """Forget the forms and runs of periods before ``oldest_period``."""
        with self.engine.begin() as conn:
            n = conn.execute(
                delete(ReportFile).where(ReportFile.kind == kind, ReportFile.period < oldest_period)
            ).rowcount
            conn.execute(
                delete(ReportRun).where(ReportRun.kind == kind, ReportRun.period < oldest_period)
            )
            return int(n or 0)
