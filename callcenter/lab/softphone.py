"""A softphone that registers with its password: baresip, driven over its ctrl_tcp socket.

Each phone is one ``baresip`` process with a config folder of its own (the account with
``auth_pass``, ``ctrl_tcp`` on a free loopback port, ``aufile`` as the microphone and
``aubridge`` as the speaker, so no sound card is needed). The phone never answers by
itself (``answermode=manual``): this side hears ``CALL_INCOMING`` on the control socket
and sends ``accept`` after the delay it is told, as a person would. With ``record_dir``
the ``sndfile`` module writes what the phone hears (``dump-*-dec.wav``) there.

The control protocol is netstrings of JSON: ``{"command": ..., "params": ..., "token":
...}`` in, responses (``"response": true``) and events (``"event": true``) out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BARESIP = "baresip"
MODULES = Path("/usr/lib/baresip/modules")
RATE = 8000  # G.711: what aufile must feed (it refuses another rate)


class SoftphoneError(RuntimeError):
    """baresip is missing, would not start, or its control socket failed."""


@dataclass(frozen=True)
class Account:
    """One SIP account on the PBX at ``host:port``: an agent's phone that registers with
    its password, or (``password`` empty) a caller's phone that only places calls from
    ``listen`` (the lab's trunk address)."""

    user: str
    password: str = field(repr=False)
    host: str
    port: int
    listen: str = "127.0.0.1"

    def line(self) -> str:
        common = ";answermode=manual;audio_codecs=PCMU,PCMA;mwi=no;ptime=20"
        if not self.password:
            return f"<sip:{self.user}@{self.listen}>{common};regint=0\n"
        # regint: re-register often enough that a restarted lab sees the phone again soon.
        return (
            f"<sip:{self.user}@{self.host}:{self.port}>;auth_pass={self.password}"
            f"{common};regint=60\n"
        )


def write_tone(path: Path, seconds: float, freq: float = 0.0, level: float = 0.05) -> Path:
    """An 8 kHz mono 16-bit wav: a quiet tone (the agent's voice), or silence at freq 0."""
    n = int(seconds * RATE)
    amp = int(32767 * level)
    frames = b"".join(
        struct.pack("<h", int(amp * math.sin(2 * math.pi * freq * i / RATE)) if freq else 0)
        for i in range(n)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def _config(listen: str, ctrl_port: int, source: Path, record_dir: Path | None) -> str:
    modules = ["g711.so", "aufile.so", "aubridge.so"]
    if record_dir is not None:
        modules.append("sndfile.so")
    lines = [
        "poll_method epoll",
        f"sip_listen {listen}:0",
        "call_max_calls 2",
        f"audio_source aufile,{source}",
        # aubridge is a device in memory: what the phone plays goes nowhere.
        "audio_player aubridge,speaker",
        "audio_alert aubridge,speaker",
        f"module_path {MODULES}",
        *(f"module {m}" for m in modules),
        "module_tmp account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
        "rtp_stats no",
    ]
    if record_dir is not None:
        lines.append(f"snd_path {record_dir}")
    return "\n".join(lines) + "\n"


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def encode_netstring(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return str(len(body)).encode() + b":" + body + b","


async def read_netstring(reader: asyncio.StreamReader) -> dict[str, Any]:
    head = await reader.readuntil(b":")
    size = int(head[:-1])
    body = await reader.readexactly(size + 1)
    if body[-1:] != b",":
        raise SoftphoneError("ctrl_tcp: a netstring without its closing comma")
    data = json.loads(body[:-1])
    if not isinstance(data, dict):
        raise SoftphoneError("ctrl_tcp: a message that is not a JSON object")
    return data


# A delay before answering, in seconds, asked once per ringing call.
AnswerDelay = Callable[[], float]


class Softphone:
    """One baresip phone; ``start()`` launches it, ``registered`` tells its state."""

    def __init__(
        self,
        account: Account,
        workdir: Path,
        *,
        answer_delay: AnswerDelay | None = lambda: 1.0,
        talk_time: AnswerDelay | None = None,
        source: Path | None = None,
        record_dir: Path | None = None,
    ) -> None:
        self.account = account
        self.workdir = workdir
        # None: the phone rings on and is never answered (tests answer it themselves).
        self.answer_delay = answer_delay
        # Seconds the agent talks before hanging up, asked once per answered call; None:
        # the caller ends every call.
        self.talk_time = talk_time
        self._call_id = ""
        self.source = source
        self.record_dir = record_dir
        self.events: list[dict[str, Any]] = []
        self.registered = asyncio.Event()
        self.register_failed = asyncio.Event()
        self.answered = 0
        self.in_call = False
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._token = 0
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Event()

    @property
    def user(self) -> str:
        return self.account.user

    async def start(self, timeout: float = 10.0) -> None:
        if shutil.which(BARESIP) is None:
            raise SoftphoneError("baresip not found: run scripts/install-system-deps.sh first")
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = self.source or write_tone(self.workdir / "voice.wav", 30.0)
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
        port = _free_tcp_port()
        (self.workdir / "config").write_text(
            _config(self.account.listen, port, source, self.record_dir)
        )
        accounts = self.workdir / "accounts"
        # The password is only in this file (mode 0600), never on a command line or in a log.
        accounts.touch(mode=0o600)
        accounts.chmod(0o600)
        accounts.write_text(self.account.line())
        (self.workdir / "contacts").write_text("")
        log = (self.workdir / "baresip.log").open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            BARESIP, "-f", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        reader = await self._connect(port, timeout)
        self._spawn(self._read(reader))
        await self.check_registration()

    async def check_registration(self) -> str:
        """Ask baresip how its registration stands: "OK", "ERR" or "" (not answered yet).

        Needed once at start: baresip may have registered (or been refused) before the
        control socket was up, and that event went to nobody."""
        data = str((await self.command("reginfo")).get("data", ""))
        state = "OK" if "OK" in data else "ERR" if "ERR" in data else ""
        if state == "OK":
            self.register_failed.clear()
            self.registered.set()
        elif state == "ERR":
            self.registered.clear()
            self.register_failed.set()
        return state

    async def _connect(self, port: int, timeout: float) -> asyncio.StreamReader:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise SoftphoneError(
                    f"baresip for {self.user} exited ({self._proc.returncode}); "
                    f"see {self.workdir / 'baresip.log'}"
                )
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
                return reader
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise SoftphoneError(
                        f"baresip for {self.user}: no control socket in {timeout:.0f}s"
                    ) from None
                await asyncio.sleep(0.1)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                msg = await read_netstring(reader)
                if msg.get("response"):
                    waiter = self._waiters.pop(str(msg.get("token", "")), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(msg)
                    continue
                if msg.get("event"):
                    self._on_event(msg)

    def _on_event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        kind = msg.get("type")
        if kind == "REGISTER_OK":
            self.register_failed.clear()
            self.registered.set()
        elif kind == "REGISTER_FAIL":
            self.registered.clear()
            self.register_failed.set()
        elif kind == "CALL_INCOMING" and self.answer_delay is not None:
            self._spawn(self._answer_after(self.answer_delay()))
        elif kind == "CALL_ESTABLISHED":
            self.in_call = True
            self.answered += 1
            self._call_id = str(msg.get("id", ""))
            if self.talk_time is not None:
                self._spawn(self._hang_up_after(self._call_id, self.talk_time()))
        elif kind == "CALL_CLOSED":
            self.in_call = False
            self._call_id = ""
        self._changed.set()

    async def _answer_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.command("accept")

    async def _hang_up_after(self, call_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        # Only the call it was meant for: the caller may have hung up, and another come.
        if self.in_call and self._call_id == call_id:
            await self.command("hangup")

    async def command(self, name: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one ctrl_tcp command and wait for its response."""
        if self._writer is None:
            raise SoftphoneError(f"baresip for {self.user} is not started")
        self._token += 1
        token = str(self._token)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[token] = waiter
        self._writer.write(encode_netstring({"command": name, "params": params, "token": token}))
        await self._writer.drain()
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.pop(token, None)

    async def wait_registered(self, timeout: float) -> None:
        """Registered within ``timeout``, or SoftphoneError saying how it failed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.registered.wait(), timeout)
        if not self.registered.is_set():
            failed = [e.get("param", "") for e in self.events if e.get("type") == "REGISTER_FAIL"]
            why = failed[-1] if failed else f"no answer in {timeout:.0f}s"
            raise SoftphoneError(f"{self.user} did not register: {why}")

    async def dial(self, number: str) -> None:
        """Call ``number`` at the PBX (a caller's phone)."""
        await self.command("dial", f"sip:{number}@{self.account.host}:{self.account.port}")

    async def hangup(self) -> None:
        await self.command("hangup")

    async def wait_event(self, kind: str, timeout: float, after: int = 0) -> dict[str, Any]:
        """The first event of ``kind`` from ``events[after]`` on, waiting up to ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for msg in self.events[after:]:
                if msg.get("type") == kind:
                    return msg
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"{self.user}: no {kind} in {timeout:.0f}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def stop(self, timeout: float = 5.0) -> None:
        """Unregister and quit; killed if it does not go in ``timeout``."""
        for task in list(self._tasks):
            task.cancel()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(encode_netstring({"command": "quit", "token": "quit"}))
                await self._writer.drain()
            self._writer.close()
            self._writer = None
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


def recordings(record_dir: Path) -> list[Path]:
    """The wav files of what the phone heard (sndfile's decoder-side dumps), oldest first."""
    found = [p for p in record_dir.glob("dump-*-dec.wav") if p.is_file()]
    return sorted(found, key=os.path.getmtime)
