"""A real HTTP receiver on 127.0.0.1 that misbehaves on cue, and outbox helpers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine, select

from callcenter.webhooks.outbox import TABLE, utc
from callcenter.webhooks.signing import DELIVERY_HEADER, SignatureError, verify

SECRET = "wh-s3cr3t-for-tests-only"
OK, FAIL, HANG, DROP = "ok", "500", "hang", "drop"
SLOW = "slow"  # accepted, after 20 ms


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    action: str
    at: float

    @property
    def delivery_id(self) -> str:
        return self.headers[DELIVERY_HEADER]

    def signature_ok(self, secret: str = SECRET) -> bool:
        try:
            verify(secret, self.headers, self.body, time.time())
        except SignatureError:
            return False
        return True


@dataclass
class Receiver:
    """Answers each request with the next scripted action for its path, then ``OK``."""

    port: int = 0
    script: dict[str, list[str]] = field(default_factory=dict)
    default: str = OK
    error_body: str = "server error"
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        # Short shutdown: a HANG handler is released at stop anyway.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.action in (OK, SLOW) and path in (None, r.path)]

    def on(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if path in (None, r.path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        queue = self.script.get(path, [])
        action = queue.pop(0) if queue else self.default
        body = await request.read()
        self.received.append(Received(path, dict(request.headers), body, action, time.time()))
        if action == HANG:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 10)
            return web.Response(status=200)
        if action == DROP:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if action == SLOW:
            await asyncio.sleep(0.02)
            return web.Response(status=204)
        if action == OK:
            return web.Response(status=204)
        return web.Response(status=int(action), text=self.error_body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(TABLE).order_by(TABLE.c.id))]
    for r in rows:
        for k in ("created_at", "next_attempt_at", "last_attempt_at", "delivered_at"):
            if r[k] is not None:
                r[k] = utc(r[k])
    return rows


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (run in a thread: it usually reads the database)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def now() -> datetime:
    return datetime.now(UTC)
