"""AMIClient against a small fake manager on 127.0.0.1: login, actions, events, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.ami import (
    AMIActionError,
    AMIAuthenticationError,
    AMIClient,
    AMIConnectionError,
    AMIFramer,
    AMIInjectionError,
    AMITimeoutError,
    FrameError,
    Message,
)
from callcenter.ami.client import backoff_delay
from callcenter.ami.protocol import HeaderValue
from callcenter.ami.settings import AMIConfig, AMITarget

USER = "callcenter"
SECRET = "s3cret-Tq81-never-logged"
BANNER = b"Asterisk Call Manager/9.0.0\r\n"

Script = Callable[["FakeConn", Message], Awaitable[None]]


def frame(headers: Mapping[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


class FakeConn:
    """One client connection as the fake manager sees it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.received: list[Message] = []
        self.closed = asyncio.Event()

    @property
    def actions(self) -> list[str]:
        return [m.get("Action", "?") for m in self.received]

    def send(self, headers: Mapping[str, str]) -> None:
        self.send_raw(frame(headers))

    def send_raw(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def reply(self, msg: Message, headers: Mapping[str, str]) -> None:
        self.send({**headers, "ActionID": msg.get("ActionID", "")})

    async def drop(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class FakeManager:
    """Just enough of an Asterisk manager: banner, Login, scripted actions, pushed events."""

    def __init__(self, *, secret: str = SECRET, banner: bytes = BANNER) -> None:
        self.username = USER
        self.secret = secret
        self.banner = banner
        self.script: dict[str, Script] = {}
        self.answer_ping = True
        self.silent = False  # read everything, answer nothing (not even Login)
        self.connections: list[FakeConn] = []
        self.bad_frames: list[FrameError] = []  # anything the client sent that is not AMI
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def conn(self) -> FakeConn:
        return self.connections[-1]

    @property
    def received(self) -> list[Message]:
        return [m for c in self.connections for m in c.received]

    async def push(self, headers: Mapping[str, str]) -> None:
        self.conn.send(headers)
        await self.conn.writer.drain()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            await conn.drop()
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 2)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = FakeConn(writer)
        self.connections.append(conn)
        framer = AMIFramer(expect_banner=False)
        try:
            writer.write(self.banner)
            while data := await reader.read(65536):
                for msg in framer.feed(data):
                    if isinstance(msg, FrameError):
                        self.bad_frames.append(msg)
                        continue
                    conn.received.append(msg)
                    if not self.silent:
                        await self._answer(conn, msg)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            conn.closed.set()
            await conn.drop()

    async def _answer(self, conn: FakeConn, msg: Message) -> None:
        action = msg.get("Action", "")
        if action == "Login":
            if msg.get("Username") == self.username and msg.get("Secret") == self.secret:
                conn.reply(msg, {"Response": "Success", "Message": "Authentication accepted"})
            else:
                conn.reply(msg, {"Response": "Error", "Message": "Authentication failed"})
        elif action in self.script:
            await self.script[action](conn, msg)
        elif action == "Ping":
            if self.answer_ping:
                conn.reply(msg, {"Response": "Success", "Ping": "Pong", "Timestamp": "1.0"})
        else:
            conn.reply(msg, {"Response": "Success", "Message": f"{action} done"})


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def silent_script(conn: FakeConn, msg: Message) -> None:
    """An action the manager never answers."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


ClientFactory = Callable[..., AMIClient]


@pytest.fixture
async def manager() -> AsyncIterator[FakeManager]:
    m = FakeManager()
    await m.start()
    yield m
    await m.stop()
    assert m.bad_frames == []


@pytest.fixture
async def make_client(manager: FakeManager) -> AsyncIterator[ClientFactory]:
    clients: list[AMIClient] = []

    def make(*, port: int | None = None, secret: str = SECRET, **kw: Any) -> AMIClient:
        options: dict[str, Any] = {
            "connect_timeout": 1.0,
            "action_timeout": 1.0,
            "ping_interval": 60.0,
            "reconnect_min": 0.02,
            "reconnect_max": 0.05,
            "action_id_prefix": "t",
        }
        options.update(kw)
        tuned = {k: options.pop(k) for k in list(options) if k in AMIConfig.model_fields}
        target = AMITarget("127.0.0.1", port or manager.port, USER, secret)
        # model_copy: limits below what the file allows (a 512-byte frame) are tested too.
        client = AMIClient(target, AMIConfig().model_copy(update=tuned), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop reports through its exception handler (e.g. lost task errors)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


def ami_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-") and not t.done()]


# -- login ------------------------------------------------------------------------------


async def test_login_success(manager: FakeManager, make_client: ClientFactory) -> None:
    client = make_client()
    await client.start()
    assert client.connected.is_set()
    assert client.connects == 1
    assert client.banner == "Asterisk Call Manager/9.0.0"
    (login,) = manager.received
    assert login["Action"] == "Login"
    assert login["Username"] == USER
    assert login["Secret"] == SECRET
    assert login["Events"] == "on"
    assert login["ActionID"].startswith("t-")
    assert SECRET not in repr(client)
    assert USER in repr(client)


async def test_login_with_wrong_secret_raises_and_never_shows_the_secret(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    wrong = "wrong-Zq9-secret"
    client = make_client(secret=wrong)
    with structlog.testing.capture_logs() as logs, pytest.raises(AMIAuthenticationError) as info:
        await asyncio.wait_for(client.start(), 3)
    text = str(info.value)
    assert repr(USER) in text
    assert f"127.0.0.1:{manager.port}" in text
    assert wrong not in text
    assert wrong not in repr(info.value.__context__)
    assert wrong not in repr(logs)
    assert any(e["event"] == "ami.login_refused" for e in logs)
    assert isinstance(info.value, AMIConnectionError)
    assert isinstance(info.value, ConnectionError)
    assert manager.received[0]["Secret"] == wrong  # it was really sent, and refused
    assert not client.connected.is_set()
    assert client.connects == 0
    # A refused login is a configuration error: no retry loop behind the caller's back.
    await asyncio.sleep(0.1)
    assert len(manager.connections) == 1
    await eventually(lambda: manager.conn.closed.is_set())


async def test_silent_manager_at_login_is_retried_until_it_answers(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    manager.silent = True
    client = make_client(connect_timeout=0.1)
    start = asyncio.create_task(client.start())
    await eventually(lambda: len(manager.connections) >= 2)
    assert not start.done()
    assert manager.connections[0].actions == ["Login"]  # sent, never answered
    assert manager.connections[0].closed.is_set()  # given up on, then retried
    manager.silent = False
    await asyncio.wait_for(start, 3)
    assert client.connects == 1
    assert client.connected.is_set()


async def test_unexpected_banner_counts_a_bad_frame_but_login_proceeds(
    make_client: ClientFactory,
) -> None:
    odd = FakeManager(banner=b"Welcome to a proxy\r\n")
    await odd.start()
    try:
        client = make_client(port=odd.port)
        await client.start()
        assert client.bad_frames == 1
        assert client.banner == "Welcome to a proxy"
        await client.close()
    finally:
        await odd.stop()


@pytest.mark.parametrize("extra", [0, 73, 74, 900_000])  # 100 characters, then 101
async def test_the_banner_is_cut_short_in_the_log(make_client: ClientFactory, extra: int) -> None:
    # Issue 11: the whole banner was logged, up to max_frame_bytes (1 MiB) per connect.
    head = "Asterisk Call Manager/9.0.0"
    banner = head + "x" * extra
    long_one = FakeManager(banner=banner.encode() + b"\r\n")
    await long_one.start()
    try:
        client = make_client(port=long_one.port)
        with structlog.testing.capture_logs() as logs:
            await client.start()
        assert client.banner == banner  # kept whole on the client
        (connected,) = (e for e in logs if e["event"] == "ami.connected")
        logged = connected["banner"]
        assert len(logged) <= 100
        if len(banner) <= 100:
            assert logged == banner
        else:
            assert logged == banner[:99] + "\u2026"
        await client.close()
    finally:
        await long_one.stop()


async def test_action_before_start_is_refused(make_client: ClientFactory) -> None:
    client = make_client()
    with pytest.raises(AMIConnectionError, match="not connected"):
        await client.action("Ping")


# -- actions ----------------------------------------------------------------------------


async def test_concurrent_actions_are_matched_by_action_id_not_by_order(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    held: list[Message] = []
    answered: list[str] = []

    async def pair(conn: FakeConn, msg: Message) -> None:
        held.append(msg)
        if len(held) == 2:
            for m in reversed(held):  # the second one first
                answered.append(m["Tag"])
                conn.reply(m, {"Response": "Success", "Tag": m["Tag"]})

    manager.script["Pair"] = pair
    client = make_client()
    await client.start()
    first, second = await asyncio.wait_for(
        asyncio.gather(
            client.action("Pair", {"Tag": "first"}), client.action("Pair", {"Tag": "second"})
        ),
        3,
    )
    assert answered == ["second", "first"]
    assert first["Tag"] == "first"
    assert second["Tag"] == "second"
    assert first.action_id == held[0]["ActionID"]
    assert second.action_id == held[1]["ActionID"]
    assert first.action_id != second.action_id


async def test_many_concurrent_actions_answered_out_of_order(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    held: list[Message] = []

    async def batch(conn: FakeConn, msg: Message) -> None:
        held.append(msg)
        if len(held) == 20:
            for m in held[1::2] + held[0::2]:
                conn.reply(m, {"Response": "Success", "N": m["N"]})

    manager.script["Batch"] = batch
    client = make_client()
    await client.start()
    results = await asyncio.wait_for(
        asyncio.gather(*(client.action("Batch", {"N": n}) for n in range(20))), 3
    )
    assert [r["N"] for r in results] == [str(n) for n in range(20)]


async def test_response_error_raises_action_error(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    async def refuse(conn: FakeConn, msg: Message) -> None:
        conn.reply(msg, {"Response": "Error", "Message": "Extension does not exist."})

    manager.script["Originate"] = refuse
    client = make_client()
    await client.start()
    with pytest.raises(AMIActionError) as info:
        await client.action("Originate", {"Channel": "PJSIP/100", "Exten": "999"})
    assert info.value.action == "Originate"
    assert info.value.reason == "Extension does not exist."
    assert "Originate" in str(info.value)
    assert "Extension does not exist." in str(info.value)
    # The connection is fine after an error response.
    assert (await client.action("Ping"))["Ping"] == "Pong"
    assert client.connects == 1


async def test_no_response_raises_timeout(manager: FakeManager, make_client: ClientFactory) -> None:
    manager.script["Void"] = silent_script
    client = make_client(action_timeout=0.1)
    await client.start()
    t0 = time.monotonic()
    with pytest.raises(AMITimeoutError, match="Void") as info:
        await client.action("Void", timeout=0.05)
    assert time.monotonic() - t0 < 0.5
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(AMITimeoutError):
        await client.action("Void")  # the client's action_timeout
    with pytest.raises(AMITimeoutError):
        await client.action_list("Void")
    # A late answer to a timed-out action is ignored; the connection carries on.
    void = next(m for m in manager.conn.received if m.get("Action") == "Void")
    manager.conn.reply(void, {"Response": "Success", "Message": "late"})
    assert (await client.action("Ping"))["Ping"] == "Pong"
    assert client.connects == 1
    assert client.bad_frames == 0


async def test_action_list_collects_the_event_list_and_also_delivers_the_events(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    async def queue_status(conn: FakeConn, msg: Message) -> None:
        aid = msg["ActionID"]
        conn.reply(
            msg,
            {"Response": "Success", "EventList": "start", "Message": "Queue status will follow"},
        )
        conn.send({"Event": "QueueParams", "Queue": "support", "ActionID": aid})
        conn.send({"Event": "Newchannel", "Channel": "PJSIP/100-1"})  # unrelated
        conn.send({"Event": "QueueMember", "Queue": "support", "Name": "agent1", "ActionID": aid})
        conn.send({"Event": "QueueMember", "Queue": "support", "Name": "agent2", "ActionID": aid})
        conn.send({"Event": "QueueStatusComplete", "EventList": "Complete", "ActionID": aid})
        conn.send({"Event": "Hangup", "Channel": "PJSIP/100-1"})  # after the list

    manager.script["QueueStatus"] = queue_status
    seen: list[Message] = []
    client = make_client(on_event=lambda msg, _t: seen.append(msg))
    await client.start()
    result = await client.action_list("QueueStatus", {"Queue": "support"})
    assert [m.response or m.event for m in result] == [
        "Success",
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert all(m.action_id == result[0].action_id for m in result)
    assert [m.get("Name") for m in result if m.event == "QueueMember"] == ["agent1", "agent2"]
    await eventually(lambda: any(m.event == "Hangup" for m in seen))
    assert [m.event for m in seen] == [
        "QueueParams",
        "Newchannel",
        "QueueMember",
        "QueueMember",
        "QueueStatusComplete",
        "Hangup",
    ]


async def test_action_list_error_and_plain_success(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    async def refuse(conn: FakeConn, msg: Message) -> None:
        conn.reply(msg, {"Response": "Error", "Message": "Permission denied"})

    manager.script["Status"] = refuse
    client = make_client()
    await client.start()
    with pytest.raises(AMIActionError, match="Permission denied"):
        await client.action_list("Status")
    # A response without an event list is a list of just that response.
    (only,) = await client.action_list("CoreStatus")
    assert only.response == "Success"


# -- events -----------------------------------------------------------------------------


async def test_events_arrive_in_order_with_a_float_receive_time(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    seen: list[tuple[Message, float]] = []
    client = make_client(on_event=lambda msg, t: seen.append((msg, t)))
    await client.start()
    t0 = time.time()
    # Ten in one write, then twenty in writes cut at awkward places.
    manager.conn.send_raw(b"".join(frame({"Event": "Tick", "Seq": str(n)}) for n in range(10)))
    await manager.conn.writer.drain()
    rest = b"".join(
        frame({"Event": "Tick", "Seq": str(n), "CallerIDName": "山田 太郎"}) for n in range(10, 30)
    )
    for i in range(0, len(rest), 37):
        manager.conn.send_raw(rest[i : i + 37])
        await manager.conn.writer.drain()
        await asyncio.sleep(0)
    await eventually(lambda: len(seen) == 30)
    t1 = time.time()
    assert [m["Seq"] for m, _ in seen] == [str(n) for n in range(30)]
    assert all(m["CallerIDName"] == "山田 太郎" for m, _ in seen[10:])
    assert all(type(t) is float for _, t in seen)
    assert all(t0 <= t <= t1 for _, t in seen)
    assert [t for _, t in seen] == sorted(t for _, t in seen)
    assert client.bad_frames == 0


async def test_events_close_behind_a_read_come_in_one_read(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    """Interrupt coalescing: after a read, the next waits out ``read_gather``, so the
    events written meanwhile, one by one, are read (and stamped) together."""
    loop = asyncio.get_running_loop()
    seen: list[tuple[str, float, float]] = []  # (seq, receive time, when handled)
    client = make_client(
        read_gather=0.5, on_event=lambda msg, t: seen.append((msg["Seq"], t, loop.time()))
    )
    await client.start()
    await asyncio.sleep(0.6)  # the login's reads are long past
    manager.conn.send_raw(frame({"Event": "Tick", "Seq": "0"}))
    await eventually(lambda: len(seen) == 1)
    for n in range(1, 6):  # five writes, each its own TCP segment
        manager.conn.send_raw(frame({"Event": "Tick", "Seq": str(n)}))
        await manager.conn.writer.drain()
        await asyncio.sleep(0.002)
    await eventually(lambda: len(seen) == 6)
    assert [s for s, _, _ in seen] == [str(n) for n in range(6)]
    # One read for the five, and not before the gathering time was over.
    assert len({t for _, t, _ in seen[1:]}) == 1
    assert seen[1][2] - seen[0][2] >= 0.5 - 0.01


async def test_junk_frame_between_events_is_counted_and_the_connection_survives(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    seen: list[str] = []
    client = make_client(on_event=lambda msg, _t: seen.append(msg["Seq"]))
    await client.start()
    manager.conn.send_raw(
        frame({"Event": "A", "Seq": "1"})
        + b"this is not a header line\r\n\r\n"
        + frame({"Event": "B", "Seq": "2"})
    )
    await eventually(lambda: len(seen) == 2)
    assert client.bad_frames == 1
    await manager.push({"Event": "C", "Seq": "3"})
    await eventually(lambda: len(seen) == 3)
    assert seen == ["1", "2", "3"]
    assert client.bad_frames == 1
    assert client.connects == 1
    assert len(manager.connections) == 1
    assert client.connected.is_set()
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_oversized_frame_is_skipped_and_the_connection_survives(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    seen: list[str] = []
    client = make_client(on_event=lambda msg, _t: seen.append(msg["Event"]), max_frame_bytes=512)
    await client.start()
    manager.conn.send_raw(frame({"Event": "Huge", "Data": "x" * 5000}) + frame({"Event": "After"}))
    await eventually(lambda: seen == ["After"])
    assert client.bad_frames == 1
    assert client.connects == 1


# -- connection loss and reconnect ------------------------------------------------------


async def test_dropped_connection_fails_pending_actions_and_reconnects(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    async def hang_up(conn: FakeConn, msg: Message) -> None:
        await conn.drop()

    manager.script["Hold"] = silent_script
    manager.script["HangUp"] = hang_up
    on_connect_calls: list[int] = []

    async def on_connect(c: AMIClient) -> None:
        on_connect_calls.append(c.connects)

    client = make_client(on_connect=on_connect, action_timeout=5.0)
    await client.start()
    await eventually(lambda: on_connect_calls == [1])
    pending = asyncio.create_task(client.action("Hold"))
    await eventually(lambda: manager.conn.actions[-1:] == ["Hold"])
    t0 = time.monotonic()
    with pytest.raises(AMIConnectionError) as info:
        await client.action("HangUp")
    with pytest.raises(AMIConnectionError):
        await pending
    assert not isinstance(info.value, AMITimeoutError)
    assert time.monotonic() - t0 < 2  # failed at once, not at the 5 s timeout
    await eventually(lambda: client.connects == 2)
    await eventually(lambda: on_connect_calls == [1, 2])
    assert client.connected.is_set()
    assert len(manager.connections) == 2
    assert manager.connections[0].closed.is_set()
    assert manager.conn.actions[0] == "Login"
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_server_closing_the_connection_reconnects(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    seen: list[str] = []
    client = make_client(on_event=lambda msg, _t: seen.append(msg["Event"]))
    await client.start()

    async def reconnected(count: int) -> None:
        await eventually(lambda: client.connects == count and client.connected.is_set())

    for n in range(3):
        await manager.push({"Event": f"Before{n}"})
        await manager.conn.drop()
        await reconnected(n + 2)
    await manager.push({"Event": "After"})
    await eventually(lambda: "After" in seen)
    assert seen == ["Before0", "Before1", "Before2", "After"]
    assert len(manager.connections) == 4


async def test_unanswered_ping_drops_and_reconnects(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    manager.answer_ping = False
    client = make_client(ping_interval=0.1, action_timeout=1.0)
    await client.start()
    first = manager.conn
    await eventually(lambda: client.connects >= 2)
    manager.answer_ping = True
    assert "Ping" in first.actions
    await eventually(first.closed.is_set)
    await eventually(client.connected.is_set)
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_answered_pings_keep_the_connection(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    client = make_client(ping_interval=0.03)
    await client.start()
    await eventually(lambda: manager.conn.actions.count("Ping") >= 5)
    assert client.connects == 1
    assert len(manager.connections) == 1
    assert client.connected.is_set()


async def test_ping_answered_with_an_error_still_proves_the_connection_alive(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    async def refuse(conn: FakeConn, msg: Message) -> None:
        conn.reply(msg, {"Response": "Error", "Message": "Permission denied"})

    manager.script["Ping"] = refuse
    client = make_client(ping_interval=0.03)
    await client.start()
    await eventually(lambda: manager.conn.actions.count("Ping") >= 4)
    await asyncio.sleep(0.05)
    assert client.connected.is_set()
    assert client.connects == 1
    assert (await client.action("CoreStatus")).response == "Success"


async def test_manager_down_at_start_is_retried_until_it_comes_up() -> None:
    port = free_port()
    client = AMIClient(
        AMITarget("127.0.0.1", port, USER, SECRET),
        AMIConfig(connect_timeout=0.5, reconnect_min=0.02, reconnect_max=0.05),
    )
    later = FakeManager()
    try:
        with structlog.testing.capture_logs() as logs:
            start = asyncio.create_task(client.start())
            await asyncio.sleep(0.2)
            assert not start.done()
            failures = [e for e in logs if e["event"] == "ami.connect_failed"]
            assert len(failures) >= 2
            await later.start(port)
            await asyncio.wait_for(start, 3)
        assert client.connects == 1
        assert client.connected.is_set()
        assert later.received[0]["Action"] == "Login"
    finally:
        await client.close()
        await later.stop()


async def test_a_crashing_event_handler_is_reported_not_lost(
    manager: FakeManager, make_client: ClientFactory, loop_errors: list[dict[str, Any]]
) -> None:
    def on_event(msg: Message, _t: float) -> None:
        if msg.event == "Boom":
            raise RuntimeError("handler bug")

    client = make_client(on_event=on_event)
    await client.start()
    with structlog.testing.capture_logs() as logs:
        await manager.push({"Event": "Boom"})
        await eventually(lambda: any("handler bug" in str(e) for e in logs))
    await eventually(client.connected.is_set)
    assert (await client.action("Ping"))["Ping"] == "Pong"
    # The handler's bug cost neither the connection nor the events after it.
    assert client.connects == 1
    assert client.handler_errors == 1
    await client.close()
    gc.collect()
    assert [c for c in loop_errors if "exception" in c] == []


async def test_events_carrying_a_response_header_are_events(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    """OriginateResponse has both Event and Response headers: it is an event."""
    seen: list[Message] = []
    client = make_client(on_event=lambda m, _t: seen.append(m))
    await client.start()
    await manager.push(
        {"Event": "OriginateResponse", "Response": "Success", "ActionID": "x-1", "Uniqueid": "u1"}
    )
    await eventually(lambda: len(seen) == 1)
    assert seen[0]["Response"] == "Success"
    assert seen[0].event == "OriginateResponse"
    await client.close()


async def test_a_crashing_on_connect_hook_is_reported_not_lost(
    manager: FakeManager, make_client: ClientFactory, loop_errors: list[dict[str, Any]]
) -> None:
    async def on_connect(_c: AMIClient) -> None:
        raise RuntimeError("resync bug")

    client = make_client(on_connect=on_connect)
    with structlog.testing.capture_logs() as logs:
        await client.start()
        await eventually(lambda: any("resync bug" in str(e) for e in logs))
    assert client.connected.is_set()
    await client.close()
    gc.collect()
    assert [c for c in loop_errors if "exception" in c] == []


# -- close ------------------------------------------------------------------------------


async def test_close_fails_pending_actions_and_ends_every_task(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    manager.script["Hold"] = silent_script
    blocked = asyncio.Event()

    async def on_connect(_c: AMIClient) -> None:
        blocked.set()
        await asyncio.Event().wait()  # a resync that never finishes

    client = make_client(on_connect=on_connect, ping_interval=0.05)
    await client.start()
    await blocked.wait()
    pending = asyncio.create_task(client.action("Hold", timeout=5))
    await eventually(lambda: "Hold" in manager.conn.actions)
    assert ami_tasks()  # supervisor, reader, pinger, resync
    await asyncio.wait_for(client.close(), 2)
    with pytest.raises(AMIConnectionError):
        await pending
    assert ami_tasks() == []
    assert not client.connected.is_set()
    await eventually(manager.conn.closed.is_set)
    with pytest.raises(AMIConnectionError):
        await client.action("Ping")
    await client.close()  # twice is harmless


async def test_close_while_start_waits_for_a_down_manager(make_client: ClientFactory) -> None:
    client = make_client(port=free_port())
    start = asyncio.create_task(client.start())
    await asyncio.sleep(0.1)
    assert not start.done()
    await asyncio.wait_for(client.close(), 2)
    try:
        with pytest.raises(AMIConnectionError):
            await asyncio.wait_for(start, 1)
    finally:
        start.cancel()
        with contextlib.suppress(BaseException):
            await start
    assert ami_tasks() == []


async def test_close_during_backoff_after_a_drop(
    manager: FakeManager, make_client: ClientFactory
) -> None:
    client = make_client(reconnect_min=5.0, reconnect_max=5.0)
    await client.start()
    await manager.conn.drop()
    await eventually(lambda: not client.connected.is_set())
    await asyncio.wait_for(client.close(), 1)
    assert ami_tasks() == []


# -- injection --------------------------------------------------------------------------

INJECTIONS: list[tuple[str, Mapping[str, HeaderValue]]] = [
    ("Originate\r\nAction: Command", {}),
    ("Originate", {"Channel": "PJSIP/100\r\nAction: Command\r\nCommand: core stop now"}),
    ("Originate", {"Channel": "PJSIP/100\nAction: Command"}),
    ("Originate", {"Variable": ["A=1", "B=2\r\nAction: Logoff"]}),
    ("Originate", {"Bad\r\nName": "x"}),
    ("Originate", {"ActionID": "spoofed"}),
    ("Originate", {"Action": "Command"}),
    ("Originate", {"Chan:nel": "x"}),
]


@pytest.mark.parametrize(("action", "headers"), INJECTIONS)
async def test_injection_is_refused_before_anything_is_sent(
    manager: FakeManager,
    make_client: ClientFactory,
    action: str,
    headers: Mapping[str, HeaderValue],
) -> None:
    client = make_client()
    await client.start()
    with pytest.raises(AMIInjectionError):
        await client.action(action, headers)
    with pytest.raises(AMIInjectionError):
        await client.action_list(action, headers)
    # TCP keeps order: once the Ping is answered, anything sent before it has arrived.
    assert (await client.action("Ping"))["Ping"] == "Pong"
    assert manager.conn.actions == ["Login", "Ping"]
    assert client.connects == 1


# -- backoff ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.5),  # half of 0.5 is below the minimum: the minimum
        (0, 0.999, 0.5),
        (1, 0.0, 0.5),
        (1, 1.0, 1.0),
        (2, 0.0, 1.0),
        (2, 0.5, 1.5),
        (2, 1.0, 2.0),
        (3, 1.0, 4.0),
        (4, 1.0, 8.0),
        (5, 1.0, 16.0),
        (6, 1.0, 30.0),  # 32 capped
        (6, 0.0, 15.0),
        (10, 0.5, 22.5),
        (100, 1.0, 30.0),
        (2000, 1.0, 30.0),  # hours of outage must not overflow
        (100_000, 0.0, 15.0),
    ],
)
def test_backoff_delay_table(attempt: int, rand: float, expected: float) -> None:
    assert backoff_delay(attempt, 0.5, 30.0, rand=lambda: rand) == pytest.approx(expected)


def test_backoff_delay_grows_then_caps() -> None:
    delays = [backoff_delay(n, 0.5, 30.0, rand=lambda: 1.0) for n in range(12)]
    assert delays[:7] == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0])
    assert delays == sorted(delays)
    assert set(delays[6:]) == {30.0}


@settings(database=None)
@given(
    attempt=st.integers(min_value=0, max_value=10**6),
    rand=st.floats(min_value=0.0, max_value=1.0),
    low=st.floats(min_value=0.001, max_value=10.0),
    factor=st.floats(min_value=1.0, max_value=1000.0),
)
def test_backoff_delay_stays_within_bounds(
    attempt: int, rand: float, low: float, factor: float
) -> None:
    high = low * factor
    delay = backoff_delay(attempt, low, high, rand=lambda: rand)
    assert low <= delay <= high


def test_backoff_delay_uses_random_by_default() -> None:
    delays = {backoff_delay(8, 0.5, 30.0) for _ in range(50)}
    assert len(delays) > 1
    assert all(15.0 <= d <= 30.0 for d in delays)
