"""The live websocket on a real port: a snapshot on connect, coalesced deltas of what
changed (each item by its key), numbered without gaps, a slow client resynced with a snapshot
while the others go on, incidents to whom they concern, refusals, and shutdown."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import Engine
from structlog.testing import capture_logs

from callcenter.web.auth import TokenStore, auth_middleware
from callcenter.web.errors import MAX_BODY_BYTES, error_middleware
from callcenter.web.live import LIVE_PER_TOKEN, LiveHub
from callcenter.web.live_delta import LiveView, stable

PATH = "/api/v1/live"
PEOPLE = {
    "sup": ("suzuki", "supervisor", None),
    "a1": ("tanaka", "agent", "agent1"),
    "a2": ("sato", "agent", "agent2"),
}


@dataclass
class Pbx:
    """What the snapshot reads: sections the test changes, and a caller whose wait ticks."""

    sections: dict[str, Any] = field(
        default_factory=lambda: {
            "queues": [{"name": "support", "waiting": []}],
            "agents": [{"id": "agent1", "state": "free"}],
            "parked": [],
        }
    )
    waiting_since: float = field(default_factory=time.time)
    fail: bool = False

    def snapshot(self, now: float) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("the live state is broken")
        data = copy.deepcopy(self.sections)
        data["queues"][0]["longest_wait_seconds"] = now - self.waiting_since
        return data


@dataclass
class Live:
    hub: LiveHub
    pbx: Pbx
    url: str
    token: dict[str, str]
    http: aiohttp.ClientSession

    async def connect(self, who: str = "sup") -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(
            self.url, headers={"Authorization": f"Bearer {self.token[who]}"}
        )


async def serve(
    engine: Engine, pbx: Pbx, **hub_options: Any
) -> tuple[LiveHub, web.AppRunner, str, dict[str, str]]:
    tokens = TokenStore(engine)
    issued = {k: tokens.create(*who)[0] for k, who in PEOPLE.items()}
    options: dict[str, Any] = {"heartbeat": 60.0, "recheck_seconds": 0.0}
    hub = LiveHub(
        pbx.snapshot, tokens=tokens, ticking={"longest_wait_seconds"}, **(options | hub_options)
    )
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(tokens)], client_max_size=MAX_BODY_BYTES
    )
    app.router.add_get(PATH, hub.handler)

    async def close_hub(_app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_hub)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return hub, runner, f"http://127.0.0.1:{port}{PATH}", issued


@pytest.fixture
async def live(engine: Engine) -> AsyncIterator[Live]:
    pbx = Pbx()
    hub, runner, url, issued = await serve(engine, pbx)
    async with aiohttp.ClientSession() as http:
        yield Live(hub, pbx, url, issued, http)
    await runner.cleanup()


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> dict[str, Any]:
    msg = await ws.receive(timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def nothing_more(ws: aiohttp.ClientWebSocketResponse, wait: float = 0.2) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(wait)


# -- snapshots and deltas -----------------------------------------------------------------


async def test_snapshot_on_connect_then_one_delta_per_burst(live: Live) -> None:
    clients = [await live.connect(who) for who in ("sup", "a1", "a2")]
    for ws in clients:
        first = await receive(ws)
        assert (first["type"], first["seq"]) == ("snapshot", 1)
        assert set(first["data"]) == {"queues", "agents", "parked"}
        assert first["data"]["agents"] == [{"id": "agent1", "state": "free"}]
    taken = live.hub.stats.computed

    # A burst: 100 events within the coalescing window, three sections touched on the way.
    live.pbx.sections["agents"][0]["state"] = "ringing"
    for i in range(100):
        if i == 50:
            live.pbx.sections["agents"][0]["state"] = "on_call"
            live.pbx.sections["parked"] = [{"slot": "701"}]
        live.hub.notify()
    for ws in clients:
        delta = await receive(ws)
        assert (delta["type"], delta["seq"]) == ("delta", 2)
        # Only what changed, by key: the agent's state, the parked call (the queue's clock
        # alone is no change).
        assert delta["changes"] == [
            {"op": "merge", "path": ["agents", "agent1"], "value": {"state": "on_call"}},
            {"op": "set", "path": ["parked", "701"], "value": {"slot": "701"}},
        ]
        await nothing_more(ws)
    assert live.hub.stats.computed == taken + 1

    caller = {"uniqueid": "1700000000.1", "caller_num": "0311110001", "position": 1}
    live.pbx.sections["queues"][0]["waiting"] = [caller]
    live.hub.notify()
    for ws in clients:
        delta = await receive(ws)
        assert delta["seq"] == 3
        joined, head = delta["changes"]
        assert joined == {
            "op": "set",
            "path": ["queues", "support", "waiting", "1700000000.1"],
            "value": {"uniqueid": "1700000000.1", "caller_num": "0311110001"},
        }
        # The queue's ticking figure, as of the message's time.
        assert (head["op"], head["path"], list(head["value"])) == (
            "merge",
            ["queues", "support"],
            ["longest_wait_seconds"],
        )
        stamped = datetime.fromisoformat(delta["at"]).timestamp()
        waited = head["value"]["longest_wait_seconds"]
        assert waited == pytest.approx(stamped - live.pbx.waiting_since)
        await ws.close()


async def test_the_clock_alone_sends_nothing(live: Live) -> None:
    ws = await live.connect()
    first = await receive(ws)
    live.pbx.waiting_since -= 60  # a minute later, nothing else happened
    live.hub.notify()
    await nothing_more(ws, 0.3)
    live.pbx.sections["agents"][0]["state"] = "paused"
    live.hub.notify()
    delta = await receive(ws)
    assert delta["changes"] == [
        {"op": "merge", "path": ["agents", "agent1"], "value": {"state": "paused"}}
    ]
    assert delta["seq"] == first["seq"] + 1
    await ws.close()


async def test_a_reconnect_starts_with_a_fresh_snapshot(live: Live) -> None:
    ws = await live.connect()
    await receive(ws)
    await ws.close()
    live.pbx.sections["parked"] = [{"slot": "702"}]
    live.hub.notify()  # nobody connected: nothing is taken
    ws = await live.connect()
    again = await receive(ws)
    assert (again["type"], again["seq"], again["data"]["parked"]) == (
        "snapshot",
        1,
        [{"slot": "702"}],
    )
    ws2 = await live.connect("a1")
    assert (await receive(ws2))["type"] == "snapshot"
    await nothing_more(ws)  # a newcomer changes nothing for the others
    await ws.send_str('{"type": "snapshot"}')  # asked for: a snapshot, numbered on
    asked = await receive(ws)
    assert (asked["type"], asked["seq"]) == ("snapshot", 2)
    await ws.send_str("not json")  # ignored
    await nothing_more(ws)
    for w in (ws, ws2):
        await w.close()


async def test_no_clients_no_work(live: Live) -> None:
    taken = live.hub.stats.computed
    for _ in range(10):
        live.hub.notify()
    await asyncio.sleep(0.1)
    assert live.hub.stats.computed == taken
    await asyncio.to_thread(live.hub.notify)  # from another thread: handed to the loop


async def test_a_change_without_an_event_is_found_by_the_recheck(engine: Engine) -> None:
    pbx = Pbx()
    _, runner, url, issued = await serve(engine, pbx, recheck_seconds=0.1)
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {issued['a2']}"})
            await receive(ws)
            pbx.sections["agents"][0]["state"] = "logged_out"  # e.g. the mode at 18:15
            delta = await receive(ws, 1.0)
            assert delta["changes"] == [
                {"op": "merge", "path": ["agents", "agent1"], "value": {"state": "logged_out"}}
            ]
            await ws.close()
    finally:
        await runner.cleanup()


# -- a slow client ------------------------------------------------------------------------


class StalledClient:
    """A websocket client that stops reading after the handshake (tiny receive window),
    until told to read everything."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str, token: str) -> StalledClient:
        host_port = url.split("/")[2]
        host, port = host_port.split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        writer.write(
            (
                f"GET {PATH} HTTP/1.1\r\nHost: {host_port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def message(self) -> dict[str, Any]:
        """The next text message (pings and other frames skipped)."""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            size = b1 & 0x7F
            if size == 126:
                size = int.from_bytes(await self.reader.readexactly(2), "big")
            elif size == 127:
                size = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(size)
            if b0 & 0x0F == 0x1:
                data: dict[str, Any] = json.loads(payload)
                return data

    def close(self) -> None:
        self.writer.close()


async def test_a_slow_client_is_resynced_and_holds_up_nobody(engine: Engine) -> None:
    pbx = Pbx()
    hub, runner, url, issued = await serve(engine, pbx, backlog=4)
    rounds = 40
    try:
        async with aiohttp.ClientSession() as http:
            fast = await http.ws_connect(url, headers={"Authorization": f"Bearer {issued['sup']}"})
            slow = await StalledClient.connect(url, issued["a1"])
            await receive(fast)
            for n in range(1, rounds + 1):
                # 200 kB a change that does not compress: the stalled socket fills up soon.
                pbx.sections["parked"] = [{"n": n, "pad": os.urandom(100_000).hex()}]
                hub.notify()
                delta = await receive(fast, 5.0)  # the fast client never waits on the slow
                # (parked calls without a slot: the section goes whole; the first time, in
                # place of the keyed and empty list)
                change = delta["changes"][-1]
                assert len(delta["changes"]) == (2 if n == 1 else 1)
                assert (delta["seq"], change["path"], change["value"][0]["n"]) == (
                    n + 1,
                    ["parked"],
                    n,
                )
            assert hub.stats.dropped >= 1

            # Now the slow client reads: a snapshot replaced what it could not take, and
            # its messages still number 1, 2, 3 ... and end in the latest state.
            view = LiveView()
            seqs, kinds = [], []
            while [p.get("n") for p in view.state.get("parked", [])] != [rounds]:
                m = await asyncio.wait_for(slow.message(), 5.0)
                seqs.append(m["seq"])
                kinds.append(m["type"])
                assert view.read(m)
            state = view.state
            assert seqs == list(range(1, len(seqs) + 1))
            assert kinds.count("snapshot") >= 2, kinds
            assert len(seqs) < rounds  # what it missed was not sent
            assert stable(state, {"longest_wait_seconds"}) == stable(
                pbx.snapshot(time.time()), {"longest_wait_seconds"}
            )
            slow.close()
            await fast.close()
    finally:
        await runner.cleanup()


# -- incidents ----------------------------------------------------------------------------


async def test_an_incident_goes_to_its_agent_and_to_staff(live: Live) -> None:
    sockets = {who: await live.connect(who) for who in ("sup", "a1", "a2")}
    for ws in sockets.values():
        await receive(ws)
    incident = {"id": 7, "agent_id": "agent1", "caller_name": "画面 四郎"}
    # The incident desk opens incidents in a worker thread.
    await asyncio.to_thread(live.hub.publish_incident, incident)
    for who in ("sup", "a1"):
        m = await receive(sockets[who])
        assert (m["type"], m["seq"], m["data"]) == ("incident", 2, incident)
    await nothing_more(sockets["a2"])
    live.hub.publish_incident({"id": 8, "agent_id": None})
    assert (await receive(sockets["sup"]))["data"]["id"] == 8
    await nothing_more(sockets["a1"])
    for ws in sockets.values():
        await ws.close()


# -- refusals and shutdown ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {}, 401),
        ({"Authorization": "Bearer not-a-token"}, {}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {}, 401),
        # Never from the URL (it would end up in proxies' logs): refused, even a good one.
        ({}, {"token": "not-a-token"}, 401),
        ({}, {"token": "GOOD"}, 401),
    ],
)
async def test_refused_without_a_valid_token(
    live: Live, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    if params.get("token") == "GOOD":
        params = {"token": live.token["sup"]}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live.http.ws_connect(live.url, headers=headers, params=params)
    assert refused.value.status == status
    async with live.http.get(live.url, headers=headers, params=params) as r:
        assert r.status == status
        assert (await r.json())["error"]["code"] in ("unauthorized", "invalid")
    assert live.hub.clients == 0


async def test_a_revoked_token_ends_an_open_connection(live: Live) -> None:
    """Let in once is not let in for ever: the recheck closes a connection whose token
    was revoked since, before it is sent one more caller or incident."""
    ws = await live.connect("a1")
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "snapshot"
    tokens = live.hub.tokens
    assert tokens is not None
    ids = {t.name: t.id for t in tokens.list()}
    assert await live.hub.revalidate() == 0  # still good
    tokens.revoke(ids["tanaka"])
    assert await live.hub.revalidate() == 1
    closing = await ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4401
    assert live.hub.clients == 0
    live.hub.publish_incident({"id": 1, "agent_id": "agent1", "caller_name": "秘密 太郎"})
    await ws.close()


async def test_a_revoked_token_is_refused(live: Live) -> None:
    tokens = live.hub.tokens
    assert tokens is not None
    ids = {t.name: t.id for t in tokens.list()}
    tokens.revoke(ids["sato"])
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live.connect("a2")
    assert refused.value.status == 401


async def test_a_broken_live_state_closes_the_new_connection(live: Live) -> None:
    live.pbx.fail = True
    ws = await live.connect()
    msg = await ws.receive(2.0)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == aiohttp.WSCloseCode.INTERNAL_ERROR
    assert live.hub.stats.failures == 1


async def test_close_says_going_away_and_refuses_newcomers(live: Live) -> None:
    sockets = [await live.connect(who) for who in ("sup", "a1")]
    for ws in sockets:
        await receive(ws)
    await live.hub.close()
    for ws in sockets:
        msg = await ws.receive(2.0)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live.connect()
    assert refused.value.status == 503
    live.hub.notify()  # after close: ignored
    live.hub.publish_incident({"id": 1, "agent_id": "agent1"})


# -- limits and the hub's own tasks (issue 11) ----------------------------------------------


async def test_a_token_holds_at_most_ten_live_connections(live: Live) -> None:
    """Issue 11: no cap per token. The 11th connection of one token is refused with 429
    (the error shape of every API refusal); other tokens are not held up, and a closed
    connection frees its place."""
    assert LIVE_PER_TOKEN == 10
    mine = [await live.connect("a1") for _ in range(LIVE_PER_TOKEN)]
    for ws in mine:
        assert (await receive(ws))["type"] == "snapshot"
    with capture_logs() as logs, pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live.connect("a1")
    assert refused.value.status == 429
    assert any(e["event"] == "live.too_many_connections" for e in logs)
    headers = {"Authorization": f"Bearer {live.token['a1']}"}
    async with live.http.get(live.url, headers=headers) as r:
        assert r.status == 429
        assert r.headers["Retry-After"] == "5"
        assert await r.json() == {
            "error": {
                "code": "too_many_connections",
                "message": "this token has 10 live connections already: close one first",
            }
        }
    assert live.hub.clients == LIVE_PER_TOKEN
    other = await live.connect("sup")  # another token: its own count
    assert (await receive(other))["type"] == "snapshot"
    await mine.pop().close()
    for _ in range(50):  # the handler ends a moment after the close
        if live.hub.clients == LIVE_PER_TOKEN:
            break
        await asyncio.sleep(0.02)
    again = await live.connect("a1")
    assert (await receive(again))["type"] == "snapshot"
    for ws in [*mine, other, again]:
        await ws.close()


async def test_refused_handshakes_do_not_hold_a_place(live: Live) -> None:
    """A place is held from before the handshake to the handler's end, whatever ends it."""
    live.pbx.fail = True  # each connection is closed at once: no live state
    for _ in range(LIVE_PER_TOKEN + 2):
        ws = await live.connect("a1")
        assert (await ws.receive(2.0)).type is aiohttp.WSMsgType.CLOSE
    live.pbx.fail = False
    ws = await live.connect("a1")
    assert (await receive(ws))["type"] == "snapshot"
    await ws.close()


def _revalidations() -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "") == "LiveHub.revalidate"
    ]


async def test_the_rechecks_revalidation_is_ended_at_close(engine: Engine) -> None:
    """Issue 11: the recheck started a revalidation task that nobody kept or awaited; one
    still running at shutdown was left pending. Now close() cancels and awaits it."""
    pbx = Pbx()
    hub, runner, url, issued = await serve(engine, pbx, recheck_seconds=0.05)
    stuck = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {issued['a1']}"})
            await receive(ws)
            (client,) = hub._clients

            async def slow_check() -> bool:
                stuck.set()
                await asyncio.sleep(3600)  # a database that does not answer
                return True

            client.valid = slow_check
            await asyncio.wait_for(stuck.wait(), 2.0)
            (task,) = _revalidations()
            await asyncio.sleep(0.2)  # more rechecks: still one revalidation at a time
            assert _revalidations() == [task]
            await hub.close()
            assert task.done()
            assert task.cancelled()
            assert _revalidations() == []
            await ws.close()
    finally:
        await runner.cleanup()


async def test_a_failed_revalidation_is_logged_not_lost(engine: Engine) -> None:
    pbx = Pbx()
    hub, runner, url, issued = await serve(engine, pbx, recheck_seconds=0.05)
    loop = asyncio.get_running_loop()
    unseen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unseen.append(context))
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {issued['a1']}"})
            await receive(ws)
            (client,) = hub._clients

            async def broken_check() -> bool:
                raise RuntimeError("the database is gone")

            client.valid = broken_check
            with capture_logs() as logs:
                for _ in range(100):
                    if any(e["event"] == "live.task_failed" for e in logs):
                        break
                    await asyncio.sleep(0.02)
            failed = [e for e in logs if e["event"] == "live.task_failed"]
            assert failed
            assert "the database is gone" in failed[0]["error"]
            await hub.close()
            await ws.close()
        gc.collect()
        await asyncio.sleep(0)
        assert [c for c in unseen if "never retrieved" in str(c.get("message"))] == []
    finally:
        loop.set_exception_handler(None)
        await runner.cleanup()
