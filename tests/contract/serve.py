"""An aiohttp application on a real loopback port, served from its own thread and event
loop, so that a synchronous client (schemathesis sends with ``requests``) can call it
from the test's thread while the server answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; ``run`` hands it a coroutine and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="contract-server", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 60.0) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def stop(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.run(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    lt.start()
    try:
        yield lt
    finally:
        lt.stop()


@contextmanager
def serving(lt: LoopThread, build: Callable[[], Awaitable[web.Application]]) -> Iterator[str]:
    """Build the application on the loop (its asyncio objects belong there), serve it on a
    free loopback port and yield its base URL; clean up (shutdown hooks too) after."""

    async def start() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(await build(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, int(runner.addresses[0][1])

    runner, port = lt.run(start())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        lt.run(runner.cleanup())
