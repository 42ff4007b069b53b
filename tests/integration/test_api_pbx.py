"""The PBX endpoints and the live websocket on the lab: real calls from sipp, the daemon's
services doing the work, agents and supervisors calling the API with their tokens.

The daemon serves the API itself (on a free port) and notifies its live hub after each
AMI event; the tests only record when each event came, to measure the pushes' delay.

The lab's queues.conf makes agent1 a static member of ``support`` and agent2 of
``support``, ``small`` and ``svq``; ``support`` rings agent1 first (linear).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from callcenter.ami import AMIActionError, Message
from callcenter.daemon import Daemon
from callcenter.lab import Lab
from callcenter.schedule.settings import ServiceConfig
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.web.live import LiveHub
from callcenter.web.live_delta import LiveView, stable
from callcenter.web.serve import http_of, serve
from callcenter.web.views import TICKING
from tests.integration.conftest import RunningDaemon, set_mode, wait_for
from tests.support.sipp import Sipp, finish, stop

WHO = {
    "sup": ("suzuki", "supervisor", None),
    "a1": ("agent1", "agent", "agent1"),
    "a2": ("agent2", "agent", "agent2"),
}


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        err: dict[str, Any] = self.body["error"]
        return err


@dataclass
class Watch:
    """A websocket client's messages, with when each came (monotonic)."""

    ws: aiohttp.ClientWebSocketResponse
    seen: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    view: LiveView = field(default_factory=LiveView)

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                # As a page is handed it: a delta applied, as the sections it touched.
                message = self.view.sections_of(json.loads(msg.data))
                self.seen.append((time.monotonic(), message))

    async def first(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, after: float = 0.0
    ) -> tuple[float, dict[str, Any]]:
        """The first message (from ``after`` on) that ``predicate`` holds for."""
        deadline = time.monotonic() + timeout
        while True:
            for at, m in self.seen:
                if at >= after and predicate(m):
                    return at, m
            if time.monotonic() > deadline:
                kinds = [(m["type"], sorted(m["data"])) for _, m in self.seen[-10:]]
                raise AssertionError(f"no such message in {timeout}s; last: {kinds}")
            await asyncio.sleep(0.02)


@dataclass
class Desk:
    daemon: Daemon
    hub: LiveHub
    url: str
    http: aiohttp.ClientSession
    tokens: dict[str, str]
    events: list[tuple[float, Message]] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)

    async def call(
        self, method: str, path: str, who: str | None = "sup", body: Any = None, **params: str
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        async with self.http.request(
            method, f"{self.url}/api/v1{path}", json=body, headers=headers, params=params
        ) as r:
            return Reply(r.status, await r.json())

    async def watch(self, who: str) -> Watch:
        ws = await self.http.ws_connect(
            f"{self.url}/api/v1/live", headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        w = Watch(ws)
        w.task = asyncio.create_task(w.run())
        self.watches.append(w)
        await w.first(lambda m: m["type"] == "snapshot", 5)
        return w

    def event_at(self, name: str, **headers: str) -> float:
        for at, e in self.events:
            if e.get("Event") == name and all(e.get(k) == v for k, v in headers.items()):
                return at
        raise AssertionError(f"no {name} event {headers}")


@contextlib.asynccontextmanager
async def serving(daemon: Daemon) -> AsyncIterator[Desk]:
    """The daemon's own API server and live hub (wired in Daemon: the hub is notified
    after every AMI event that may change the live state, and pops new incidents up)."""
    rd = RunningDaemon(daemon)
    await rd.start()
    front = http_of(daemon)
    hub = front.hub
    assert hub is not None
    assert front.port is not None
    tokens = {k: front.tokens.create(*who)[0] for k, who in WHO.items()}
    async with aiohttp.ClientSession() as http:
        desk = Desk(daemon, hub, f"http://127.0.0.1:{front.port}", http, tokens)
        handler = daemon.client.on_event
        assert handler is not None

        def on_event(msg: Message, received: float) -> None:
            desk.events.append((time.monotonic(), msg))  # when each event came, for delays
            handler(msg, received)

        daemon.client.on_event = on_event
        try:
            yield desk
        finally:
            for proc in desk.procs:
                stop(proc)
            for w in desk.watches:
                await w.ws.close()
                if w.task is not None:
                    await w.task
            await rd.shutdown()


@pytest.fixture
async def desk(daemon_factory: Callable[..., Daemon]) -> AsyncIterator[Desk]:
    async with serving(daemon_factory()) as d:
        yield d


async def undo_agent_changes(d: Daemon) -> None:
    """The lab is shared: agent1 out of small, nobody paused (straight through AMI)."""
    for action, headers in (
        ("QueueRemove", {"Queue": "small", "Interface": "PJSIP/agent1"}),
        ("QueuePause", {"Interface": "PJSIP/agent1", "Paused": "false"}),
    ):
        with contextlib.suppress(AMIActionError):
            await d.client.action(action, headers)


# -- without calls: reading, acting, refusing ---------------------------------------------


async def test_agents_act_on_themselves_through_the_api(desk: Desk) -> None:
    d = desk.daemon
    # The daemon's own server serves the routes too.
    assert http_of(d).port is not None
    async with desk.http.get(
        f"http://127.0.0.1:{http_of(d).port}/api/v1/queues",
        headers={"Authorization": f"Bearer {desk.tokens['a1']}"},
    ) as own:
        assert own.status == 200

    queues = (await desk.call("GET", "/queues", "a1")).body["queues"]
    assert [q["name"] for q in queues] == ["support", "small", "vmq", "svq", "cbq"]
    support = queues[0]
    assert [(m["agent_id"], m["state"]) for m in support["members"]] == [
        ("agent1", "free"),
        ("agent2", "free"),
    ]
    assert (await desk.call("GET", "/queues/nope")).status == 404
    assert (await desk.call("GET", "/agents/nope")).status == 404
    assert (await desk.call("GET", "/agents", "a2")).body["agents"][0]["id"] == "agent1"
    targets = (await desk.call("GET", "/transfer-targets", "a2")).body["targets"]
    assert [(t["name"], t["number"]) for t in targets] == [("second-line", "8001")]
    assert (await desk.call("GET", "/calls", "a1")).body == {"calls": []}
    assert (await desk.call("GET", "/parked", "a1")).body == {"parked": []}

    r = await desk.call("POST", "/agents/agent1/pause", "a2", {"reason": "lunch"})
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/pause", "a1", {"reason": "会議" * 20})
    assert (r.status, r.error["field"]) == (422, "reason")
    r = await desk.call("POST", "/agents/agent1/login", "a1", {"queues": ["nope"]})
    assert (r.status, r.error["field"]) == (422, "queues")

    def agent1(queue: str) -> dict[str, Any]:
        q = next(q for q in queues if q["name"] == queue)
        # In small (not its configured queue) agent1 is listed only while a member.
        absent = {"state": "logged_out", "paused_reason": ""}
        return next((m for m in q["members"] if m["agent_id"] == "agent1"), absent)

    try:
        r = await desk.call("POST", "/agents/agent1/login", "a1", {"queues": ["small"]})
        assert (r.status, r.body["joined"]) == (200, ["small"])

        async def refreshed() -> None:
            nonlocal queues
            queues = (await desk.call("GET", "/queues", "sup")).body["queues"]

        async def until(check: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 5
            while not check():
                assert time.monotonic() < deadline, what
                await asyncio.sleep(0.05)
                await refreshed()

        await until(lambda: agent1("small")["state"] == "free", "agent1 in small")
        r = await desk.call(
            "POST", "/agents/agent1/pause", "a1", {"reason": "研修", "queue": "small"}
        )
        assert r.status == 200, r.body
        await until(lambda: agent1("small")["paused_reason"] == "研修", "paused in small")
        assert (agent1("small")["state"], agent1("support")["state"]) == ("paused", "free")
        agent = (await desk.call("GET", "/agents/agent1", "a2")).body["agent"]
        assert (agent["queues"], agent["paused_queues"], agent["paused"]) == (
            ["small", "support"],
            ["small"],
            False,
        )
        assert (await desk.call("POST", "/agents/agent1/resume", "sup", {})).status == 200
        await until(lambda: agent1("small")["state"] == "free", "resumed")
        r = await desk.call("POST", "/agents/agent1/logout", "a1", {"queues": ["small"]})
        assert (r.status, r.body["left"]) == (200, ["small"])
        r = await desk.call("POST", "/agents/agent1/logout", "a1", {"queues": ["support"]})
        assert r.status == 409  # queues.conf's member: pause instead
        await until(lambda: agent1("small")["state"] == "logged_out", "out of small")
    finally:
        await undo_agent_changes(d)

    # Call control needs a call; figures and the mode.
    r = await desk.call("POST", "/agents/agent1/park", "a1", {})
    assert (r.status, r.error["code"]) == (409, "conflict")
    r = await desk.call("POST", "/agents/agent2/pickup", "a2", {"slot": "719"})
    assert r.status == 404
    r = await desk.call("POST", "/agents/agent1/transfer", "a1", {"kind": "blind", "to": "1001"})
    assert r.status == 409
    assert (await desk.call("POST", "/agents/agent1/transfer/complete", "a1")).status == 409
    today = (await desk.call("GET", "/metrics/today", "a1")).body
    assert set(today["by_queue"]) == {"support", "small", "vmq", "svq", "cbq"}
    day = datetime.now(d.tz).date()
    period = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    assert (await desk.call("GET", "/metrics", "a1", **period)).status == 403
    r = await desk.call("GET", "/metrics", "sup", by="queue", **period)
    assert (r.status, r.body["by"], r.body["total"]["calls"]) == (200, "queue", 0)
    assert (await desk.call("GET", "/service-mode", "a2")).body["managed"] is False
    r = await desk.call("PUT", "/service-mode", "sup", {"mode": "closed"})
    assert (r.status, r.error["code"]) == (409, "conflict")


# -- a real call: seen live, answered, transferred, parked, picked up ----------------------


async def test_a_call_through_the_api_seen_on_the_websocket(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    """agent1 answers (after ringing 1.5 s, so the caller is seen waiting), transfers the
    caller blind to 1001 (small, agent2), agent2 parks it, agent1 picks it up; the
    wallboard and agent1's console watch it all on the websocket."""
    wall, console = await desk.watch("sup"), await desk.watch("a1")
    desk.procs.append(sipp.agent(agent_ports["agent1"], answer_ms=1500, calls=2, timeout_s=60))
    desk.procs.append(sipp.agent(agent_ports["agent2"], answer_ms=300, calls=1, timeout_s=60))
    await asyncio.sleep(0.3)
    caller = sipp.caller("1000", [("0311113001", "実況 太郎")], talk_ms=9000)
    desk.procs.append(caller)

    def waiting(m: dict[str, Any]) -> list[str]:
        queues = m["data"].get("queues")
        if queues is None:
            return ["?"]  # this message does not say
        return [w["caller_num"] for w in queues[0]["waiting"]]

    at, _ = await wall.first(lambda m: waiting(m) == ["0311113001"], 10)
    assert at - desk.event_at("QueueCallerJoin", CallerIDNum="0311113001") < 1.0
    at, m = await wall.first(lambda m: waiting(m) == [], 10, after=at)
    assert at - desk.event_at("QueueCallerLeave") < 1.0

    def on_call(agent_id: str) -> Callable[[dict[str, Any]], bool]:
        def check(m: dict[str, Any]) -> bool:
            agents = m["data"].get("agents") or []
            a = next((a for a in agents if a["id"] == agent_id), None)
            return a is not None and (a["on_call"] or {}).get("caller_num") == "0311113001"

        return check

    await wall.first(on_call("agent1"), 5)
    # agent1's console: the screen-pop of the incident opened for the call.
    _, pop = await console.first(lambda m: m["type"] == "incident", 10)
    assert (pop["data"]["agent_id"], pop["data"]["caller_number"]) == ("agent1", "0311113001")
    calls = (await desk.call("GET", "/calls", "a2")).body["calls"]
    assert [(c["caller_num"], c["state"], c["agent_id"], c["queue"]) for c in calls] == [
        ("0311113001", "talking", "agent1", "support")
    ]

    r = await desk.call("POST", "/agents/agent1/transfer", "a2", {"kind": "blind", "to": "1001"})
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/transfer", "a1", {"kind": "blind", "to": "1001"})
    assert r.status == 200, r.body
    assert r.body["transfer"]["target"] == "1001"
    await wall.first(on_call("agent2"), 10)

    r = await desk.call("POST", "/agents/agent2/park", "a2", {"timeout_seconds": 30})
    assert r.status == 200, r.body
    slot = r.body["parked"]["slot"]
    assert (r.body["parked"]["parker"], r.body["parked"]["timeout"]) == ("agent2", 30)
    await wall.first(lambda m: [p["slot"] for p in m["data"].get("parked") or []] == [slot], 2)
    parked = (await desk.call("GET", "/parked", "a1")).body["parked"]
    assert [(p["slot"], p["caller_num"]) for p in parked] == [(slot, "0311113001")]

    r = await desk.call("POST", "/agents/agent1/pickup", "a2", {"slot": slot})
    assert r.status == 403
    picked = time.monotonic()
    r = await desk.call("POST", "/agents/agent1/pickup", "a1", {"slot": slot})
    assert r.status == 200, r.body
    await wall.first(on_call("agent1"), 10, after=picked)
    await wall.first(lambda m: m["data"].get("parked") == [], 5)

    # The caller hangs up: the call is counted, and today's figures are pushed. (Today's
    # section is also pushed when its coverage changes, e.g. once first measured: only
    # the pushes after the hang-up count here.)
    hung_up = time.monotonic()
    await asyncio.to_thread(finish, caller, 30)

    def ended() -> list[CallRecord]:
        return [c for c in desk.daemon.recent_calls if c.caller_num == "0311113001"]

    await wait_for(lambda: bool(ended()), 10, "the call ended")
    [record] = ended()
    assert record.outcome is Outcome.ANSWERED
    assert (record.parks, [t.target for t in record.transfers]) == (1, ["1001"])

    def counted(m: dict[str, Any]) -> bool:
        today = m["data"].get("today")
        return m["type"] == "update" and today is not None and today["all"]["calls"] > 0

    _, m = await wall.first(counted, 5, after=hung_up)
    assert m["data"]["today"]["by_queue"]["support"]["answered"] == 1
    seqs = [m["seq"] for _, m in wall.seen]
    assert seqs == list(range(1, len(seqs) + 1))


# -- the service mode, with a daemon that manages it ---------------------------------------


async def test_a_supervisor_overrides_the_service_mode(
    daemon_factory: Callable[..., Daemon], lab: Lab
) -> None:
    base = daemon_factory()
    base.engine.dispose()
    daemon = serve(
        Daemon(
            base.cfg.model_copy(update={"service": ServiceConfig(manage_mode=True)}), base.target
        )
    )
    try:
        async with serving(daemon) as desk:
            keeper = daemon.service_mode
            assert keeper is not None
            wall = await desk.watch("sup")
            until = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
            body = {"mode": "closed", "until": until.isoformat(), "note": "停電"}
            assert (await desk.call("PUT", "/service-mode", "a1", body)).status == 403
            r = await desk.call("PUT", "/service-mode", "sup", {"mode": "closed", "until": "x"})
            assert (r.status, r.error["field"]) == (422, "until")
            sent = time.monotonic()
            r = await desk.call("PUT", "/service-mode", "sup", body)
            assert r.status == 200, r.body
            assert (r.body["mode"], r.body["reason"]) == ("closed", "override")
            assert r.body["override"]["note"] == "suzuki: 停電"
            assert (await keeper.read_pbx())[0] == "closed"  # what the dialplan reads

            def mode_is(reason: str) -> Callable[[dict[str, Any]], bool]:
                return lambda m: (m["data"].get("service_mode") or {}).get("reason") == reason

            await wall.first(mode_is("override"), 1.0, after=sent)
            got = (await desk.call("GET", "/service-mode", "a2")).body
            assert got["override"]["mode"] == "closed"

            r = await desk.call("DELETE", "/service-mode/override", "sup")
            assert r.status == 200
            assert r.body["override"] is None
            assert r.body["reason"] != "override"
            await wall.first(lambda m: not mode_is("override")(m) and "service_mode" in m["data"],
                             1.0, after=sent)  # fmt: skip
            mode, _ = await keeper.read_pbx()
            assert mode == r.body["mode"]  # back to the calendar's, whatever the hour
    finally:
        with contextlib.suppress(Exception):
            lab.cli("database del callcenter override")
        set_mode(lab, "open")


async def test_an_attended_transfer_to_the_second_line_through_the_api(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int], second_line_port: int
) -> None:
    desk.procs.append(sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1, timeout_s=60))
    desk.procs.append(sipp.agent(agent_ports["agent2"], answer_ms=300, calls=1, timeout_s=60))
    desk.procs.append(sipp.agent(second_line_port, answer_ms=800, calls=1, timeout_s=60))
    await asyncio.sleep(0.3)
    caller = sipp.caller("1000", [("0311113002", "相談 花子")], talk_ms=8000)
    desk.procs.append(caller)

    async def agent1_on_call() -> bool:
        agent = (await desk.call("GET", "/agents/agent1", "a1")).body["agent"]
        return bool(agent["on_call"])

    deadline = time.monotonic() + 10
    while not await agent1_on_call():
        assert time.monotonic() < deadline, "agent1 never answered"
        await asyncio.sleep(0.1)
    body = {"kind": "attended", "to": "second-line"}
    r = await desk.call("POST", "/agents/agent1/transfer", "a1", body)
    assert r.status == 200, r.body
    assert (r.body["transfer"]["kind"], r.body["transfer"]["target"]) == ("attended", "8001")

    def vendor_up() -> bool:
        return any(
            c.name.startswith("PJSIP/cc-second-line-") and c.state == "Up"
            for c in desk.daemon.live.channels.values()
        )

    await wait_for(vendor_up, 10, "the second line answering the consultation")
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a2")
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a1")
    assert r.status == 200, r.body

    async def agent1_free() -> bool:
        return not await agent1_on_call()

    deadline = time.monotonic() + 5
    while not await agent1_free():
        assert time.monotonic() < deadline, "agent1 still on the call"
        await asyncio.sleep(0.1)
    calls = (await desk.call("GET", "/calls")).body["calls"]
    assert [(c["caller_num"], c["agent_id"]) for c in calls] == [("0311113002", None)]
    assert (await desk.call("POST", "/agents/agent1/transfer/complete", "a1")).status == 409
    await asyncio.to_thread(finish, caller, 30)

    def ended() -> list[CallRecord]:
        return [c for c in desk.daemon.recent_calls if c.caller_num == "0311113002"]

    await wait_for(lambda: bool(ended()), 10, "the call ended")
    assert [t.kind for t in ended()[0].transfers] == ["attended"]


# -- many calls at once: the websocket's picture is the API's ------------------------------


async def rest_picture(desk: Desk) -> dict[str, Any]:
    """The websocket's sections, read through REST."""
    return {
        "queues": (await desk.call("GET", "/queues")).body["queues"],
        "agents": (await desk.call("GET", "/agents")).body["agents"],
        "parked": (await desk.call("GET", "/parked")).body["parked"],
        "today": (await desk.call("GET", "/metrics/today")).body,
        "service_mode": (await desk.call("GET", "/service-mode")).body,
    }


def ws_picture(w: Watch) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for _, m in w.seen:
        if m["type"] == "snapshot":
            state = dict(m["data"])
        elif m["type"] == "update":
            state |= m["data"]
    return state


async def test_many_calls_at_once_the_websocket_agrees_with_the_api(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    wall = await desk.watch("sup")
    for agent in ("agent1", "agent2"):
        desk.procs.append(sipp.agent(agent_ports[agent], answer_ms=400, calls=6, timeout_s=60))
    await asyncio.sleep(0.3)
    callers = [(f"03111140{n:02d}", f"同時 {n}号") for n in range(1, 7)]
    crowd = sipp.caller("1000", callers, talk_ms=1500, rate=20, limit=6)
    desk.procs.append(crowd)

    async def agrees(timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            rest, ws = stable(await rest_picture(desk), TICKING), stable(ws_picture(wall), TICKING)
            if rest == ws:
                return
            if time.monotonic() > deadline:
                diff = [k for k in rest if rest[k] != ws.get(k)]
                raise AssertionError(f"websocket and REST differ in {diff}")
            await asyncio.sleep(0.05)

    await wait_for(lambda: len(desk.daemon.tracker.calls) >= 4, 10, "calls in progress")
    await agrees(2.0)  # mid-way, while calls arrive, wait and are answered
    await asyncio.to_thread(finish, crowd, 60)
    await wait_for(lambda: len(desk.daemon.recent_calls) == 6, 15, "all six calls ended")
    await agrees(2.0)
    waits = [len(m["data"]["queues"][0]["waiting"]) for _, m in wall.seen if "queues" in m["data"]]
    assert max(waits) >= 2, waits  # callers did wait side by side
    today = ws_picture(wall)["today"]["by_queue"]["support"]
    # Each caller hangs up 1.5 s into the call: two answered at once, the others gave up.
    assert (today["calls"], today["answered"]) == (6, 2), today
    seqs = [m["seq"] for _, m in wall.seen]
    assert seqs == list(range(1, len(seqs) + 1))
    # Far fewer messages than events: bursts were coalesced.
    assert len(wall.seen) < len(desk.events) / 3, (len(wall.seen), len(desk.events))
