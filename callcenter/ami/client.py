"""The AMI connection: login, actions with ActionID futures, keep-alive, reconnect, resync.

One supervisor task owns the connection. It connects and logs in, then runs a reader
(bytes -> framer -> responses and events) and a pinger until the connection is lost,
and then reconnects with exponential backoff. After every login the ``on_connect``
hook runs as its own task, so a resync can send actions whose responses the reader
delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from callcenter.ami.errors import (
    AMIActionError,
    AMIAuthenticationError,
    AMIConnectionError,
    AMIError,
    AMITimeoutError,
)
from callcenter.ami.protocol import (
    AMIFramer,
    FrameError,
    HeaderValue,
    Message,
    encode_action,
)
from callcenter.ami.settings import AMIConfig, AMITarget
from callcenter.backoff import backoff

EventHandler = Callable[[Message, float], None]
ConnectHandler = Callable[["AMIClient"], Awaitable[None]]

log = structlog.get_logger("callcenter.ami")

READ_SIZE = 1 << 16
BANNER_LOG_CHARS = 100  # the banner comes from the peer, up to max_frame_bytes long


def _shortened(text: str | None, limit: int) -> str | None:
    """At most ``limit`` characters, an ellipsis marking a cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[Message | list[Message]]
    as_list: bool
    events: list[Message] = field(default_factory=list)


def backoff_delay(
    attempt: int, low: float, high: float, rand: Callable[[], float] = random.random
) -> float:
    """The reconnect delay: the shared bounded backoff, jittered in its upper half."""
    return backoff(attempt, low, high, rand)


class AMIActions(Protocol):
    """The one method the domain services need of the AMI client (``AMIClient`` is one;
    tests pass a fake that records actions)."""

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message: ...


class AMIListActions(AMIActions, Protocol):
    """And actions answered by an event list (DBGet, QueueStatus ...)."""

    async def action_list(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Message]: ...


DEFAULTS = AMIConfig()


class AMIClient:
    def __init__(
        self,
        target: AMITarget,
        settings: AMIConfig = DEFAULTS,
        *,
        on_event: EventHandler | None = None,
        on_connect: ConnectHandler | None = None,
        action_id_prefix: str | None = None,
    ) -> None:
        """``target``: where and as whom; ``settings``: the [ami] timeouts, reconnect
        delays and frame limit (its host, port and credentials are not used: the target
        says where, the lab's or the configured manager)."""
        self.host = target.host
        self.port = target.port
        self.username = target.username
        self._secret = target.secret
        self.settings = settings
        self.on_event = on_event
        self.on_connect = on_connect
        self.connect_timeout = settings.connect_timeout
        self.action_timeout = settings.action_timeout
        self.ping_interval = settings.ping_interval
        self.reconnect_min = settings.reconnect_min
        self.reconnect_max = settings.reconnect_max
        self.max_frame_bytes = settings.max_frame_bytes
        self.read_gather = settings.read_gather
        self._prefix = action_id_prefix or f"cc-{secrets.token_hex(3)}"
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._ever_connected = False
        self.connected = asyncio.Event()
        self._first_result: asyncio.Future[None] | None = None
        self.banner: str | None = None
        self.connects = 0  # successful logins, for status and tests
        self.bad_frames = 0
        self.handler_errors = 0
        self._on_connect_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never the secret
        return f"AMIClient({self.username}@{self.host}:{self.port})"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the connection; return once logged in the first time.

        A refused login at the first attempt is raised (a configuration error that
        retrying cannot mend); an unreachable manager is retried in the background,
        and ``start`` returns when it first answers.
        """
        loop = asyncio.get_running_loop()
        self._first_result = loop.create_future()
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")
        await self._first_result

    async def close(self) -> None:
        self._closing = True
        for task in (self._on_connect_task, self._supervisor):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, AMIError, OSError):
                    await task
        await self._drop_connection(AMIConnectionError("AMI client closed"))
        # A start() still waiting for a manager that never came up must not hang.
        self._resolve_first(AMIConnectionError(f"closed before {self.address} answered"))

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                reader = await self._connect_and_login()
            except AMIAuthenticationError as exc:
                log.error("ami.login_refused", address=self.address, user=self.username)
                if not self._ever_connected:
                    self._resolve_first(exc)
                    return
            except (OSError, AMIError, TimeoutError) as exc:
                log.warning(
                    "ami.connect_failed", address=self.address, error=str(exc), attempt=attempt
                )
            else:
                attempt = 0
                self._ever_connected = True
                self._resolve_first(None)
                await self._serve(reader)
                if self._closing:
                    return
            delay = backoff_delay(attempt, self.reconnect_min, self.reconnect_max)
            attempt += 1
            log.info("ami.reconnect", address=self.address, attempt=attempt, delay=round(delay, 2))
            await asyncio.sleep(delay)

    def _resolve_first(self, exc: BaseException | None) -> None:
        fut = self._first_result
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

    async def _connect_and_login(self) -> asyncio.StreamReader:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except TimeoutError:
            raise AMIConnectionError(
                f"no answer from {self.address} in {self.connect_timeout}s"
            ) from None
        except OSError as exc:
            raise AMIConnectionError(
                f"cannot connect to {self.address}: {exc.strerror or exc}"
            ) from None
        self._writer = writer
        framer = AMIFramer(max_frame_bytes=self.max_frame_bytes)
        self._framer = framer
        self._reader_task = asyncio.create_task(self._read_loop(reader, framer), name="ami-reader")
        try:
            response = await self._send(
                "Login",
                {"Username": self.username, "Secret": self._secret, "Events": "on"},
                timeout=self.connect_timeout,
            )
        except AMIActionError:
            await self._drop_connection(AMIConnectionError("login refused"))
            raise AMIAuthenticationError(
                f"AMI login refused for user {self.username!r} at {self.address} "
                "(check the username and secret, and the permit/deny lists in manager.conf)"
            ) from None
        except BaseException:
            await self._drop_connection(AMIConnectionError("login failed"))
            raise
        assert isinstance(response, Message)
        self.banner = framer.banner
        self.connects += 1
        self.connected.set()
        log.info(
            "ami.connected",
            address=self.address,
            banner=_shortened(self.banner, BANNER_LOG_CHARS),
            connects=self.connects,
        )
        if self.on_connect is not None:
            previous = self._on_connect_task
            if previous is not None and not previous.done():
                previous.cancel()  # a resync of a connection that is gone
            self._on_connect_task = asyncio.create_task(self._run_on_connect(), name="ami-resync")
        return reader

    async def _run_on_connect(self) -> None:
        assert self.on_connect is not None
        try:
            await self.on_connect(self)
        except AMIError as exc:
            # The connection dropped mid-resync: the next connect resyncs again.
            log.warning("ami.resync_failed", error=str(exc))
        except Exception as exc:
            # A bug in the hook: report it here, not as a lost task exception at exit.
            log.error("ami.on_connect_failed", error=repr(exc), exc_info=exc)

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        reader_task = self._reader_task
        pinger = asyncio.create_task(self._ping_loop(), name="ami-pinger")
        try:
            await asyncio.wait({reader_task, pinger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pinger.cancel()
            try:
                await pinger
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                # Never let it escape: that would end the supervisor, and reconnects.
                log.error("ami.pinger_failed", error=repr(exc), exc_info=exc)
            if reader_task.done() and not reader_task.cancelled():
                failure = reader_task.exception()  # e.g. raised by on_event; else lost
                if failure is not None:
                    log.error(
                        "ami.reader_failed",
                        address=self.address,
                        error=repr(failure),
                        exc_info=failure,
                    )
            await self._drop_connection(AMIConnectionError(f"connection to {self.address} lost"))
            if not self._closing:
                log.warning("ami.disconnected", address=self.address)

    async def _drop_connection(self, exc: AMIConnectionError) -> None:
        self.connected.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        task = getattr(self, "_reader_task", None)
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(exc)

    # -- reading ---------------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, framer: AMIFramer) -> None:
        loop = asyncio.get_running_loop()
        last = -math.inf
        while True:
            # Interrupt coalescing: a read that would follow the last one within
            # read_gather waits for the rest of it, so what arrives meanwhile comes in
            # the same read. A lone event is read at once.
            wait = last + self.read_gather - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            data = await reader.read(READ_SIZE)
            if not data:
                return
            last = loop.time()
            received = time.time()
            for item in framer.feed(data):
                if isinstance(item, FrameError):
                    self.bad_frames += 1
                    log.warning("ami.bad_frame", error=str(item.error), prefix=item.raw[:60])
                    continue
                self._dispatch(item, received)

    def _dispatch(self, msg: Message, received: float) -> None:
        action_id = msg.get("ActionID")
        pending = self._pending.get(action_id) if action_id is not None else None
        # "Event" first: some events carry a Response header too (OriginateResponse).
        if "Event" not in msg and "Response" in msg:
            if pending is None:
                return
            if msg["Response"] == "Error":
                del self._pending[action_id]  # type: ignore[arg-type]
                if not pending.future.done():
                    pending.future.set_exception(
                        AMIActionError(pending.action, msg.get("Message", "error"))
                    )
            elif pending.as_list and msg.get("EventList", "").lower() == "start":
                pending.events.append(msg)
            else:
                del self._pending[action_id]  # type: ignore[arg-type]
                if not pending.future.done():
                    pending.future.set_result([msg] if pending.as_list else msg)
            return
        # An event: log it always; also collect it when it belongs to an event list.
        if self.on_event is not None:
            try:
                self.on_event(msg, received)
            except Exception as exc:
                # A bug in a handler must not cost the connection and the rest of this
                # read; the daemon stores each event before any other handling.
                self.handler_errors += 1
                log.error(
                    "ami.on_event_failed", ami_event=msg.get("Event"), error=repr(exc), exc_info=exc
                )
        if pending is not None and pending.as_list:
            pending.events.append(msg)
            if msg.get("EventList", "").lower() == "complete":
                del self._pending[action_id]  # type: ignore[arg-type]
                if not pending.future.done():
                    pending.future.set_result(pending.events)

    # -- actions ---------------------------------------------------------------------

    async def _send(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None,
        *,
        as_list: bool = False,
        timeout: float | None = None,
    ) -> Message | list[Message]:
        writer = self._writer
        if writer is None:
            raise AMIConnectionError(f"not connected to {self.address}")
        action_id = f"{self._prefix}-{next(self._ids)}"
        frame = encode_action(action, headers or {}, action_id)  # raises on injection
        fut: asyncio.Future[Message | list[Message]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(action, fut, as_list)
        try:
            writer.write(frame)
            await writer.drain()
            return await asyncio.wait_for(fut, self._timeout(timeout))
        except TimeoutError:
            raise AMITimeoutError(f"no response to {action} in {self._timeout(timeout)}s") from None
        except (ConnectionError, OSError) as exc:
            raise AMIConnectionError(f"{action}: connection lost: {exc}") from None
        finally:
            self._pending.pop(action_id, None)

    def _timeout(self, timeout: float | None) -> float:
        return self.action_timeout if timeout is None else timeout

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        """Send an action; return its response, or raise AMIActionError on ``Response: Error``."""
        result = await self._send(action, headers, timeout=timeout)
        assert isinstance(result, Message)
        return result

    async def action_list(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Message]:
        """Send an action answered by an event list; return the response and all its events."""
        result = await self._send(action, headers, as_list=True, timeout=timeout)
        assert isinstance(result, list)
        return result

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action("Ping", timeout=min(self.action_timeout, self.ping_interval))
            except AMITimeoutError:
                log.warning("ami.ping_timeout", address=self.address)
                return  # ends _serve: the connection is treated as dead
            except AMIActionError:
                continue  # an answer, even "Response: Error", proves the connection alive
            except AMIConnectionError:
                return
