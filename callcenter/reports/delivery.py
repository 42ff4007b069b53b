"""The monthly report made, kept and sent by the daemon.

On the first operating day of each month (the business calendar: weekdays, not national
holidays, not the year-end closure), at ``[reports] at``, the previous month's report is
made in each configured form and stored; then mailed to ``mail_to`` and announced as the
``report.monthly`` webhook. A daemon that was down then does it when it next runs. Each
step happens once: the run is claimed in the database (several daemons may share it),
and a mail or webhook that failed is tried again at the next tick until it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import smtplib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.reports.archive import MONTHLY, ReportArchive
from callcenter.reports.settings import ReportsConfig
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.webhooks.outbox import enqueue
from callcenter.webhooks.settings import WebhookSettings

log = structlog.get_logger("callcenter.reports")

EVENT = "report.monthly"
TICK_SECONDS = 3600.0  # the longest sleep: a changed clock or calendar is seen within it
RETRY_SECONDS = 300.0  # after a database error
FIRST_DELAY = 60.0  # seconds after the daemon starts
# (format) -> (MIME type, subtype, file extension)
MIME: Mapping[str, tuple[str, str, str]] = {
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application", "pdf", "pdf"),
    "html": ("text", "html", "html"),
    "csv": ("text", "csv", "csv"),
    "json": ("application", "json", "json"),
}
SUBJECT = {"ja": "月次運用報告書 {period}", "en": "Monthly operations report {period}"}
BODY = {
    "ja": "{period} の月次運用報告書を添付します。\n\n{summary}\n",
    "en": "The monthly operations report for {period} is attached.\n\n{summary}\n",
}

# (month "YYYY-MM", format, lang) -> the form's bytes; and the summary for the mail and
# the webhook (month, lang) -> (text lines, JSON).
Render = Callable[[str, str, str], bytes]
Summarize = Callable[[str, str], tuple[str, dict[str, Any]]]


def first_operating_day(year: int, month: int, cal: BusinessCalendar) -> date | None:
    day = date(year, month, 1)
    while day.month == month:
        if cal.is_operating_day(day):
            return day
        day += timedelta(days=1)
    return None


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def due_period(now: datetime, cal: BusinessCalendar, at: time) -> str:
    """The latest month whose report is due at ``now``: the previous month once this
    month's first operating day has reached ``at``, else the one before."""
    local = now.astimezone(cal.tz)
    year, month = local.year, local.month
    first = first_operating_day(year, month, cal)
    y, m = _previous(year, month)
    if first is None or local < datetime.combine(first, at, tzinfo=cal.tz):
        y, m = _previous(y, m)
    return f"{y:04d}-{m:02d}"


def oldest_kept(period: str, keep_months: int) -> str:
    year, month = (int(x) for x in period.split("-"))
    index = year * 12 + (month - 1) - (keep_months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class ReportDelivery:
    """The daemon's task (``run``); ``tick`` does one pass and can be called alone."""

    def __init__(
        self,
        engine: Engine,
        settings: ReportsConfig,
        calendar: BusinessCalendar,
        server_id: str,
        render: Render,
        summarize: Summarize,
        *,
        webhooks: WebhookSettings | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.archive = ReportArchive(engine)
        self.engine = engine
        self.settings = settings
        self.calendar = calendar
        self.server_id = server_id
        self.render = render
        self.summarize = summarize
        self.webhooks = webhooks
        self.environ = os.environ if environ is None else environ
        self.clock = clock or (lambda: datetime.now(calendar.tz))

    async def run(self, stop: asyncio.Event) -> None:
        # Not in the start-up's rush: the daemon takes calls first, the report can wait.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FIRST_DELAY)
        while not stop.is_set():
            sleep = self._sleep()
            try:
                await asyncio.to_thread(self.tick)
            except (SQLAlchemyError, OSError) as exc:
                # A database that is down: the report waits for it, the daemon does not.
                log.warning("report.tick_failed", error=type(exc).__name__)
                sleep = min(sleep, RETRY_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), sleep)

    def _sleep(self) -> float:
        """Until the next month's report is due, at most an hour."""
        now = self.clock().astimezone(self.calendar.tz)
        y, m = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        for year, month in ((now.year, now.month), (y, m)):
            first = first_operating_day(year, month, self.calendar)
            if first is None:
                continue
            due = datetime.combine(first, self._at(), tzinfo=self.calendar.tz)
            if due > now:
                return max(1.0, min(TICK_SECONDS, (due - now).total_seconds()))
        return TICK_SECONDS

    def _at(self) -> time:
        return time.fromisoformat(self.settings.at)

    def tick(self) -> str | None:
        """Make the due report if nobody has, send what is unsent; the period made."""
        s = self.settings
        if not s.archive:
            return None
        now = self.clock()
        period = due_period(now, self.calendar, self._at())
        made = None
        if self.archive.run(MONTHLY, period) is None and self.archive.claim(
            MONTHLY, period, self.server_id, now
        ):
            try:
                for fmt in s.formats:
                    self.archive.save(
                        MONTHLY, period, fmt, s.lang, self.render(period, fmt, s.lang), now
                    )
            except Exception:
                self.archive.release(MONTHLY, period)  # the next tick tries again
                raise
            made = period
            log.info("report.made", period=period, formats=list(s.formats))
        for run in self.archive.unsent(MONTHLY):
            if run.mailed_at is None:
                self._mail(run.period, now)
            if run.announced_at is None:
                self._announce(run.period, now)
        self.archive.prune(MONTHLY, oldest_kept(period, s.keep_months))
        return made

    # -- sending ---------------------------------------------------------------------------

    def message(self, period: str) -> EmailMessage:
        s = self.settings
        text, _ = self.summarize(period, s.lang)
        msg = EmailMessage()
        msg["Subject"] = SUBJECT[s.lang].format(period=period)
        msg["From"] = s.mail_from
        msg["To"] = ", ".join(s.mail_to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=s.mail_from.partition("@")[2] or None)
        msg.set_content(BODY[s.lang].format(period=period, summary=text))
        for fmt in s.formats:
            content = self.archive.content(MONTHLY, period, fmt, s.lang)
            if content is None:
                continue
            maintype, subtype, ext = MIME[fmt]
            msg.add_attachment(
                content,
                maintype=maintype,
                subtype=subtype,
                filename=f"monthly-report-{period}-{s.lang}.{ext}",
            )
        return msg

    def _mail(self, period: str, now: datetime) -> None:
        s = self.settings
        if not self.archive.claim_mail(MONTHLY, period, now):
            return  # another daemon is mailing it, or has
        if not s.mail_to:
            return  # nobody to send it to
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username:
                    smtp.login(s.smtp_username, self.environ.get(s.smtp_password_env, ""))
                smtp.send_message(self.message(period))
        except (OSError, smtplib.SMTPException) as exc:
            # The reason, never the password (smtplib's errors do not carry it).
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("report.mail_failed", period=period, error=reason)
            self.archive.unclaim_mail(MONTHLY, period, reason)
            return
        log.info("report.mailed", period=period, to=len(s.mail_to))
        self.archive.mark(MONTHLY, period, mailed=now)  # clears an earlier try's error

    def _announce(self, period: str, now: datetime) -> None:
        s = self.settings
        webhooks = self.webhooks if s.webhook else None
        payload = None
        if webhooks is not None:
            _, summary = self.summarize(period, s.lang)
            payload = {"period": period, "formats": list(s.formats), "lang": s.lang, **summary}
        # Marked and queued in one transaction: one daemon announces it, once.
        with self.engine.begin() as conn:
            claimed = self.archive.claim_announce(conn, MONTHLY, period, now)
            if not claimed or webhooks is None or payload is None:
                return
            queued = enqueue(conn, EVENT, payload, now, settings=webhooks)
        if queued is None:
            log.warning("report.webhook_not_listed", period=period, event=EVENT)
