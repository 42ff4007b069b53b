"""The service mode the dialplan reads: AstDB ``callcenter/mode`` and ``callcenter/mode_until``.

``decide`` (pure) says what the mode is at an instant, from the calendar and an optional
supervisor's ``Override``. ``ModeKeeper`` writes it with AMI ``DBPut``:

- on start-up, after every AMI reconnect (``resync``), and on an override;
- at each exact boundary: an APScheduler ``DateTrigger`` armed at the decision's
  ``valid_until`` and re-armed from there;
- every ``ttl / 3`` seconds (a refresh), so a failed write is retried.

A supervisor's emergency override is kept in AstDB too (``callcenter/override``:
``MODE|UNTIL_EPOCH|NOTE``), so it outlives a daemon restart, and ``callcenter mode``
(another process) can set it: the keeper reads it back before every write, so whoever
set it, the next write (at the latest the next refresh) follows it.

``mode_until`` is the last epoch second the daemon vouches for the mode (the dialplan
checks ``EPOCH <= mode_until``): the second before the next boundary, or ``now + ttl``
if that comes first. So if the daemon dies, the dialplan's own time rule takes over
within ``ttl``, and it never serves a mode past the boundary at which it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal, cast, get_args

import structlog
from apscheduler.job import Job  # type: ignore[import-untyped]
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from callcenter.ami.client import AMIListActions
from callcenter.ami.errors import AMIActionError, AMIError
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.text import describe, forbidden_character

log = structlog.get_logger("callcenter.schedule")

Mode = Literal["open", "closed"]
Reason = Literal["hours", "holiday", "year_end", "closed_day", "override"]
Clock = Callable[[], datetime]
MODES: tuple[str, ...] = get_args(Mode)
ASTDB_FAMILY = "callcenter"
OVERRIDE_KEY = "override"
NOTE_MAX = 200  # characters of an override's note kept in AstDB


@dataclass(frozen=True)
class Override:
    """A supervisor's emergency close (or open) until ``until``."""

    mode: Mode
    until: datetime
    note: str = ""  # who and why, for the log


def encode_override(o: Override) -> str:
    """``MODE|UNTIL_EPOCH|NOTE``; the note on one line (AMI header values cannot break)."""
    note = " ".join(o.note.split())[:NOTE_MAX]
    return f"{o.mode}|{math.ceil(o.until.timestamp())}|{note}"


def check_note(note: str) -> str:
    """The note, if AstDB can keep it; else ValueError ``note: ...``.

    White space of any kind (line breaks, tabs) is folded into single spaces when it is
    stored; any other control character (NUL, ESC, DEL...) or a lone surrogate is refused.
    """
    bad = forbidden_character(note, spaces=True)
    if bad is not None:
        raise ValueError(f"note: must not contain control characters (found {describe(bad)})")
    return note


def decode_override(value: str, tz: tzinfo) -> Override | None:
    """The override stored by ``encode_override``; ``None`` if the value is not one."""
    mode, _, rest = value.partition("|")
    until, _, note = rest.partition("|")
    if mode not in MODES or not until.isdigit():
        return None
    return Override(cast(Mode, mode), datetime.fromtimestamp(int(until), tz), note)


@dataclass(frozen=True)
class ModeDecision:
    mode: Mode
    reason: Reason
    valid_until: datetime  # the next instant the mode may change
    note: str = ""  # the holiday's name, or the override's note


def decide(
    calendar: BusinessCalendar, at: datetime, override: Override | None = None
) -> ModeDecision:
    """The mode at ``at``: an override still running wins, else the calendar."""
    if override is not None and at < override.until:
        return ModeDecision(override.mode, "override", override.until, override.note)
    change = calendar.next_change(at)
    if calendar.is_open(at):
        return ModeDecision("open", "hours", change)
    day = at.astimezone(calendar.tz).date()
    reason = calendar.day_off_reason(day) or "hours"
    note = (calendar.holiday_name(day) or "") if reason == "holiday" else ""
    return ModeDecision("closed", reason, change, note)


class ModeKeeper:
    def __init__(
        self,
        client: AMIListActions,
        calendar: BusinessCalendar,
        *,
        clock: Clock | None = None,
        wall: Callable[[], float] | None = None,
        ttl: float = 300.0,
        refresh: float | None = None,
        family: str = ASTDB_FAMILY,
    ) -> None:
        """``clock``: the service's time (default: now); ``ttl``: seconds ``mode_until`` runs
        ahead at most; ``refresh``: seconds between rewrites (default ``ttl / 3``).

        An injected clock (a test pretending it is a holiday) runs the calendar, while
        the scheduler's timers and ``mode_until`` stay in real time, the same distance
        ahead as in the clock's world. ``wall`` (tests) replaces the real epoch seconds
        ``mode_until`` is computed from; the timers always use the real time.
        """
        if ttl <= 0:
            raise ValueError("ttl: must be greater than 0")
        self.client = client
        self.calendar = calendar
        self._clock: Clock = clock or (lambda: datetime.now(calendar.tz))
        self._injected = clock is not None
        self._wall = wall
        self.ttl = ttl
        self.refresh = refresh if refresh is not None else ttl / 3
        self.family = family
        self._override: Override | None = None
        self._lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._boundary_job: Job | None = None
        self._armed_for: datetime | None = None
        self._job_ids = itertools.count(1)
        self._logged: ModeDecision | None = None
        self._stopped = False
        self.written: ModeDecision | None = None  # the last decision written in full
        self.written_until: int | None = None  # and the mode_until written with it
        self.write_failures = 0

    # -- queries ---------------------------------------------------------------------

    @property
    def override_active(self) -> Override | None:
        o = self._override
        return o if o is not None and self._clock() < o.until else None

    def current(self) -> ModeDecision:
        """The mode right now (whether or not it has been written yet)."""
        return decide(self.calendar, self._clock(), self.override_active)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> ModeDecision:
        """Start the scheduler and write the mode now. Call it inside the running loop."""
        if self._scheduler is None:
            self._stopped = False
            sched = AsyncIOScheduler(
                timezone=UTC,
                # Late is better than never: a boundary is run however late the loop is.
                job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            )
            sched.start()
            sched.add_job(
                self._job,
                IntervalTrigger(seconds=self.refresh, timezone=UTC),
                args=["refresh", None],
                id="service-mode-refresh",
            )
            self._scheduler = sched
        return await self._apply("start")

    async def stop(self) -> None:
        self._stopped = True
        sched, self._scheduler = self._scheduler, None
        self._boundary_job = self._armed_for = None
        if sched is not None and sched.running:
            sched.shutdown(wait=False)
            await asyncio.sleep(0)  # the scheduler shuts down on the loop's next turn
        async with self._lock:  # let a write in flight finish
            pass

    async def resync(self) -> None:
        """Write the mode again (the daemon calls this after every AMI (re)connect)."""
        if not self._stopped:
            await self._job("reconnect", None)

    async def load(self) -> ModeDecision:
        """The mode now, with the override stored in the PBX (nothing is written)."""
        async with self._lock:
            now = self._clock()
            await self._load_override(now, self._pbx_offset(now))
            return decide(self.calendar, now, self.override_active)

    async def read_pbx(self) -> tuple[str | None, int | None]:
        """What the dialplan reads: the stored mode and ``mode_until`` (None if unset)."""
        values: list[str | None] = []
        for key in ("mode", "mode_until"):
            try:
                answer = await self.client.action_list("DBGet", {"Family": self.family, "Key": key})
            except AMIActionError:
                values.append(None)
                continue
            found = (m["Val"] for m in answer if m.get("Event") == "DBGetResponse")
            values.append(next(found, None))
        mode, until = values
        return mode, int(until) if until and until.isdigit() else None

    # -- supervisor ------------------------------------------------------------------

    async def override(
        self, mode: str, until: datetime | None = None, note: str = ""
    ) -> ModeDecision:
        """Force ``mode`` until ``until`` (aware), or until the calendar's next boundary.

        Stored in AstDB first (an AMI error is raised: the supervisor must know it did
        not take), then the mode is written.
        """
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        check_note(note)
        now = self._clock()
        if until is None:
            until = self.calendar.next_change(now)
        elif until.tzinfo is None or until.utcoffset() is None:
            raise ValueError("until: an aware datetime is needed")
        elif until <= now:
            raise ValueError(f"until: {until.isoformat()} is not in the future")
        override = Override(cast(Mode, mode), until.astimezone(self.calendar.tz), note)
        # Stored in the PBX's epoch seconds (what a restarted daemon or the CLI compare with).
        offset = self._pbx_offset(now)
        stored = Override(
            override.mode,
            datetime.fromtimestamp(override.until.timestamp() + offset, self.calendar.tz),
            override.note,
        )
        await self.client.action(
            "DBPut", {"Family": self.family, "Key": OVERRIDE_KEY, "Val": encode_override(stored)}
        )
        self._override = override
        log.info("service.override", mode=mode, until=until.isoformat(), note=note)
        return await self._apply("override")

    async def clear_override(self) -> ModeDecision:
        """Back to the calendar (an AMI error is raised, as for ``override``)."""
        await self._delete_override()
        if self._override is not None:
            log.info("service.override_cleared", mode=self._override.mode)
        self._override = None
        return await self._apply("override_cleared")

    async def _delete_override(self) -> None:
        try:
            await self.client.action("DBDel", {"Family": self.family, "Key": OVERRIDE_KEY})
        except AMIActionError as exc:
            if "could not be deleted" not in exc.reason:  # there was none: nothing to do
                raise

    async def _load_override(self, now: datetime, offset: float) -> None:
        """Take the override stored in AstDB (whoever set it); on a failed read keep
        the one in memory (the write that follows will most likely fail too)."""
        try:
            answer = await self.client.action_list(
                "DBGet", {"Family": self.family, "Key": OVERRIDE_KEY}
            )
        except AMIActionError as exc:
            if "not found" in exc.reason:
                if self._override is not None:
                    log.info("service.override_removed", mode=self._override.mode)
                self._override = None
            return
        except (AMIError, OSError):
            return
        value = next((m.get("Val", "") for m in answer if m.get("Event") == "DBGetResponse"), "")
        stored = decode_override(value, self.calendar.tz)
        if stored is None:
            log.warning("service.override_unreadable", value=value[:80])
            self._override = None
            return
        # Back into the service clock's time (the same unless a clock is injected).
        until = datetime.fromtimestamp(stored.until.timestamp() - offset, self.calendar.tz)
        if self._override is None or (self._override.mode, self._override.until) != (
            stored.mode,
            until,
        ):
            log.info("service.override_loaded", mode=stored.mode, until=until.isoformat())
        self._override = Override(stored.mode, until, stored.note)

    def _timer_offset(self, now: datetime) -> float:
        """Real epoch seconds minus the service clock's: 0 unless a clock is injected."""
        return time.time() - now.timestamp() if self._injected else 0.0

    def _pbx_offset(self, now: datetime) -> float:
        """The PBX's epoch seconds (``mode_until``, the stored override) minus the clock's."""
        if self._wall is None:
            return self._timer_offset(now)
        return self._wall() - now.timestamp()

    # -- the work --------------------------------------------------------------------

    async def _job(self, why: str, boundary: datetime | None) -> None:
        """A scheduled run: never raises (APScheduler would only log it elsewhere)."""
        try:
            await self._apply(why, boundary)
        except Exception as exc:
            log.error("service.mode_failed", why=why, error=repr(exc), exc_info=exc)

    async def _apply(self, why: str, boundary: datetime | None = None) -> ModeDecision:
        async with self._lock:
            now = self._clock()
            if boundary is not None:
                # A timer may fire a hair early by the clock: the boundary has been reached.
                self._armed_for = None
                now = max(now, boundary)
            timer_offset = self._timer_offset(now)
            pbx_offset = self._pbx_offset(now)
            await self._load_override(now, pbx_offset)
            if self._override is not None and now >= self._override.until:
                log.info("service.override_ended", mode=self._override.mode)
                self._override = None
                with contextlib.suppress(AMIError, OSError):
                    await self._delete_override()
            decision = decide(self.calendar, now, self._override)
            last = self._logged
            if last is None or (last.mode, last.reason) != (decision.mode, decision.reason):
                log.info(
                    "service.mode",
                    mode=decision.mode,
                    reason=decision.reason,
                    until=decision.valid_until.isoformat(),
                    note=decision.note,
                    why=why,
                )
                self._logged = decision
            self._arm(decision.valid_until, timer_offset)
            await self._write(decision, now, pbx_offset)
            return decision

    def _arm(self, target: datetime, offset: float) -> None:
        sched = self._scheduler
        if sched is None or self._armed_for == target:
            return
        if self._boundary_job is not None:
            with contextlib.suppress(JobLookupError):
                self._boundary_job.remove()
        run_at = datetime.fromtimestamp(target.timestamp() + offset, UTC) if offset else target
        # A fresh id each time: the job that is running now still holds its own.
        self._boundary_job = sched.add_job(
            self._job,
            DateTrigger(run_date=run_at, timezone=UTC),
            args=["boundary", target],
            id=f"service-mode-boundary-{next(self._job_ids)}",
        )
        self._armed_for = target

    async def _write(self, decision: ModeDecision, now: datetime, offset: float) -> bool:
        wall_now = now.timestamp() + offset
        boundary = decision.valid_until.timestamp() + offset
        until = min(math.ceil(boundary) - 1, math.floor(wall_now + self.ttl))
        # The mode first: until both are written, the new mode carries the old vouched
        # time, or (on a first write) none, and the dialplan's time rule decides.
        try:
            for key, value in (("mode", decision.mode), ("mode_until", str(until))):
                await self.client.action("DBPut", {"Family": self.family, "Key": key, "Val": value})
        except (AMIError, OSError) as exc:
            self.write_failures += 1
            log.warning(
                "service.mode_write_failed",
                mode=decision.mode,
                error=str(exc),
                retry_in=round(self.refresh, 1),
            )
            return False
        self.written, self.written_until = decision, until
        return True
