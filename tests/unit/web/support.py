"""The API on a real port over a real SQLite file, and a client that remembers every
answer (so a test can check that no token ever came back in one)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

from callcenter.incidents.store import IncidentStore
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.store.audit import AuditLog
from callcenter.web.app import make_app
from callcenter.web.auth import TokenStore
from callcenter.web.deps import ApiDeps
from callcenter.webhooks.signing import signed_headers

TZ = ZoneInfo("Asia/Tokyo")
# A Wednesday, inside service hours (08:30-18:15): every business clock runs from here.
T0 = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)
SECOND_LINE_SECRET = "second-line-s3cret-for-tests"
API = "/api/v1"
CALENDAR = BusinessCalendar()  # the default service: Mon-Fri 08:30-18:15, Asia/Tokyo

# Who calls: token key -> (name, role, agent_id).
PEOPLE: dict[str, tuple[str, str, str | None]] = {
    "sup": ("suzuki", "supervisor", None),
    "admin": ("ops-admin", "admin", None),
    "a1": ("tanaka", "agent", "1001"),
    "a2": ("sato", "agent", "1002"),
    "aud": ("sla-audit", "auditor", None),
}


def iso(at: datetime) -> str:
    """How the API writes a time: in UTC, as the store keeps it."""
    return at.astimezone(UTC).isoformat()


class Clock:
    """The API's clock: stands still unless moved, so each action's time is known."""

    def __init__(self, start: datetime = T0) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def tick(self, minutes: float = 1.0) -> datetime:
        self.at += timedelta(minutes=minutes)
        return self.at


@dataclass
class Reply:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        err: dict[str, Any] = self.body["error"]
        return err


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    engine: Engine
    store: IncidentStore
    tokens: TokenStore
    clock: Clock
    token: dict[str, str]
    replies: list[Reply] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        *,
        who: str | None = "sup",
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> Reply:
        h = dict(headers or {})
        if who is not None:
            h["Authorization"] = f"Bearer {self.token[who]}"
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False)
            h.setdefault("Content-Type", "application/json")
        async with self.client.request(
            method, API + path, data=data, headers=h, params=params
        ) as resp:
            reply = Reply(resp.status, await resp.text(), dict(resp.headers))
        self.replies.append(reply)
        return reply

    async def create(self, who: str = "sup", **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/incidents", who=who, json_body=fields)
        assert reply.status == 201, reply.text
        incident: dict[str, Any] = reply.body["incident"]
        return incident

    async def act(self, incident_id: int, action: str, who: str = "sup", **body: Any) -> Reply:
        self.clock.tick()
        return await self.call(
            "POST", f"/incidents/{incident_id}/{action}", who=who, json_body=body
        )

    def second_line_headers(
        self, body: str, *, secret: str = SECOND_LINE_SECRET, age: float = 0.0
    ) -> dict[str, str]:
        ts = int(self.clock().timestamp() - age)
        return signed_headers(secret, "escalation.answer", "d" * 32, ts, body)


async def start_api(
    engine: Engine,
    clock: Clock,
    *,
    second_line_secret: str = SECOND_LINE_SECRET,
    trusted_proxies: tuple[str, ...] = (),
) -> Api:
    store = IncidentStore(engine)
    tokens = TokenStore(engine, clock=clock)
    issued = {key: tokens.create(*who)[0] for key, who in PEOPLE.items()}
    deps = ApiDeps(
        incidents=store,
        tokens=tokens,
        calendar=CALENDAR,
        audit=AuditLog(engine),
        second_line_secret=second_line_secret,
        trusted_proxies=trusted_proxies,
        clock=clock,
    )
    client = TestClient(TestServer(make_app(deps)))
    await client.start_server()
    return Api(client, engine, store, tokens, clock, issued)
