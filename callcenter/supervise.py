"""Supervised background tasks: a crash is logged and the task restarted, not lost.

An ``asyncio.Task`` that raises just stops; nobody looks at its exception until it is
awaited, typically at shutdown, hours later. Meanwhile the event log is not written or
incidents are not opened. The supervisor runs each background task from a factory (a
coroutine function), logs an unexpected exception loudly with its traceback
(``task.crashed``) and starts the task again after the shared bounded backoff. A task
that keeps crashing (``max_crashes`` within ``window`` seconds) is not restarted: the
supervisor marks itself failed and sets ``failed``, so the daemon stops and
``callcenter run`` exits non-zero (3) for a service manager to notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from callcenter.backoff import backoff

log = structlog.get_logger("callcenter.supervise")

Factory = Callable[[], Awaitable[None]]
Spawn = Callable[[str, Factory], "asyncio.Task[None]"]


class Supervisor:
    def __init__(
        self,
        *,
        max_crashes: int = 5,
        window: float = 60.0,
        retry_min: float = 0.5,
        retry_max: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.max_crashes = max(1, max_crashes)
        self.window = window
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._clock = clock
        self._sleep = sleep
        self.failed = asyncio.Event()
        self.failure: str | None = None  # the task that kept failing
        self.crashes: dict[str, int] = {}  # task name -> crashes since start
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, factory: Factory) -> asyncio.Task[None]:
        """Run ``factory()`` as task ``name``, restarted after each crash. The task
        ends when the coroutine returns, is cancelled, or keeps crashing."""
        task = asyncio.create_task(self._keep(name, factory), name=name)
        self.tasks[name] = task
        return task

    async def _keep(self, name: str, factory: Factory) -> None:
        recent: deque[float] = deque()
        while True:
            try:
                await factory()
                return
            except Exception as exc:  # CancelledError is not one: a stop passes through
                now = self._clock()
                recent.append(now)
                while recent and now - recent[0] > self.window:
                    recent.popleft()
                self.crashes[name] = self.crashes.get(name, 0) + 1
                log.error(
                    "task.crashed",
                    task=name,
                    error=type(exc).__name__,
                    crashes_in_window=len(recent),
                    exc_info=True,
                )
                if len(recent) >= self.max_crashes:
                    self._fail(name, len(recent))
                    return
                # Quick after a crash long ago, slower when they come in a row.
                delay = backoff(len(recent) - 1, self.retry_min, self.retry_max)
                log.warning("task.restarting", task=name, retry_in=round(delay, 2))
                await self._sleep(delay)

    def _fail(self, name: str, crashes: int) -> None:
        if self.failure is None:
            self.failure = name
        log.error(
            "supervisor.failed",
            task=name,
            crashes=crashes,
            window=self.window,
            note="a background task kept failing: stopping the daemon",
        )
        self.failed.set()

    async def stop(self) -> None:
        """Cancel whatever is still running (tasks are normally stopped by their owners)."""
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
