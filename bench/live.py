"""Live wallboard benchmark: from an AMI event to the wallboards, pushed or polled.

The real daemon (``callcenter.daemon.Daemon``: SQLite event log and calls in a temporary
directory, the HTTP API on a free port, incidents on as by default, the service mode not
managed) runs in this process against a fake AMI manager. A second process, started with
``multiprocessing`` (spawn), runs everything else: the fake manager (login; CoreStatus;
QueueStatus with the queue's 20 members; CoreShowChannels and ParkedCalls as empty event
lists; Ping; Success to anything else), the call traffic and the 20 wallboards. So the
server's CPU time, taken with ``getrusage`` in this process, is the daemon's alone.

Traffic: calls into one queue (``support``) with 20 agents, as Asterisk 16 reports them
(``timestampevents=yes``): Newchannel (context ``from-trunk``, Linkedid = Uniqueid),
Newexten, VarSet, Newstate, UserEvent CallCenter (Stage entered, then queued),
QueueCallerJoin (Position, Count); then either AgentCalled, the agent's channel ringing,
QueueMemberStatus, QueueCallerLeave, AgentConnect, bridges, a talk, AgentComplete and both
Hangups, or QueueCallerAbandon, QueueCallerLeave and Hangup (10%). Arrivals are evenly
spaced, at the rate that keeps ``--calls`` (200) in progress (Little's law on the mean call
length: 5.8 calls/s); the run starts in that steady state (the calls that would be in
progress are started "in the past": their earlier events are sent at once, stamped with
their times). Time is compressed (~30 s in the queue, a ~2 s talk) so that 20 agents can
serve 200 concurrent calls: ~175 callers wait, and the wallboards change ~20 times a
second (~160 AMI events/s). Calls finish all the time, so the day's finished calls grow
through the run (about 1,000 by the end); the modes' order is rotated for that reason.

Measured per mode, over a window of ``--duration`` seconds (default 10, so that the whole
run with 3 repetitions of 5 modes takes about 3 minutes) after the clients are up:

* delay, for every (event, wallboard) pair: from writing a QueueCallerJoin to the AMI
  socket to the first message that wallboard receives in which that caller is waiting,
  and from writing the event that removes the caller (QueueCallerLeave; for an abandon,
  the QueueCallerAbandon written with it) to the first message without it. Each client
  keeps the set of waiting uniqueids from the ``queues`` section; a change of that set is
  a detection. Timestamps are ``time.monotonic()`` in both processes (CLOCK_MONOTONIC,
  one clock on Linux). Also the AMI leg alone: from the write to the daemon's
  ``on_event`` for that event (the daemon's AMI client is wrapped to stamp it).
* the daemon's CPU share: its process CPU time (all threads) over the window / wall time.
* messages and kB per wallboard per second; the live hub's snapshots taken per second;
  in the server, how late a 50 ms timer runs on the event loop and how long its garbage
  collections take (``gc.callbacks``).

Modes (the same traffic and clients, one after another on the same daemon, in rotated
order each repetition): the websocket ``/api/v1/live`` with the hub's coalescing at 20 ms
(the default) and at 0 ms; polling ``GET /api/v1/queues`` every 250 ms and every 1 s (each
wallboard at its own phase); and no clients at all (what ingesting the traffic costs).

Goal (the issue): p99 under 100 ms with 200 calls and 20 wallboards. Prints figures, the
median of ``--reps`` windows per mode; asserts nothing about speed. Exits 1 only if
something is wrong: a wallboard never saw a caller join or leave, a gap in ``seq``, an
error answer, a reconnect to the fake manager, a snapshot that failed.

Usage: .venv/bin/python -m bench.live [--duration 10] [--calls 200] [--wallboards 20]
       [--reps 3] [--no-pin] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import aiohttp

from callcenter.ami.protocol import AMIFramer, FrameError, Message
from callcenter.ami.settings import AMIConfig
from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.dialplan.settings import AgentConfig, QueueConfig
from callcenter.logging import setup_logging
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.settings import DatabaseConfig
from callcenter.web.live import LiveHub
from callcenter.web.live_delta import LiveView
from callcenter.web.serve import HttpFront, http_of
from callcenter.web.serve import serve as serve_http
from callcenter.web.settings import HttpConfig
from callcenter.web.views import LIVE_EVENTS

GOAL_MS = 100.0
QUEUE = "support"
USERNAME = "bench"
SECRET = "bench-live-fake-manager"  # noqa: S105 (the fake manager's, on loopback only)
LIVE_PATH = "/api/v1/live"
QUEUES_PATH = "/api/v1/queues"
BANNER = b"Asterisk Call Manager/5.0.2\r\n"  # Asterisk 16's AMI version
WARMUP = 5.0  # seconds of traffic before the first window
SETTLE = 0.5  # seconds between the clients' first message and the window
IDLE_MAX = 5.0  # the no-client window is at most this long (a CPU rate needs no more)
CATCH_UP = 5.0  # seconds after a window for the wallboards to show its last callers

# The wallboards read snapshots the quick way, so that 20 of them in one process add little
# delay of their own (json.loads of a 35 kB message takes ~0.4 ms; 20 of them, 8 ms): the
# head with a regex, the waiting callers as the "uniqueid" values (only queues[].waiting[]
# has that key; "queues" is the data's first key when the section is there). Deltas are
# small: parsed, and applied to a LiveView; one message in CHECK_EVERY the view's waiting
# callers are compared with what the quick reading found: they must agree.
HEAD = re.compile(r'\{"type":"(\w+)","seq":(\d+),"at":"[^"]*","(?:data|changes)":')
QUEUES_KEY = re.compile(r'\{"queues": ?\[')
UNIQUEID = re.compile(r'"uniqueid": ?"([^"]*)"')
CHECK_EVERY = 50
# The envelope of a former whole-section update (its data aside), for the comparison.
UPDATE_ENVELOPE = len(
    '{"type":"update","seq":12345,"at":"2026-12-04T12:00:00.123456+00:00","data":}'
)

Header = tuple[str, str]
Frame = list[Header]


# -- modes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    kind: Literal["push", "poll", "none"]
    coalesce: float = 0.02  # push: LiveHub.coalesce_seconds
    interval: float = 0.0  # poll: seconds between a wallboard's requests


MODES = (
    Mode("push-20ms", "websocket, coalescing 20 ms", "push", coalesce=0.02),
    Mode("push-0ms", "websocket, coalescing 0 ms", "push", coalesce=0.0),
    Mode("poll-250ms", "GET /queues every 250 ms", "poll", interval=0.25),
    Mode("poll-1s", "GET /queues every 1 s", "poll", interval=1.0),
    Mode("idle", "no clients (ingest only)", "none"),
)


# -- the traffic -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficPlan:
    calls: int = 200  # in progress at once, on average
    agents: int = 20
    ivr: tuple[float, float] = (1.0, 3.0)  # seconds from arrival to the queue (uniform)
    wait: tuple[float, float] = (5.0, 55.0)  # seconds in the queue before answer or abandon
    abandon: float = 0.10  # share of callers who hang up in the queue
    ring: tuple[float, float] = (0.5, 1.5)  # the agent's phone rings
    talk: tuple[float, float] = (1.0, 3.0)
    seed: int = 20240614
    system: str = ""  # Asterisk's systemname, which prefixes its uniqueids (pbx2-1733.12)

    @property
    def mean_call(self) -> float:
        def mid(r: tuple[float, float]) -> float:
            return (r[0] + r[1]) / 2

        answered = (1 - self.abandon) * (mid(self.ring) + mid(self.talk))
        return mid(self.ivr) + mid(self.wait) + answered

    @property
    def rate(self) -> float:
        """Arrivals per second that keep ``calls`` in progress (Little's law)."""
        return self.calls / self.mean_call

    @property
    def longest(self) -> float:
        return self.ivr[1] + self.wait[1] + self.ring[1] + self.talk[1]


@dataclass(frozen=True)
class CallPlan:
    n: int
    arrival: float  # loop time (may be in the past: a call already in progress)
    ivr: float
    wait: float
    abandon: bool
    ring: float
    talk: float
    number: str
    name: str

    @property
    def end(self) -> float:
        queued = self.arrival + self.ivr + self.wait
        return queued if self.abandon else queued + self.ring + self.talk


NAMES = (
    "ヤマダ タロウ",
    "スズキ ハナコ",
    "TANAKA KEN",
    "サトウ ミキ",
    "ITO YUI",
    "ワタナベ ジュン",
)
STATE = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6"}


@dataclass
class Leg:
    """A channel, for its snapshot headers."""

    channel: str
    uniqueid: str
    linkedid: str
    num: str
    name: str
    context: str
    exten: str
    state: str = "Down"
    priority: int = 1

    def headers(self, prefix: str = "") -> Frame:
        return [
            (f"{prefix}Channel", self.channel),
            (f"{prefix}ChannelState", STATE[self.state]),
            (f"{prefix}ChannelStateDesc", self.state),
            (f"{prefix}CallerIDNum", self.num),
            (f"{prefix}CallerIDName", self.name),
            (f"{prefix}ConnectedLineNum", "<unknown>"),
            (f"{prefix}ConnectedLineName", "<unknown>"),
            (f"{prefix}Language", "ja"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


def encode(frames: Iterable[Frame]) -> bytes:
    return b"".join(
        ("".join(f"{k}: {v}\r\n" for k, v in f) + "\r\n").encode("utf-8") for f in frames
    )


def agent_id(i: int) -> str:
    return f"agent{i + 1:02d}"


def agent_name(i: int) -> str:
    return f"Agent {i + 1:02d}"


@dataclass
class Member:
    index: int
    calls_taken: int = 0
    last_call: int = 0
    status: str = "1"  # AST_DEVICE_NOT_INUSE
    in_call: bool = False
    login: int = field(default_factory=lambda: int(time.time()))

    def headers(self) -> Frame:
        iface = f"PJSIP/{agent_id(self.index)}"
        return [
            ("Queue", QUEUE),
            ("MemberName", agent_name(self.index)),
            ("Interface", iface),
            ("StateInterface", iface),
            ("Membership", "dynamic"),
            ("Penalty", "0"),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", "0"),
            ("LoginTime", str(self.login)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", self.status),
            ("Paused", "0"),
            ("PausedReason", ""),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]

    def listed(self, action_id: str) -> Frame:
        """As QueueStatus lists it (QueueMember: Name and Location)."""
        iface = f"PJSIP/{agent_id(self.index)}"
        return [
            ("Event", "QueueMember"),
            ("ActionID", action_id),
            ("Queue", QUEUE),
            ("Name", agent_name(self.index)),
            ("Location", iface),
            ("StateInterface", iface),
            ("Membership", "dynamic"),
            ("Penalty", "0"),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", "0"),
            ("LoginTime", str(self.login)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", self.status),
            ("Paused", "0"),
            ("PausedReason", ""),
            ("Wrapuptime", "0"),
        ]


class FakeManager:
    """The AMI side: one connection (the daemon's), answers, and the events written."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0
        self.bad_frames = 0
        self.actions: Counter[str] = Counter()
        self.started = time.localtime()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self.writer is not None:
            self.writer.close()
        if self._conns:
            await asyncio.wait(self._conns, timeout=5)

    def write(self, frames: Iterable[Frame]) -> float:
        """Write events in one go; return when (monotonic), or -1 when not connected."""
        data = encode(frames)
        w = self.writer
        if w is None or w.is_closing():
            return -1.0
        at = time.monotonic()
        w.write(data)
        return at

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.writer = writer
        self.connects += 1
        framer = AMIFramer(expect_banner=False)
        try:
            writer.write(BANNER)
            while data := await reader.read(65536):
                for msg in framer.feed(data):
                    if isinstance(msg, FrameError):
                        self.bad_frames += 1
                        continue
                    writer.write(encode(self._answer(msg)))
        except ConnectionError:
            pass
        finally:
            self._conns.discard(task)
            if self.writer is writer:
                self.writer = None
            writer.close()

    def _answer(self, msg: Message) -> list[Frame]:
        action = msg.get("Action", "")
        aid = msg.get("ActionID", "")
        self.actions[action] += 1
        ok: Frame = [("Response", "Success"), ("ActionID", aid)]
        if action == "Login":
            if msg.get("Username") == USERNAME and msg.get("Secret") == SECRET:
                return [[*ok, ("Message", "Authentication accepted")]]
            return [
                [("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")]
            ]
        if action == "CoreStatus":
            return [
                [
                    *ok,
                    ("CoreStartupDate", time.strftime("%Y-%m-%d", self.started)),
                    ("CoreStartupTime", time.strftime("%H:%M:%S", self.started)),
                    ("CoreReloadDate", time.strftime("%Y-%m-%d", self.started)),
                    ("CoreReloadTime", time.strftime("%H:%M:%S", self.started)),
                    ("CoreCurrentCalls", "0"),
                ]
            ]
        if action == "QueueStatus":
            items: list[Frame] = [
                [
                    ("Event", "QueueParams"),
                    ("ActionID", aid),
                    ("Queue", QUEUE),
                    ("Max", "0"),
                    ("Strategy", "rrmemory"),
                    ("Calls", "0"),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", "0"),
                    ("Abandoned", "0"),
                    ("ServiceLevel", "60"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                ],
                *(m.listed(aid) for m in self.members),
            ]
            return self._list(ok, "Queue status will follow", "QueueStatusComplete", items)
        if action == "CoreShowChannels":
            return self._list(ok, "Channels will follow", "CoreShowChannelsComplete", [])
        if action == "ParkedCalls":
            return self._list(ok, "Parked calls will follow", "ParkedCallsComplete", [])
        if action == "Ping":
            return [[*ok, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]]
        return [[*ok, ("Message", f"{action} done")]]

    @staticmethod
    def _list(ok: Frame, message: str, complete: str, items: list[Frame]) -> list[Frame]:
        aid = ok[1][1]
        return [
            [*ok, ("EventList", "start"), ("Message", message)],
            *items,
            [
                ("Event", complete),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", str(len(items))),
            ],
        ]


class Traffic:
    """The calls: arrivals, their events at their times, the agents they take."""

    def __init__(self, ami: FakeManager, plan: TrafficPlan) -> None:
        self.ami = ami
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.uid_prefix = f"{plan.system}-" if plan.system else ""
        self.loop = asyncio.get_running_loop()
        self.free: asyncio.Queue[Member] = asyncio.Queue()
        for m in ami.members:
            self.free.put_nowait(m)
        self.order: list[str] = []  # waiting callers' uniqueids, in the order they joined
        self.in_progress = 0
        self.events = 0
        self.live_events = 0
        self.joined: dict[str, float] = {}  # uniqueid -> monotonic time its join was written
        self.left: dict[str, float] = {}  # ... its leave (or abandon) was written
        self.lost_writes = 0
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrivals: asyncio.Task[None] | None = None

    def _plan(self, arrival: float) -> CallPlan:
        p, r = self.plan, self.rng
        return CallPlan(
            n=next(self._seq),
            arrival=arrival,
            ivr=r.uniform(*p.ivr),
            wait=r.uniform(*p.wait),
            abandon=r.random() < p.abandon,
            ring=r.uniform(*p.ring),
            talk=r.uniform(*p.talk),
            number=f"0{r.randrange(10**9, 10**10)}",
            name=r.choice(NAMES),
        )

    def start(self) -> None:
        """Start in the steady state: the calls that would be in progress now, then arrivals."""
        now = self.loop.time()
        past: list[float] = []
        t = now
        while t > now - self.plan.longest:
            t -= 1 / self.plan.rate
            past.append(t)
        for arrival in reversed(past):
            plan = self._plan(arrival)
            if plan.end > now:
                self._spawn(plan)
        self._arrivals = asyncio.create_task(self._arrive(now), name="arrivals")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._arrivals] if self._arrivals else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, plan: CallPlan) -> None:
        task = asyncio.create_task(self._call(plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _arrive(self, t: float) -> None:
        while True:
            t += 1 / self.plan.rate
            await self._at(t)
            self._spawn(self._plan(t))

    async def _at(self, t: float) -> None:
        delay = t - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _stamp(self, t: float) -> float:
        """Asterisk's Timestamp for an event due at loop time ``t`` (in the past: then)."""
        return time.time() - max(0.0, self.loop.time() - t)

    def _send(self, t: float, *frames: tuple[str, str, Frame]) -> float:
        """Write (event, privilege, headers) frames stamped as of ``t``; when written."""
        ts = f"{self._stamp(t):.6f}"
        out = [
            [("Event", ev), ("Privilege", priv), ("Timestamp", ts), *h] for ev, priv, h in frames
        ]
        self.events += len(out)
        self.live_events += sum(1 for ev, _, _ in frames if ev in LIVE_EVENTS)
        at = self.ami.write(out)
        if at < 0:
            self.lost_writes += 1
        return at

    async def _call(self, p: CallPlan) -> None:
        uid = f"{self.uid_prefix}{int(self._stamp(p.arrival))}.{p.n}"
        self.in_progress += 1
        try:
            await self._run_call(p, uid)
        finally:
            self.in_progress -= 1
            with contextlib.suppress(ValueError):
                self.order.remove(uid)

    async def _run_call(self, p: CallPlan, uid: str) -> None:
        c = Leg(f"PJSIP/trunk-{p.n:08x}", uid, uid, p.number, p.name, "from-trunk", "0312345678")
        t = p.arrival
        await self._at(t)
        new = ("Newchannel", "call,all", c.headers())
        c.state = "Ring"
        ring = ("Newstate", "call,all", c.headers())
        lang = [("Variable", "CHANNEL(language)"), ("Value", "ja")]
        set_lang = ("VarSet", "dialplan,all", [*c.headers(), *lang])
        c.priority = 2
        exten1 = ("Newexten", "dialplan,all", self._app(c, "Answer", ""))
        c.state = "Up"
        up = ("Newstate", "call,all", c.headers())
        c.context, c.exten, c.priority = "callcenter-in", "1000", 1
        exten2 = (
            "Newexten",
            "dialplan,all",
            self._app(c, "UserEvent", "CallCenter,Stage: entered"),
        )
        entered = (
            "UserEvent",
            "user,all",
            [*c.headers(), ("UserEvent", "CallCenter"), ("Stage", "entered"), ("Dnis", "1000")],
        )
        self._send(t, new, ring, set_lang, exten1, up, exten2, entered)

        t += p.ivr
        await self._at(t)
        c.priority = 3
        queued = (
            "UserEvent",
            "user,all",
            [*c.headers(), ("UserEvent", "CallCenter"), ("Stage", "queued"), ("Queue", QUEUE)],
        )
        c.priority = 4
        app = ("Newexten", "dialplan,all", self._app(c, "Queue", f"{QUEUE},tT,,,300"))
        self.order.append(uid)
        count = str(len(self.order))
        join = ("QueueCallerJoin", "agent,all", [*c.headers(), ("Queue", QUEUE), *_pos(count)])
        self.joined[uid] = self._send(t, queued, app, join)

        t += p.wait
        await self._at(t)
        if p.abandon:
            pos = str(self.order.index(uid) + 1)
            self.order.remove(uid)
            held = str(round(p.wait))
            abandon = (
                "QueueCallerAbandon",
                "agent,all",
                [
                    *c.headers(),
                    ("Queue", QUEUE),
                    ("Position", pos),
                    ("OriginalPosition", count),
                    ("HoldTime", held),
                ],
            )
            leave = self._leave(c, pos)
            self.left[uid] = self._send(
                t, abandon, leave, *self._hangup(c, "16", "Normal Clearing")
            )
            return

        m = await self.free.get()  # no agent free: the caller keeps waiting
        t = max(t, self.loop.time())
        try:
            await self._answered(p, c, m, t)
        finally:
            m.status, m.in_call = "1", False
            self.free.put_nowait(m)

    async def _answered(self, p: CallPlan, c: Leg, m: Member, t: float) -> None:
        aid = agent_id(m.index)
        uid = f"{self.uid_prefix}{int(self._stamp(t))}.{next(self._seq)}"
        name = agent_name(m.index)
        a = Leg(f"PJSIP/{aid}-{p.n:08x}", uid, c.linkedid, aid, name, "callcenter-agents", "s")
        agent = [
            ("Queue", QUEUE),
            ("Interface", f"PJSIP/{aid}"),
            ("MemberName", agent_name(m.index)),
        ]
        called = ("AgentCalled", "agent,all", [*c.headers(), *a.headers("Dest"), *agent])
        new = ("Newchannel", "call,all", a.headers())
        a.state = "Ringing"
        ringing = ("Newstate", "call,all", a.headers())
        dev = ("DeviceStateChange", "call,all", [("Device", f"PJSIP/{aid}"), ("State", "RINGING")])
        m.status = "6"  # AST_DEVICE_RINGING
        status = ("QueueMemberStatus", "agent,all", m.headers())
        self._send(t, called, new, ringing, dev, status)

        t += p.ring
        await self._at(t)
        a.state = "Up"
        up = ("Newstate", "call,all", a.headers())
        pos = str(self.order.index(c.uniqueid) + 1)
        self.order.remove(c.uniqueid)
        leave = self._leave(c, pos)
        held = str(round(t - p.arrival - p.ivr))
        connect = (
            "AgentConnect",
            "agent,all",
            [
                *c.headers(),
                *a.headers("Dest"),
                *agent,
                ("HoldTime", held),
                ("RingTime", str(round(p.ring))),
                ("BridgedChannel", a.channel),
            ],
        )
        m.status, m.in_call = "2", True  # AST_DEVICE_INUSE
        busy = ("QueueMemberStatus", "agent,all", m.headers())
        bridge = [
            ("BridgeUniqueid", f"b-{p.n}"),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", "1"),
            ("BridgeVideoSourceMode", "none"),
        ]
        enter1 = ("BridgeEnter", "call,all", [*bridge, *c.headers()])
        enter2 = ("BridgeEnter", "call,all", [*bridge, *a.headers()])
        self.left[c.uniqueid] = self._send(t, up, leave, connect, busy, enter1, enter2)

        t += p.talk
        await self._at(t)
        left1 = ("BridgeLeave", "call,all", [*bridge, *a.headers()])
        left2 = ("BridgeLeave", "call,all", [*bridge, *c.headers()])
        complete = (
            "AgentComplete",
            "agent,all",
            [
                *c.headers(),
                *a.headers("Dest"),
                *agent,
                ("HoldTime", held),
                ("TalkTime", str(round(p.talk))),
                ("Reason", "agent"),
            ],
        )
        m.calls_taken += 1
        m.last_call = int(time.time())
        m.status, m.in_call = "1", False
        free = ("QueueMemberStatus", "agent,all", m.headers())
        end = self._hangup(c, "16", "Normal Clearing")
        self._send(t, left1, left2, *self._hangup(a, "16", "Normal Clearing"), complete, free, *end)

    @staticmethod
    def _app(c: Leg, app: str, data: str) -> Frame:
        return [*c.headers(), ("Extension", c.exten), ("Application", app), ("AppData", data)]

    def _leave(self, c: Leg, pos: str) -> tuple[str, str, Frame]:
        count = str(len(self.order))
        headers = [*c.headers(), ("Queue", QUEUE), ("Count", count), ("Position", pos)]
        return ("QueueCallerLeave", "agent,all", headers)

    @staticmethod
    def _hangup(c: Leg, cause: str, text: str) -> list[tuple[str, str, Frame]]:
        return [
            ("HangupRequest", "call,all", [*c.headers(), ("Cause", cause)]),
            ("Hangup", "call,all", [*c.headers(), ("Cause", cause), ("Cause-txt", text)]),
        ]


def _pos(count: str) -> Frame:
    return [("Position", count), ("Count", count)]


# -- the wallboards ------------------------------------------------------------------------


@dataclass
class Wallboard:
    """What one wallboard saw: its waiting callers, when each came and went, its messages."""

    present: set[str] | None = None
    came: dict[str, float] = field(default_factory=dict)  # uniqueid -> first seen waiting
    went: dict[str, float] = field(default_factory=dict)  # uniqueid -> first seen gone
    received: list[tuple[float, int, str]] = field(default_factory=list)  # (t, bytes, kind)
    seq: int = 0
    reads: int = 0
    errors: list[str] = field(default_factory=list)
    view: LiveView = field(default_factory=LiveView)  # push: the state the deltas build
    delta_bytes: Counter[str] = field(default_factory=Counter)  # by change and path
    # Follow only this queue's callers (as shown: support@pbx2 when several servers have
    # a support queue); None: every queue's, read the quick way.
    queue: str | None = None
    # Which of every CHECK_EVERY deltas is checked against the whole view: the boards
    # read the same messages, and checking all at the same one held the process's loop
    # for one assembly per board (1.6 ms each at 175 callers) and delayed every board.
    phase: int = 0

    def _followed(self, queue: str) -> bool:
        return self.queue is None or queue == self.queue

    def read_delta(self, t: float, text: str) -> None:
        """A delta: a waiting caller set is one who came, removed one who went."""
        message = json.loads(text)
        if not self.view.read(message):
            self.errors.append("a delta that does not follow on")
        self.reads += 1
        if self.present is None:
            return
        for change in message["changes"]:
            path = change["path"]
            if len(path) == 4 and path[0] == "queues" and path[2] == "waiting":
                if not self._followed(path[1]):
                    pass
                elif change["op"] == "set" and path[3] not in self.present:
                    self.present.add(path[3])
                    self.came.setdefault(path[3], t)
                elif change["op"] == "remove" and path[3] in self.present:
                    self.present.discard(path[3])
                    self.went.setdefault(path[3], t)
            elif path[:1] == ["queues"] and change["op"] not in ("merge", "order"):
                self.errors.append(f"a delta the benchmark does not follow: {change['op']} {path}")
            kind = "/".join("*" if i % 2 else p for i, p in enumerate(path))
            self.delta_bytes[f"{change['op']} {kind}"] += len(json.dumps(change))
        if (self.reads + self.phase) % CHECK_EVERY == 0:
            waiting = {
                w["uniqueid"]
                for q in self.view.state["queues"]
                if self._followed(q["name"])
                for w in q["waiting"]
            }
            if waiting != self.present:
                self.errors.append("the deltas' waiting callers disagree with the view's")

    def read(self, t: float, text: str, at: int, data: Callable[[], Any]) -> None:
        """A message whose data (a JSON object) starts at ``text[at]``; ``data()`` parses it."""
        if text.startswith('{"type":"snapshot"'):
            self.view.read(json.loads(text))
        if self.queue is not None:
            self.reads += 1
            self._read_queue(t, data())
            return
        has_queues = QUEUES_KEY.match(text, at) is not None
        now = set(UNIQUEID.findall(text, at)) if has_queues else set()
        self.reads += 1
        if self.present is None or (self.reads + self.phase) % CHECK_EVERY == 0:
            doc = data()
            full = {w["uniqueid"] for q in doc.get("queues", ()) for w in q["waiting"]}
            if ("queues" in doc) != has_queues or full != now:
                self.errors.append("the quick reading of a message disagrees with its JSON")
        if has_queues:
            self._now(t, now)

    def _read_queue(self, t: float, doc: Any) -> None:
        """A whole message's data, parsed: the followed queue's callers, once it is there
        (snapshots only: a few per connection)."""
        for q in doc.get("queues", ()):
            if q["name"] == self.queue:
                self._now(t, {w["uniqueid"] for w in q["waiting"]})

    def _now(self, t: float, now: set[str]) -> None:
        if self.present is not None:
            for uid in now - self.present:
                self.came.setdefault(uid, t)
            for uid in self.present - now:
                self.went.setdefault(uid, t)
        self.present = now


async def push_client(session: aiohttp.ClientSession, w: Wallboard, stop: asyncio.Event) -> None:
    async with session.ws_connect(LIVE_PATH, max_msg_size=0) as ws:
        closer = asyncio.create_task(_close_on(stop, ws))
        try:
            async for msg in ws:
                t = time.monotonic()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    w.errors.append(f"websocket: unexpected {msg.type.name}")
                    continue
                text: str = msg.data
                head = HEAD.match(text)
                if head is None:
                    w.errors.append(f"websocket: not a live message: {text[:60]!r}")
                    continue
                kind, seq = head[1], int(head[2])
                w.received.append((t, len(text.encode()), kind))
                if seq != w.seq + 1:
                    w.errors.append(f"seq {seq} after {w.seq}")
                w.seq = seq
                if kind == "snapshot":
                    w.read(t, text, head.end(), partial(_live_data, text))
                elif kind == "delta":
                    w.read_delta(t, text)
                else:
                    w.view.read({"type": kind, "seq": seq})
        finally:
            closer.cancel()
    if not stop.is_set():
        w.errors.append(f"websocket closed by the server ({ws.close_code})")


def _live_data(text: str) -> Any:
    return json.loads(text)["data"]


async def _close_on(stop: asyncio.Event, ws: aiohttp.ClientWebSocketResponse) -> None:
    await stop.wait()
    await ws.close()


async def poll_client(
    session: aiohttp.ClientSession, w: Wallboard, stop: asyncio.Event, interval: float, phase: float
) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + phase
    while not stop.is_set():
        await asyncio.sleep(max(0.0, due - loop.time()))
        async with session.get(QUEUES_PATH) as resp:
            body = await resp.read()
        t = time.monotonic()
        if resp.status != 200:
            w.errors.append(f"GET {QUEUES_PATH}: {resp.status}")
            continue
        w.received.append((t, len(body), "poll"))
        w.read(t, body.decode(), 0, partial(json.loads, body))
        due = max(due + interval, loop.time())  # behind: the next one at once, no burst


# -- figures ---------------------------------------------------------------------------------


def pct(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``xs``."""
    return xs[max(0, math.ceil(q / 100 * len(xs)) - 1)]


def summary(delays_s: Iterable[float]) -> dict[str, Any]:
    xs = sorted(d * 1000 for d in delays_s)
    if not xs:
        return {
            "n": 0, "median_ms": None, "p90_ms": None, "p95_ms": None, "p99_ms": None,
            "max_ms": None,
        }  # fmt: skip
    return {
        "n": len(xs),
        "median_ms": statistics.median(xs),
        "p90_ms": pct(xs, 90),
        "p95_ms": pct(xs, 95),
        "p99_ms": pct(xs, 99),
        "max_ms": xs[-1],
    }


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Detections:
    delays: list[float] = field(default_factory=list)  # every (event, wallboard) pair
    first: list[float] = field(default_factory=list)  # per event: the first wallboard's
    missed: int = 0
    negative: int = 0


def detections(boards: Sequence[Wallboard], events: Mapping[str, float], seen: str) -> Detections:
    """How long each of ``events`` took to show on every wallboard."""
    out = Detections()
    for uid, at in events.items():
        first = math.inf
        for w in boards:
            t = getattr(w, seen).get(uid)
            if t is None:
                out.missed += 1
            elif t < at:
                out.negative += 1
            else:
                out.delays.append(t - at)
                first = min(first, t - at)
        if first < math.inf:
            out.first.append(first)
    return out


# -- the load process --------------------------------------------------------------------------


async def _recv(conn: Connection) -> Any:
    return await asyncio.to_thread(conn.recv)


async def _expect(conn: Connection, kind: str) -> Any:
    msg = await _recv(conn)
    if msg[0] == "failed":
        raise RuntimeError(f"the other process failed: {msg[1]}")
    if msg[0] != kind:
        raise RuntimeError(f"the other process said {msg[0]!r}, expected {kind!r}")
    return msg[1:]


@dataclass(frozen=True)
class Target:
    """Where a wallboard connects, what it follows, and the group it is reported in."""

    port: int
    token: str
    group: str = ""
    queue: str | None = None  # Wallboard.queue


def board_figures(
    boards: Sequence[Wallboard],
    joins: Mapping[str, float],
    leaves: Mapping[str, float],
    t0: float,
    t1: float,
    label: str,
) -> tuple[dict[str, Any], list[str]]:
    """The wallboards' delays for the callers who joined and left in [t0, t1], and what
    they received; with the errors (a pair never seen, a detection before its event)."""
    errors = []
    jd = detections(boards, joins, "came")
    ld = detections(boards, leaves, "went")
    if jd.missed or ld.missed:
        errors.append(
            f"{label}: {jd.missed} (join, wallboard) and {ld.missed} (leave, wallboard) "
            "pairs never seen"
        )
    if jd.negative or ld.negative:
        errors.append(
            f"{label}: {jd.negative + ld.negative} detections before their event was written"
        )
    wall = t1 - t0
    in_window = [[r for r in w.received if t0 <= r[0] <= t1] for w in boards]
    kinds: Counter[str] = Counter(r[2] for rs in in_window for r in rs)
    n = max(1, len(boards))
    return {
        "wallboards": len(boards),
        "missed": jd.missed + ld.missed,
        "delay": summary(jd.delays + ld.delays),
        "join_delay": summary(jd.delays),
        "leave_delay": summary(ld.delays),
        "first_board_delay": summary(jd.first + ld.first),
        "messages_per_client_s": sum(len(rs) for rs in in_window) / n / wall if boards else 0.0,
        "kb_per_client_s": sum(r[1] for rs in in_window for r in rs) / n / wall / 1000
        if boards
        else 0.0,
        "message_kinds": dict(kinds),
        # One wallboard's deltas, bytes by change and path (the whole connection).
        "delta_bytes_by_change": dict(boards[0].delta_bytes.most_common()) if boards else {},
    }, errors


async def run_window(
    conn: Connection, mode: Mode, traffic: Traffic, targets: Sequence[Target], duration: float
) -> dict[str, Any]:
    """One window: the wallboards connect (one per target; none in the mode "none"), the
    traffic is measured for ``duration``, and what they saw of ``traffic``'s callers is
    summed up, over them all and (with several groups) by group."""
    stop = asyncio.Event()
    targets = targets if mode.kind != "none" else []
    boards = [Wallboard(queue=t.queue, phase=i) for i, t in enumerate(targets)]
    sessions = [
        aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{t.port}",
            headers={"Authorization": f"Bearer {t.token}"},
        )
        for t in targets
    ]
    rng = random.Random(len(traffic.joined))
    tasks = [
        asyncio.create_task(
            push_client(s, w, stop)
            if mode.kind == "push"
            else poll_client(s, w, stop, mode.interval, rng.uniform(0, mode.interval))
        )
        for s, w in zip(sessions, boards, strict=True)
    ]
    errors: list[str] = []
    samples: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 15
        while any(w.present is None for w in boards):
            if time.monotonic() > deadline or any(t.done() for t in tasks):
                failed = [repr(t.exception()) for t in tasks if t.done() and t.exception()]
                said = sorted({e for w in boards for e in w.errors} | set(failed))[:3]
                raise RuntimeError(f"the wallboards did not all get a first answer: {said}")
            await asyncio.sleep(0.02)
        await asyncio.sleep(SETTLE)
        # As the daemon does once started: what is there now (the wallboards' views,
        # the traffic so far) is never scanned again by the collector, whose full passes
        # over it held this process's loop for up to 94 ms (bench/live_cluster).
        gc.freeze()
        if mode.kind == "none":
            duration = min(duration, IDLE_MAX)

        async def sample() -> None:
            while True:
                samples.append((traffic.in_progress, len(traffic.order)))
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        # The wallboards' own process: a late loop or a collection here delays what they
        # see, and is the benchmark's, not the daemon's.
        probes = Probes()
        prober = asyncio.create_task(probes.run())
        ev0, live0, cpu0 = traffic.events, traffic.live_events, cpu_seconds()
        t0 = time.monotonic()
        conn.send(("start", t0))
        await asyncio.sleep(duration)
        t1 = time.monotonic()
        conn.send(("end", t1))
        ev1, live1, cpu1 = traffic.events, traffic.live_events, cpu_seconds()
        sampler.cancel()
        prober.cancel()
        probes.close()
        load_probed = probes.take()
        # Let what was written just before the end arrive: until every wallboard has shown
        # every caller of the window come and go (a poll may be an interval away), for
        # CATCH_UP seconds at most (a machine under load may lag by more than a second;
        # a caller not shown by then counts as never seen).
        joins = {u: t for u, t in traffic.joined.items() if t0 <= t <= t1}
        leaves = {u: t for u, t in traffic.left.items() if t0 <= t <= t1}
        await asyncio.sleep(0.5 + mode.interval)
        for _ in range(round(CATCH_UP / 0.05)):
            if all(
                w.came.keys() >= joins.keys() and w.went.keys() >= leaves.keys() for w in boards
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        for s in sessions:
            await s.close()
    for r in done:
        if isinstance(r, BaseException):
            errors.append(f"wallboard: {r!r}")
    for w in boards:
        errors.extend(dict.fromkeys(w.errors))
    figures, errs = board_figures(boards, joins, leaves, t0, t1, mode.key)
    errors += errs
    groups = {}
    names = list(dict.fromkeys(t.group for t in targets))
    if len(names) > 1:
        for name in names:
            mine = [w for w, t in zip(boards, targets, strict=True) if t.group == name]
            groups[name], _ = board_figures(mine, joins, leaves, t0, t1, f"{mode.key} {name}")
    wall = t1 - t0
    return {
        "mode": mode.key,
        "wall_s": wall,
        "joins": len(joins),
        "leaves": len(leaves),
        **figures,
        "groups": groups,
        "calls_in_progress": statistics.fmean(s[0] for s in samples) if samples else 0.0,
        "callers_waiting": statistics.fmean(s[1] for s in samples) if samples else 0.0,
        "ami_events_per_s": (ev1 - ev0) / wall,
        "ami_live_events_per_s": (live1 - live0) / wall,
        "load_cpu_share": (cpu1 - cpu0) / wall,
        "load_loop_lag_max_ms": load_probed["loop_lag_max_ms"],
        "load_gc_max_ms": load_probed["gc_max_ms"],
        "written": {"join": joins, "leave": leaves},
        "errors": errors,
    }


async def load_main(conn: Connection, settings: dict[str, Any]) -> None:
    """A fake manager per server (``servers``); calls to those in ``traffic`` (server ->
    TrafficPlan); the wallboards spread over the servers' daemons (with several, each
    daemon's are a group), following the ``queue`` (None: all); the delays measured for
    the ``measured`` server's callers."""
    cpu = settings["cpu"]
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    plans = {sid: TrafficPlan(**p) for sid, p in settings["traffic"].items()}
    agents = max(p.agents for p in plans.values())
    managers = {sid: FakeManager([Member(i) for i in range(agents)]) for sid in settings["servers"]}
    conn.send(("ami", {sid: await ami.start() for sid, ami in managers.items()}))
    _, fronts = await _recv(conn)  # server -> (HTTP port, token)
    traffics = {sid: Traffic(managers[sid], plan) for sid, plan in plans.items()}
    for traffic in traffics.values():
        traffic.start()
    measured = traffics[settings["measured"]]
    await asyncio.sleep(settings["warmup"])
    conn.send(("warm", {"in_progress": measured.in_progress, "waiting": len(measured.order)}))
    servers = list(fronts)
    targets = [
        Target(
            fronts[sid][0],
            fronts[sid][1],
            group=sid if len(servers) > 1 else "",
            queue=settings["queue"],
        )
        for sid in itertools.islice(itertools.cycle(servers), settings["wallboards"])
    ]
    while True:
        cmd = await _recv(conn)
        if cmd[0] == "stop":
            break
        mode = Mode(**cmd[1])
        result = await run_window(conn, mode, measured, targets, settings["duration"])
        conn.send(("result", result))
        await asyncio.sleep(0.3)  # the daemon closes the connections
    errors: list[str] = []
    for traffic in traffics.values():
        await traffic.stop()
        if traffic.lost_writes:
            errors.append(f"{traffic.lost_writes} writes while the daemon was not connected")
    for sid, ami in managers.items():
        name = f"{sid}'s daemon" if len(managers) > 1 else "the daemon"
        if ami.connects != 1:
            errors.append(f"{name} connected {ami.connects} times to the fake manager")
        if ami.bad_frames:
            errors.append(f"{ami.bad_frames} frames from {name} were not AMI")
    events = sum(t.events for t in traffics.values())
    actions = sum((ami.actions for ami in managers.values()), Counter[str]())
    conn.send(("bye", {"errors": errors, "actions": dict(actions), "events": events}))
    await _expect(conn, "exit")  # the daemons have stopped (and closed their AMI connection)
    for ami in managers.values():
        await ami.stop()


def load_process(conn: Connection, settings: dict[str, Any]) -> None:
    """The child: fake manager, traffic and wallboards (their CPU is not the server's)."""
    run_child(load_main, conn, settings)


def run_child(
    main: Callable[[Connection, dict[str, Any]], Coroutine[Any, Any, None]],
    conn: Connection,
    settings: dict[str, Any],
) -> None:
    """A spawned process's body: ``main``, and its failure told to the parent."""
    try:
        asyncio.run(main(conn, settings))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send(("failed", repr(exc)))
        raise


# -- the server process ------------------------------------------------------------------------


class Probes:
    """In the server: how late the event loop runs a timer, and the collector's pauses."""

    PERIOD = 0.05
    LATE = 0.02

    def __init__(self) -> None:
        self.worst_lag = 0.0
        self.late = 0  # ticks more than LATE late
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def reset(self) -> None:
        self.worst_lag, self.late, self.pauses = 0.0, 0, []

    def close(self) -> None:
        gc.callbacks.remove(self._gc)

    def take(self) -> dict[str, Any]:
        full = [p for g, p in self.pauses if g == 2]
        return {
            "loop_lag_max_ms": self.worst_lag * 1000,
            "loop_late_ticks": self.late,
            "gc_collections": len(self.pauses),
            "gc_max_ms": max((p for _, p in self.pauses), default=0.0) * 1000,
            "gc_full_collections": len(full),
            "gc_total_ms": sum(p for _, p in self.pauses) * 1000,
        }

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.PERIOD)
            lag = loop.time() - t - self.PERIOD
            self.worst_lag = max(self.worst_lag, lag)
            if lag > self.LATE:
                self.late += 1


@dataclass
class Served:
    """A daemon of the bench, running on this loop, with its HTTP front and live hub."""

    daemon: Daemon
    front: HttpFront
    hub: LiveHub
    token: str  # a supervisor's, which the wallboards share
    handled: dict[tuple[str, str], float]  # ("join" or "leave", uniqueid) -> on_event's time
    stop: asyncio.Event
    running: asyncio.Task[None]

    def errors(self, agents: int) -> list[str]:
        """What went wrong in the daemon (checked at the end)."""
        out = []
        client = self.daemon.client
        if client.handler_errors or client.bad_frames:
            out.append(
                f"daemon: {client.handler_errors} event handler errors, "
                f"{client.bad_frames} bad frames"
            )
        queue = self.daemon.live.queues.get(QUEUE)
        members = len(queue.members) if queue is not None else 0
        if members != agents:
            out.append(f"the daemon knows {members} members of {QUEUE}, not {agents}")
        if self.hub.stats.failures:
            out.append(f"live hub: {self.hub.stats.failures} snapshots failed")
        return out

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.running, 60)


async def start_daemon(cfg: Config, ami_port: int, wallboards: int) -> Served:
    """The real daemon with its HTTP API, against the fake manager at ``ami_port``, once
    ready; its AMI client stamps when it handles each caller's join and leave."""
    daemon = serve_http(Daemon(cfg, AMITarget("127.0.0.1", ami_port, USERNAME, SECRET)))
    front = http_of(daemon)
    handled: dict[tuple[str, str], float] = {}
    on_event = daemon.client.on_event
    assert on_event is not None
    kinds = {"QueueCallerJoin": "join", "QueueCallerLeave": "leave"}
    kinds["QueueCallerAbandon"] = "leave"

    def stamped(msg: Message, received: float) -> None:
        kind = kinds.get(msg.get("Event", ""))
        if kind is not None:
            handled.setdefault((kind, msg.get("Uniqueid", "")), time.monotonic())
        on_event(msg, received)

    daemon.client.on_event = stamped
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop), name="daemon")
    deadline = time.monotonic() + 30
    while not (daemon.ready.is_set() and front.port and front.hub):
        if running.done() or time.monotonic() > deadline:
            running.result()
            raise RuntimeError("the daemon did not get ready in 30 s")
        await asyncio.sleep(0.05)
    hub = front.hub
    assert hub is not None
    # The wallboards share one token: more connections than a token may hold.
    hub.per_token = max(hub.per_token, wallboards)
    token, _ = await asyncio.to_thread(front.tokens.create, "bench wallboard", "supervisor")
    return Served(daemon, front, hub, token, handled, stop, running)


def make_config(base: Path, ami_port: int, agents: int) -> Config:
    return Config(
        database=DatabaseConfig(url=f"sqlite:///{base / 'cc.db'}", spool_dir=str(base / "spool")),
        ami=AMIConfig(use_lab=False, host="127.0.0.1", port=ami_port, username=USERNAME),
        service=ServiceConfig(manage_mode=False),
        http=HttpConfig(port=0),
        queues=(QueueConfig(name=QUEUE, number="1000"),),
        groups=(),
        agents=tuple(
            AgentConfig(id=agent_id(i), name=agent_name(i), queues=(QUEUE,)) for i in range(agents)
        ),
        base_dir=base,
    )


async def serve(args: argparse.Namespace, cpus: tuple[int | None, int | None]) -> dict[str, Any]:
    plan = TrafficPlan(calls=args.calls, agents=args.agents)
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    server = Config().server.id
    settings = {
        "cpu": cpus[1],
        "servers": [server],
        "traffic": {server: asdict(plan)},
        "measured": server,
        "queue": None,
        "warmup": WARMUP,
        "wallboards": args.wallboards,
        "duration": args.duration,
    }
    proc = ctx.Process(target=load_process, args=(child_conn, settings), name="bench-live-load")
    proc.start()
    if cpus[0] is not None:
        os.sched_setaffinity(0, {cpus[0]})
    windows: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        (ami_ports,) = await _expect(conn, "ami")
        ami_port = ami_ports[server]
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            cfg = make_config(Path(tmp), ami_port, plan.agents)
            served = await start_daemon(cfg, ami_port, args.wallboards)
            daemon, front, hub, handled = served.daemon, served.front, served.hub, served.handled
            # Also what the same flushes would have sent as whole sections (issue 13's
            # "before"): one extra pass over each snapshot, on the server's CPU.
            hub.measure_sections = True
            probes = Probes()
            prober = asyncio.create_task(probes.run(), name="probes")
            conn.send(("go", {server: (front.port, served.token)}))
            (warm,) = await _expect(conn, "warm")
            for rep in range(args.reps):
                shift = rep % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    hub.coalesce_seconds = mode.coalesce if mode.kind == "push" else 0.02
                    conn.send(("window", asdict(mode)))
                    await _expect(conn, "start")
                    probes.reset()
                    c0, w0, h0 = cpu_seconds(), time.monotonic(), asdict(hub.stats)
                    e0 = daemon.eventlog.stats.appended
                    await _expect(conn, "end")
                    c1, w1, h1 = cpu_seconds(), time.monotonic(), asdict(hub.stats)
                    probed = probes.take()
                    e1 = daemon.eventlog.stats.appended
                    (result,) = await _expect(conn, "result")
                    wall = w1 - w0
                    written = result.pop("written")
                    ami_leg = [
                        handled[(kind, uid)] - at
                        for kind in ("join", "leave")
                        for uid, at in written[kind].items()
                        if (kind, uid) in handled
                    ]
                    hub_rates = {k: (h1[k] - h0[k]) / wall for k in h0}
                    sections_kb = (
                        hub_rates["section_bytes"] + hub_rates["section_updates"] * UPDATE_ENVELOPE
                    ) / 1000
                    result.update(
                        rep=rep,
                        server_cpu_share=(c1 - c0) / wall,
                        hub=hub_rates,
                        kb_sections_per_client_s=sections_kb if mode.kind == "push" else None,
                        events_stored_per_s=(e1 - e0) / wall,
                        ami_leg=summary(ami_leg),
                        server=probed,
                        finished_calls=daemon.outcomes.total(),
                    )
                    windows.append(result)
                    errors.extend(result["errors"])
                    print(_progress(result), file=sys.stderr, flush=True)
            conn.send(("stop",))
            (bye,) = await _expect(conn, "bye")
            errors.extend(bye["errors"])
            errors.extend(served.errors(plan.agents))
            prober.cancel()
            await served.shutdown()
            conn.send(("exit",))
            outcomes = Counter(daemon.outcomes)
    finally:
        proc.join(15)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return {
        "traffic": {
            **asdict(plan),
            "mean_call_s": plan.mean_call,
            "arrivals_per_s": plan.rate,
            "at_first_window": warm,
            "ami_events_total": bye["events"],
            "finished_calls": dict(outcomes),
        },
        "windows": windows,
        "errors": list(dict.fromkeys(errors)),
    }


def _progress(r: dict[str, Any]) -> str:
    d = r["delay"]
    p99 = "-" if d["p99_ms"] is None else f"{d['p99_ms']:.1f} ms"
    return (
        f"  rep {r['rep'] + 1} {r['mode']:<10} p99 {p99:>9}, server CPU "
        f"{r['server_cpu_share'] * 100:5.1f}%, {r['calls_in_progress']:.0f} calls, "
        f"{r['finished_calls']} finished so far"
    )


# -- report --------------------------------------------------------------------------------


def _median(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return statistics.median(xs) if xs else None


def aggregate(windows: Sequence[dict[str, Any]], cores: int) -> list[dict[str, Any]]:
    rows = []
    for mode in MODES:
        ws = [w for w in windows if w["mode"] == mode.key]
        if not ws:
            continue

        def med(*path: str, ws: Sequence[dict[str, Any]] = ws) -> float | None:
            def get(w: dict[str, Any]) -> Any:
                for p in path:
                    w = w[p]
                return w

            return _median(get(w) for w in ws)

        p99 = med("delay", "p99_ms")
        cpu = med("server_cpu_share")
        maxes = [w["delay"]["max_ms"] for w in ws if w["delay"]["max_ms"] is not None]
        rows.append(
            {
                "mode": mode.key,
                "label": mode.label,
                "windows": len(ws),
                "pairs": med("delay", "n"),
                "median_ms": med("delay", "median_ms"),
                "p90_ms": med("delay", "p90_ms"),
                "p99_ms": p99,
                "max_ms": max(maxes) if maxes else None,
                "p99_vs_goal": p99 / GOAL_MS if p99 is not None else None,
                "join_p99_ms": med("join_delay", "p99_ms"),
                "leave_p99_ms": med("leave_delay", "p99_ms"),
                "first_board_p99_ms": med("first_board_delay", "p99_ms"),
                "loop_lag_max_ms": max(w["server"]["loop_lag_max_ms"] for w in ws),
                "gc_max_ms": max(w["server"]["gc_max_ms"] for w in ws),
                "gc_full_collections": sum(w["server"]["gc_full_collections"] for w in ws),
                "ami_leg_median_ms": med("ami_leg", "median_ms"),
                "ami_leg_p99_ms": med("ami_leg", "p99_ms"),
                "server_cpu_share": cpu,
                "server_cpu_share_of_machine": cpu / cores if cpu is not None else None,
                "messages_per_client_s": med("messages_per_client_s"),
                "kb_per_client_s": med("kb_per_client_s"),
                "kb_sections_per_client_s": med("kb_sections_per_client_s"),
                "sections_vs_deltas": _median(
                    w["kb_sections_per_client_s"] / w["kb_per_client_s"]
                    for w in ws
                    if w["kb_sections_per_client_s"] is not None and w["kb_per_client_s"]
                ),
                "hub_snapshots_per_s": med("hub", "computed"),
                "hub_backlogs_dropped": sum(w["hub"]["dropped"] * w["wall_s"] for w in ws),
                "load_cpu_share": med("load_cpu_share"),
                "calls_in_progress": med("calls_in_progress"),
                "callers_waiting": med("callers_waiting"),
                "ami_events_per_s": med("ami_events_per_s"),
                "ami_live_events_per_s": med("ami_live_events_per_s"),
            }
        )
    return rows


def _f(v: float | None, fmt: str) -> str:
    width = re.match(r"\d*", fmt)
    return "-".rjust(int(width[0] or 0) if width else 0) if v is None else format(v, fmt)


def print_report(report: dict[str, Any]) -> None:
    m, t = report["machine"], report["traffic"]
    print(
        f"machine: {m['platform']}, {m['cores']} cores ({m['pinning']}), Python {m['python']}, "
        f"aiohttp {m['aiohttp']}"
    )
    print(
        f"traffic: {t['calls']} calls in progress (mean {t['mean_call_s']:.1f} s each, "
        f"{t['arrivals_per_s']:.2f} arrivals/s), {t['agents']} agents, one queue; "
        f"{report['wallboards']} wallboards; windows of {report['duration_s']:g} s "
        f"(no clients: {min(report['duration_s'], IDLE_MAX):g} s), median of "
        f"{report['reps']} per mode"
    )
    done = ", ".join(f"{v} {k}" for k, v in sorted(t["finished_calls"].items()))
    print(f"calls finished during the run: {done}; AMI events sent: {t['ami_events_total']:,}")
    rows = report["results"]
    ref = next((r for r in rows if r["mode"] == "push-20ms"), None)
    print()
    head = (
        f"{'mode':<30} {'median':>7} {'p90':>7} {'p99':>7} {'max':>7} {'p99/goal':>8} "
        f"{'AMI p99':>7} {'msg/s':>6} {'kB/s':>6} {'server CPU':>10} {'of 2':>5} {'vs push':>7}"
    )
    if m["cores"] != 2:
        head = head.replace(" of 2", f"of {m['cores']:>2}")
    print(head)
    print("-" * len(head))
    for r in rows:
        cpu = r["server_cpu_share"]
        vs = (
            cpu / ref["server_cpu_share"]
            if ref is not None and cpu is not None and ref["server_cpu_share"]
            else None
        )
        print(
            f"{r['label']:<30} {_f(r['median_ms'], '7.1f')} {_f(r['p90_ms'], '7.1f')} "
            f"{_f(r['p99_ms'], '7.1f')} {_f(r['max_ms'], '7.1f')} "
            f"{_f(r['p99_vs_goal'], '8.2f')} {_f(r['ami_leg_p99_ms'], '7.1f')} "
            f"{_f(r['messages_per_client_s'], '6.1f')} {_f(r['kb_per_client_s'], '6.0f')} "
            f"{_f(cpu * 100 if cpu is not None else None, '9.1f')}% "
            f"{_f(r['server_cpu_share_of_machine'] * 100 if cpu is not None else None, '4.0f')}% "
            f"{_f(vs, '7.2f')}"
        )
    print()
    print(
        "delays in ms, over every (join or leave, wallboard) pair: from writing the event to the "
        "AMI socket\nto the first message showing it; p99/goal: p99 / 100 ms. AMI p99: writing "
        "to the daemon's on_event\nalone. msg/s, kB/s: per wallboard. server CPU: the daemon's "
        "CPU time / wall time (100% = one core);\nof 2: of the machine. vs push: server CPU "
        "relative to the websocket at 20 ms."
    )
    print()
    pushed = [r for r in rows if r["kb_sections_per_client_s"] is not None]
    if pushed:
        head = f"{'mode':<30} {'deltas kB/s':>11} {'whole sections kB/s':>19} {'ratio':>6}"
        print(head)
        print("-" * len(head))
        for r in pushed:
            print(
                f"{r['label']:<30} {_f(r['kb_per_client_s'], '11.1f')} "
                f"{_f(r['kb_sections_per_client_s'], '19.1f')} "
                f"{_f(r['sections_vs_deltas'], '6.1f')}"
            )
        print()
        print(
            "per wallboard: deltas kB/s as received (the kB/s above); whole sections: what the\n"
            "same flushes would have sent as the former updates (each section that changed, "
            "whole,\nin its envelope), measured in the hub; ratio: whole sections / deltas."
        )
        print()
    head = (
        f"{'mode':<30} {'pairs':>6} {'join p99':>8} {'leave p99':>9} {'1st p99':>7} "
        f"{'lag max':>7} {'GC max':>6} {'full':>4} {'snaps/s':>7} {'dropped':>7} {'load CPU':>8} "
        f"{'calls':>5} {'waiting':>7} {'AMI ev/s':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['label']:<30} {_f(r['pairs'], '6.0f')} {_f(r['join_p99_ms'], '8.1f')} "
            f"{_f(r['leave_p99_ms'], '9.1f')} {_f(r['first_board_p99_ms'], '7.1f')} "
            f"{_f(r['loop_lag_max_ms'], '7.1f')} {_f(r['gc_max_ms'], '6.1f')} "
            f"{r['gc_full_collections']:4d} "
            f"{_f(r['hub_snapshots_per_s'], '7.1f')} "
            f"{r['hub_backlogs_dropped']:7.0f} {_f(r['load_cpu_share'] * 100, '7.0f')}% "
            f"{_f(r['calls_in_progress'], '5.0f')} {_f(r['callers_waiting'], '7.0f')} "
            f"{_f(r['ami_events_per_s'], '8.0f')}"
        )
    print()
    print(
        "pairs: per window. 1st p99: per event, the first wallboard to show it (the rest is\n"
        "fan-out, mostly the one load process reading every socket). lag max: how late a 50 ms "
        "timer ran on\nthe server's event loop, worst of all windows; GC max: the server's "
        "longest garbage collection, all\nwindows (full: how many of generation 2). "
        "snaps/s: the live hub's snapshots taken. dropped: backlogs\ndropped for a slow "
        "wallboard, all windows. load CPU: the load process (fake manager, traffic,\n"
        "wallboards), 100% = one core. calls, waiting: in progress and in the queue, mean "
        "over the window."
    )
    print_errors(report["errors"])


def print_errors(errors: Sequence[str]) -> None:
    if errors:
        print()
        print("ERRORS:")
        for e in errors:
            print(f"  {e}")


def choose_cpus(pin: bool) -> tuple[tuple[int | None, int | None], str]:
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return (None, None), "not pinned"
    return (cpus[0], cpus[1]), f"server on CPU {cpus[0]}, load on CPU {cpus[1]}"


def run_options(
    ap: argparse.ArgumentParser, *, wallboards: int, where: str = "", agents: str = ""
) -> None:
    """The options of a run: its windows, its traffic, its wallboards."""
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per window")
    ap.add_argument("--calls", type=int, default=200, help="calls in progress at once")
    ap.add_argument("--agents", type=int, default=20, help=f"agents in the queue{agents}")
    ap.add_argument(
        "--wallboards", type=int, default=wallboards, help=f"connected wallboards{where}"
    )
    ap.add_argument("--reps", type=int, default=3, help="windows per mode (median)")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="live wallboard benchmark: push against polling")
    run_options(ap, wallboards=20)
    ap.add_argument("--no-pin", action="store_true", help="do not pin the two processes")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    args.reps = max(1, args.reps)
    # The daemon logs as in production (JSON, info: a line per finished call), to nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    setup_logging("json", "info", stream=devnull)
    cpus, pinning = choose_cpus(not args.no_pin)
    started = time.monotonic()
    out = asyncio.run(serve(args, cpus))
    cores = os.cpu_count() or 1
    report = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "cores": cores,
            "pinning": pinning,
        },
        "goal_p99_ms": GOAL_MS,
        "duration_s": args.duration,
        "reps": args.reps,
        "wallboards": args.wallboards,
        "traffic": out["traffic"],
        "results": aggregate(out["windows"], cores),
        "windows": out["windows"],
        "errors": out["errors"],
        "run_s": time.monotonic() - started,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
