"""The webhook sender: a background task that POSTs outbox rows until they are accepted.

Each URL is served on its own (one slow receiver does not hold up another), one row at
a time and oldest first, so a receiver sees events in order. A 2xx answer marks the row
delivered; any other answer, a refused connection or a timeout schedules a retry with
exponential backoff and jitter, and after ``max_attempts`` the row goes dead with a
warning. Delivery is at least once: a crash between the receiver's 2xx and our commit
sends the row again, with the same delivery id for the receiver to drop.

The database is only reached through ``asyncio.to_thread``: the event loop also runs
the AMI connection, and a slow commit must not stall call handling.

On PostgreSQL several daemons may run a sender on one database: each row is claimed
(``outbox.claim``: ``FOR UPDATE SKIP LOCKED``) before it is posted, so one sender posts
it. A claim lasts the attempt's timeout plus ``CLAIM_MARGIN``; a sender that dies
holding one leaves its row to be sent by another once it runs out (at least once, the
same delivery id). SQLite is one daemon's file: rows are sent as read, unclaimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.backoff import backoff
from callcenter.logging import register_secret
from callcenter.webhooks import outbox
from callcenter.webhooks.outbox import Delivery
from callcenter.webhooks.settings import WebhookSettings
from callcenter.webhooks.signing import signed_headers

log = structlog.get_logger("callcenter.webhooks")

Clock = Callable[[], datetime]
ERROR_BODY_CHARS = 200
# How far past the attempt's timeout a claim lasts: room for recording the outcome.
CLAIM_MARGIN = 30.0


def safe_url(url: str) -> str:
    """The URL without user info or query string, which may carry credentials."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port is not None:
        host = f"{host}:{p.port}"
    return f"{p.scheme}://{host}{p.path}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookSender:
    def __init__(
        self,
        engine: Engine,
        settings: WebhookSettings,
        *,
        clock: Clock | None = None,
        poll_interval: float = 5.0,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock: Clock = clock or _utcnow
        # Rows written by another process (or by code that forgets wake()) still go out.
        self.poll_interval = poll_interval
        self._secret = settings.resolved_secret(environ)
        self._rng = rng or random.Random()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._epoch: dict[str, int] = {}  # url -> attempts finished, to spot stale reads
        self._hold: dict[str, float] = {}  # url -> loop time before which it is not tried
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self.failed = 0
        self.dead = 0
        self.healthy = True  # False while the database refuses reads or writes
        # Rows are claimed before each attempt where another daemon may send them too.
        self.claims = engine.dialect.name == "postgresql"

    # -- control -------------------------------------------------------------------------

    async def start(
        self,
        spawn: Callable[[str, Callable[[], Awaitable[None]]], asyncio.Task[None]] | None = None,
    ) -> None:
        """Start sending; rows left by an earlier run (or a crash) are sent first.
        ``spawn`` (e.g. ``Supervisor.start``) runs the sending loop supervised."""
        if self._task is not None:
            return
        if not self._secret:
            # Unsigned requests to a third party would be forgeable: refuse to send them.
            raise ValueError(f"webhook secret is not set (set ${self.settings.secret_env})")
        register_secret(self._secret)
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        # A fresh event: one made under an earlier (closed) loop cannot be awaited here.
        self._wakeup = asyncio.Event()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            headers={"User-Agent": "callcenter-webhooks/1"},
        )
        if spawn is None:
            self._task = asyncio.create_task(self._run(), name="webhook-sender")
        else:
            self._task = spawn("webhook-sender", self._run)

    def wake(self) -> None:
        """Look for due rows now (call right after committing an ``enqueue``).

        Safe from any thread: incident code may commit from a worker thread.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Stop sending. Unsent rows stay in the table for the next ``start``.

        An attempt in flight gets up to ``timeout`` to finish (so its answer is recorded
        rather than sent again); past that it is cancelled and the row is simply retried
        by the next run.
        """
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        inflight = list(self._inflight.values())
        if inflight:
            _, late = await asyncio.wait(inflight, timeout=self.settings.timeout + 1.0)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await task
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- the loop ------------------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure (1-based), jittered.

        The jitter spreads the retries of many rows that failed together, so a
        recovering receiver is not hit by all of them at once.
        """
        s = self.settings
        return backoff(attempts - 1, s.retry_min, s.retry_max, self._rng.random)

    async def _run(self) -> None:
        db_failures = 0
        while not self._stopping:
            self._wakeup.clear()
            # An attempt that finishes while the heads are being read makes its URL's head
            # stale (read before that attempt's commit): it would be sent twice.
            epochs = dict(self._epoch)
            try:
                heads = await asyncio.to_thread(self._heads)
            except SQLAlchemyError as exc:
                db_failures += 1
                self.healthy = False
                delay = self._backoff(db_failures)
                log.warning(
                    "webhook.db_failed",
                    error=type(exc).__name__,
                    attempt=db_failures,
                    retry_in=round(delay, 2),
                )
                await self._sleep(delay)
                continue
            db_failures = 0
            self.healthy = True
            now = self.clock()
            mono = asyncio.get_running_loop().time()
            wait = self.poll_interval
            for head in heads:
                if head.url in self._inflight or self._epoch.get(head.url) != epochs.get(head.url):
                    continue  # the finishing attempt has set the wake-up: read again
                held = self._hold.get(head.url, 0.0) - mono
                if held > 0:
                    wait = min(wait, held)
                elif head.next_attempt_at <= now:
                    self._inflight[head.url] = asyncio.create_task(self._deliver(head))
                else:
                    wait = min(wait, (head.next_attempt_at - now).total_seconds())
            await self._sleep(max(0.0, wait))
        # Let attempts in flight record their result (stop() bounds how long).
        if self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    def _heads(self) -> list[Delivery]:
        with self.engine.connect() as conn:
            return outbox.heads(conn)

    def _claim(self, row: Delivery) -> Delivery | None:
        now = self.clock()
        until = now + timedelta(seconds=self.settings.timeout + CLAIM_MARGIN)
        with self.engine.begin() as conn:
            return outbox.claim(conn, row.id, now, until)

    async def _deliver(self, head: Delivery) -> None:
        recorded = False
        row = head
        try:
            if self.claims:
                try:
                    claimed = await asyncio.to_thread(self._claim, head)
                except SQLAlchemyError as exc:
                    self.healthy = False
                    log.warning("webhook.claim_failed", db_error=type(exc).__name__)
                    return  # held back below, then read again
                if claimed is None:
                    # Another sender has it (or sent it): read the heads again.
                    recorded = True
                    return
                row = claimed
            status, error = await self._post(row)
            recorded = await self._record(row, status, error)
        except Exception:
            log.exception("webhook.attempt_crashed", delivery_id=row.delivery_id)
        finally:
            if recorded:
                self._hold.pop(row.url, None)
            else:
                # The row still looks due in the table: hold its URL back for a while, or
                # it would be posted again at once, over and over.
                delay = self._backoff(row.attempts + 1)
                self._hold[row.url] = asyncio.get_running_loop().time() + delay
            self._epoch[row.url] = self._epoch.get(row.url, 0) + 1
            self._inflight.pop(row.url, None)
            # The next row of this URL may go now.
            self._wakeup.set()

    async def _post(self, row: Delivery) -> tuple[int | None, str | None]:
        """One attempt: (HTTP status or None, error text or None when accepted)."""
        assert self._session is not None
        ts = int(self.clock().timestamp())
        body = row.body.encode("utf-8")
        headers = signed_headers(self._secret, row.event, row.delivery_id, ts, body)
        try:
            async with self._session.post(
                row.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                if 200 <= resp.status < 300:
                    return resp.status, None
                snippet = (await resp.content.read(ERROR_BODY_CHARS)).decode("utf-8", "replace")
                return resp.status, f"HTTP {resp.status}: {snippet}".strip()
        except TimeoutError:
            return None, f"timeout after {self.settings.timeout:g} s"
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # Whatever breaks one attempt (an OSError, a malformed URL) must become a
            # recorded, backed-off retry: left unrecorded, the row would be retried at once,
            # in a tight loop.
            return None, f"{type(exc).__name__}: {exc}"

    def _scrub(self, text: str) -> str:
        # A receiver's error page or an exception could echo anything back at us.
        return text.replace(self._secret, "***") if self._secret else text

    async def _record(self, row: Delivery, status: int | None, error: str | None) -> bool:
        """Store the attempt's outcome; False if the database would not take it."""
        now = self.clock()
        attempts = row.attempts + 1
        fields = {
            "delivery_id": row.delivery_id,
            "webhook_event": row.event,
            "url": safe_url(row.url),
            "attempt": attempts,
        }
        try:
            if error is None:
                assert status is not None
                await asyncio.to_thread(self._write_delivered, row.id, now, status)
                self.delivered += 1
                log.info("webhook.delivered", status=status, **fields)
                return True
            error = self._scrub(error)
            dead = attempts >= self.settings.max_attempts
            delay = self._backoff(attempts)
            next_at = now + timedelta(seconds=delay)
            await asyncio.to_thread(self._write_failed, row.id, now, error, next_at, status, dead)
        except SQLAlchemyError as exc:
            # Not recorded: the row is still pending and will be sent again (same id).
            self.healthy = False
            log.warning("webhook.record_failed", db_error=type(exc).__name__, **fields)
            return False
        if dead:
            self.dead += 1
            log.warning(
                "webhook.dead",
                note="gave up: the ticket system never accepted this event; "
                "outbox.revive_dead() sends it again",
                last_error=error,
                status=status,
                **fields,
            )
        else:
            self.failed += 1
            log.warning(
                "webhook.retry",
                error=error,
                status=status,
                retry_in=round(delay, 2),
                **fields,
            )
        return True

    def _write_delivered(self, row_id: int, now: datetime, status: int) -> None:
        with self.engine.begin() as conn:
            outbox.mark_delivered(conn, row_id, now, status)

    def _write_failed(
        self,
        row_id: int,
        now: datetime,
        error: str,
        next_at: datetime,
        status: int | None,
        dead: bool,
    ) -> None:
        with self.engine.begin() as conn:
            outbox.mark_failed(conn, row_id, now, error, next_at, status=status, dead=dead)
