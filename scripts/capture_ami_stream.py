#!/usr/bin/env python3
"""Record the raw AMI byte stream of a lab Asterisk under a call-centre traffic mix.

Starts a private lab Asterisk (in a temporary folder), logs in over a plain asyncio
socket with ``Events: on``, drives calls with sipp, and writes every byte the AMI
socket sent, unchanged, to OUTPUT: the banner line, the login response, every event,
the responses to the few actions sent during the run (Ping, QueueStatus) and the
final ``Response: Goodbye``.

Traffic: agent phones are sipp UAS instances (each rings for its own time, then
answers). Callers come in waves from the trunk address. Each wave first sends a
burst of "patient" callers who talk for a few seconds; then, while the agents are
mostly busy, a few "impatient" callers who hang up after about two seconds, which
is while they are still queued when every agent is taken. Display names mix Japanese
and ASCII, so the stream holds multi-byte UTF-8 in CallerIDName/ConnectedLineName.

The script stops by itself (a wall-clock limit guards every wait) and always stops
the sipp processes and the lab it started.

Usage: .venv/bin/python scripts/capture_ami_stream.py tests/fixtures/ami/lab_traffic.raw
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from callcenter.ami.protocol import AMIFramer, FrameError, Message
from callcenter.config import Config
from callcenter.dialplan.settings import AgentConfig, QueueConfig
from callcenter.lab import Lab
from callcenter.lab.lab import LabState

REPO = Path(__file__).resolve().parents[1]
SIPP_DIR = REPO / "tests" / "sipp"
TRUNK_IP = "127.0.0.2"
AGENT_IP = "127.0.0.1"

# (number, display name): about two thirds Japanese, the rest ASCII.
CALLERS: tuple[tuple[str, str], ...] = (
    ("0312345678", "山田 太郎"),
    ("09011112222", "John Smith"),
    ("0622223333", "佐藤 花子"),
    ("08033334444", "鈴木 一郎"),
    ("0451234567", "Alice Brown"),
    ("0924445555", "高橋 美咲"),
    ("07055556666", "田中 健太"),
    ("0112223344", "Robert Lee"),
    ("0526667777", "渡辺 さくら"),
    ("09077778888", "株式会社テスト 受付"),
    ("0338889999", "Maria Garcia"),
    ("0751239876", "伊藤 翔"),
)


@dataclass(frozen=True)
class Wave:
    patient: int  # callers who stay long enough to reach an agent
    impatient: int  # callers who hang up after ~2 s (abandon when all agents are busy)
    talk_ms: int  # patient callers' call length, from the queue's Answer()


def plan_waves(total_calls: int, agents: int, rng: random.Random) -> list[Wave]:
    waves: list[Wave] = []
    left = total_calls
    while left > 0:
        # Usually fill most or all agents; now and then one caller more than agents.
        patient = rng.choice([agents - 1, agents, agents, agents, agents + 1])
        impatient = rng.choice([0, 1, 2, 2, 3, 3])
        patient = max(1, min(patient, left))
        impatient = min(impatient, left - patient)
        waves.append(Wave(patient, impatient, rng.choice([4000, 5000, 6000])))
        left -= patient + impatient
    return waves


def free_udp_port(exclude: set[int]) -> int:
    """A UDP port free on the loopback addresses, with port+2 free too (sipp's media)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port in exclude or port + 2 in exclude or port > 65000:
            continue
        ok = True
        for ip in (AGENT_IP, TRUNK_IP):
            for p in (port, port + 2):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    try:
                        s.bind((ip, p))
                    except OSError:
                        ok = False
        if ok:
            exclude.update({port, port + 2})
            return port
    raise RuntimeError("no free UDP port")


class Recorder:
    """Reads the AMI socket, keeps every byte, and watches the frames as they pass."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.data = bytearray()
        self.framer = AMIFramer()
        self.events: Counter[str] = Counter()
        self.responses: dict[str, Message] = {}
        self.bad_frames = 0
        self.eof = asyncio.Event()
        self._seq = 0

    async def run(self) -> None:
        try:
            while True:
                chunk = await self.reader.read(1 << 16)
                if not chunk:
                    return
                self.data += chunk
                for item in self.framer.feed(chunk):
                    if isinstance(item, FrameError):
                        self.bad_frames += 1
                    elif item.event is not None:
                        self.events[item.event] += 1
                    elif item.action_id is not None:
                        self.responses[item.action_id] = item
        finally:
            self.eof.set()

    async def send(self, action: str, **headers: str) -> str:
        self._seq += 1
        action_id = f"capture-{self._seq}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        return action_id

    async def wait_response(self, action_id: str) -> Message:
        while action_id not in self.responses:
            if self.eof.is_set():
                raise RuntimeError(f"AMI connection closed before the response to {action_id}")
            await asyncio.sleep(0.02)
        return self.responses[action_id]


class Procs:
    """Every process this script starts, so each one is stopped at the end."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("wb")
        self._logs.append(log)
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.logdir,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in self._logs:
            log.close()


def sipp_caller(csv: Path, sip: int, local: int, media: int, calls: int, talk_ms: int) -> list[str]:
    return [
        "sipp",
        "-sf",
        str(SIPP_DIR / "caller.xml"),
        "-inf",
        str(csv),
        "-i",
        TRUNK_IP,
        "-p",
        str(local),
        "-mp",
        str(media),
        "-s",
        "1000",
        "-d",
        str(talk_ms),
        "-m",
        str(calls),
        "-r",
        str(calls),
        "-rp",
        "600",
        "-nostdin",
        "-timeout",
        "60s",
        f"127.0.0.1:{sip}",
    ]


async def drive(
    lab: Lab,
    st: LabState,
    procs: Procs,
    work: Path,
    waves: list[Wave],
    agents: int,
    deadline: float,
) -> Recorder:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", st.ami_port), 5)
    rec = Recorder(reader, writer)
    reader_task = asyncio.create_task(rec.run())
    login = await rec.send("Login", Username=st.ami_username, Secret=st.ami_secret, Events="on")
    async with asyncio.timeout(10):
        resp = await rec.wait_response(login)
    if resp.response != "Success":
        raise RuntimeError(f"AMI login refused: {resp.get('Message')}")

    used: set[int] = {st.sip_port}
    slot_ports = [(free_udp_port(used), free_udp_port(used)) for _ in range(8)]
    seq = 0  # index into CALLERS, so names rotate across waves
    running: list[asyncio.Task[int]] = []

    async def run_caller(idx: int, csv: Path, calls: int, talk_ms: int, delay: float) -> int:
        await asyncio.sleep(delay)
        local, media = slot_ports[idx % len(slot_ports)]
        proc = procs.start(
            f"caller-{idx:03d}", sipp_caller(csv, st.sip_port, local, media, calls, talk_ms)
        )
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.terminate()
            await asyncio.sleep(0.1)
        return proc.returncode

    async def keepalive() -> None:
        n = 0
        while True:
            await asyncio.sleep(5)
            n += 1
            await rec.send("Ping")
            if n % 3 == 0:  # an event list, as the daemon's resync sends
                await rec.send("QueueStatus", Queue="support")

    pinger = asyncio.create_task(keepalive())
    proc_idx = 0
    for w, wave in enumerate(waves):
        if time.monotonic() > deadline:
            break
        for kind, calls, talk_ms, delay in (
            ("patient", wave.patient, wave.talk_ms, 0.0),
            ("impatient", wave.impatient, 2000, 1.6),
        ):
            if calls == 0:
                continue
            csv = work / f"wave{w:02d}-{kind}.csv"
            rows = [CALLERS[(seq + i) % len(CALLERS)] for i in range(calls)]
            seq += calls
            csv.write_text(
                "SEQUENTIAL\n" + "".join(f"{n};{name}\n" for n, name in rows), encoding="utf-8"
            )
            running.append(asyncio.create_task(run_caller(proc_idx, csv, calls, talk_ms, delay)))
            proc_idx += 1
        # The next wave starts as the patient callers of this one finish.
        await asyncio.sleep(wave.talk_ms / 1000 + 1.2)
        print(
            f"wave {w + 1}/{len(waves)}: {wave.patient} patient + {wave.impatient} impatient,"
            f" {len(rec.data) / 1e6:.2f} MB so far",
            file=sys.stderr,
        )

    codes = await asyncio.gather(*running)
    failed = sum(1 for c in codes if c != 0)
    if failed:
        print(f"note: {failed} sipp caller run(s) ended with failures (see logs)", file=sys.stderr)

    # Let the last hangups reach AMI: wait until Asterisk has no channel left.
    while time.monotonic() < deadline:
        out = await asyncio.to_thread(lab.cli, "core show channels count", timeout=5, check=False)
        if "0 active channels" in out:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)
    pinger.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pinger
    await asyncio.sleep(0.3)
    await rec.send("Logoff")
    try:
        await asyncio.wait_for(reader_task, 10)
    except TimeoutError:
        reader_task.cancel()
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()
    return rec


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("output", type=Path, help="file to write the raw AMI bytes to")
    ap.add_argument("--calls", type=int, default=150, help="total calls (default 150)")
    ap.add_argument("--agents", type=int, default=6, help="agent phones (default 6)")
    ap.add_argument("--seed", type=int, default=20240601, help="traffic plan seed")
    ap.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        help="stop everything after this many seconds (default 600)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = ap.parse_args(argv)

    for tool in ("sipp",):
        if shutil.which(tool) is None:
            print(f"{tool} not found: run scripts/install-system-deps.sh", file=sys.stderr)
            return 2
    deadline = time.monotonic() + args.time_limit
    work = Path(tempfile.mkdtemp(prefix="cc-ami-capture-"))
    procs = Procs(work)
    used: set[int] = set()
    agent_ports = [free_udp_port(used) for _ in range(args.agents)]
    media_ports = [free_udp_port(used) for _ in range(args.agents)]
    cfg = Config(
        agents=tuple(
            AgentConfig(
                id=f"agent{i + 1}",
                name=f"Agent {i + 1}",
                queues=("support",),
                contact=f"sip:agent{i + 1}@{AGENT_IP}:{port}",
            )
            for i, port in enumerate(agent_ports)
        ),
        queues=(QueueConfig(name="support", number="1000"),),
    )
    lab = Lab(cfg, workdir=work / "lab")
    waves = plan_waves(args.calls, args.agents, random.Random(args.seed))
    print(
        f"plan: {len(waves)} waves, {args.calls} calls, {args.agents} agents; work in {work}",
        file=sys.stderr,
    )
    try:
        st = lab.up()
        for i, (port, media) in enumerate(zip(agent_ports, media_ports, strict=True)):
            ring_ms = 400 + 200 * i  # each agent answers after its own ring time
            procs.start(
                f"agent{i + 1}",
                [
                    "sipp",
                    "-sf",
                    str(SIPP_DIR / "agent.xml"),
                    "-i",
                    AGENT_IP,
                    "-p",
                    str(port),
                    "-mp",
                    str(media),
                    "-d",
                    str(ring_ms),
                    "-nostdin",
                    f"127.0.0.1:{st.sip_port}",
                ],
            )
        time.sleep(0.5)
        rec = asyncio.run(drive(lab, st, procs, work, waves, args.agents, deadline))
    finally:
        procs.stop_all()
        lab.down()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(args.output.suffix + ".tmp")
    tmp.write_bytes(bytes(rec.data))
    tmp.replace(args.output)
    ev = rec.events
    print(
        f"wrote {len(rec.data)} bytes to {args.output}: {sum(ev.values())} events, "
        f"{len(rec.responses)} responses, {rec.bad_frames} bad frames, "
        f"{rec.framer.pending_bytes} bytes left unframed",
        file=sys.stderr,
    )
    for name in (
        "Newchannel",
        "QueueCallerJoin",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "QueueCallerAbandon",
        "AgentRingNoAnswer",
        "Hangup",
    ):
        print(f"  {name}: {ev[name]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
