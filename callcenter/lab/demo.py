"""The living demo: the lab with agents on softphones and a stream of callers.

Each agent of the config that registers (no fixed contact) gets a baresip softphone that
registers with its password and answers after a human-like delay; now and then one agent
pauses with a reason, through the daemon (``Pauser``), and comes back. Callers are sipp
processes from the lab's trunk address, arriving at random (a Poisson stream) in the
kinds of calls the seed's figures are made of: answered after a wait, through the IVR
menu, abandoned in the queue, one-ring hang-ups. The busy announcement comes by itself
whenever every agent is busy. The shares are those of a busy hour, not of the month
(the seed's month has 3.5% abandons): a newcomer should see every kind within minutes.

Every process is the demo's child and is stopped by ``run`` on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import structlog

from callcenter.dialplan.settings import AgentConfig
from callcenter.lab.lab import LabState
from callcenter.lab.softphone import Account, Softphone

log = structlog.get_logger("callcenter.demo")
SIPP = "sipp"
PAUSE_REASONS = ("休憩", "後処理", "研修")
CALLERS = (
    ("0312345678", "山田 太郎"), ("0422123456", "佐藤 花子"), ("0459876543", "鈴木 一郎"),
    ("0661234567", "高橋 美咲"), ("0527654321", "田中 健太"), ("0112223333", "伊藤 翔"),
    ("0924445555", "渡辺 陽子"), ("0223334444", "中村 大輔"), ("0486667777", "小林 さくら"),
    ("0298889999", "加藤 直樹"),
)  # fmt: skip


class Pauser(Protocol):
    """Pauses and resumes an agent in every queue (the daemon's AgentService)."""

    async def pause(self, agent_id: str, reason: str, *, queue: str | None = None) -> None: ...

    async def resume(self, agent_id: str, *, queue: str | None = None) -> None: ...


@dataclass(frozen=True)
class CallKind:
    name: str
    share: float
    ivr: bool  # through the menu (press 1) rather than the queue's own number
    patience: tuple[float, float]  # seconds on the line from the dialplan's answer


# Patient callers wait up to two minutes and the agent ends the call; the others give up.
MIX = (
    CallKind("answered", 0.60, False, (120.0, 150.0)),
    CallKind("ivr", 0.15, True, (120.0, 150.0)),
    CallKind("abandon", 0.15, False, (7.0, 14.0)),
    CallKind("one_ring", 0.10, False, (1.0, 3.0)),
)


@dataclass(frozen=True)
class DemoPlan:
    calls_per_minute: float = 4.0
    answer_delay: tuple[float, float] = (2.0, 8.0)  # the phone rings, the agent picks up
    talk: tuple[float, float] = (8.0, 20.0)  # then talks, and hangs up
    pause_every: tuple[float, float] = (45.0, 75.0)  # between one agent's pause and the next
    pause_for: tuple[float, float] = (15.0, 30.0)
    queue_number: str = "1000"
    ivr_number: str = "2000"
    max_callers: int = 20  # sipp processes at once: a bound on what the demo may spawn
    seed: int | None = None


class DemoError(RuntimeError):
    """The demo cannot start (no agent that registers, baresip or sipp missing)."""


def registering(agents: Sequence[AgentConfig]) -> list[AgentConfig]:
    return [a for a in agents if not a.contact and a.resolved_password()]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    def __init__(
        self,
        lab: LabState,
        agents: Sequence[AgentConfig],
        pauser: Pauser,
        workdir: Path,
        plan: DemoPlan = DemoPlan(),
        trunk_address: str = "127.0.0.2",
    ) -> None:
        self.lab = lab
        self.agents = registering(agents)
        if not self.agents:
            raise DemoError("no agent registers: give one an empty contact and a password")
        self.pauser = pauser
        self.work = workdir
        self.plan = plan
        self.trunk = trunk_address
        self.rng = random.Random(plan.seed)
        self.phones: dict[str, Softphone] = {}
        self.paused: set[str] = set()
        self.placed: dict[str, int] = {k.name: 0 for k in MIX}
        self._callers: set[asyncio.subprocess.Process] = set()
        self._calls = 0

    def _delay(self) -> float:
        return self.rng.uniform(*self.plan.answer_delay)

    async def start_phones(self) -> None:
        for a in self.agents:
            account = Account(a.id, a.resolved_password(), "127.0.0.1", self.lab.sip_port)
            phone = Softphone(
                account,
                self.work / "phones" / a.id,
                answer_delay=self._delay,
                talk_time=lambda: self.rng.uniform(*self.plan.talk),
            )
            self.phones[a.id] = phone
            await phone.start()
        for phone in self.phones.values():
            await phone.wait_registered(10)

    async def run(self, stop: asyncio.Event) -> None:
        """Phones up, then callers and pauses until ``stop``; everything stopped after."""
        try:
            await self.start_phones()
            tasks = [asyncio.create_task(self._arrivals(stop)),
                     asyncio.create_task(self._pauses(stop))]  # fmt: skip
            try:
                await stop.wait()
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        for proc in list(self._callers):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for proc in list(self._callers):
            await proc.wait()
        self._callers.clear()
        for agent_id in list(self.paused):
            with contextlib.suppress(Exception):  # the daemon may be gone already
                await self.pauser.resume(agent_id)
        await asyncio.gather(*(p.stop() for p in self.phones.values()))

    # -- callers ---------------------------------------------------------------------------

    async def _arrivals(self, stop: asyncio.Event) -> None:
        calls: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if len(self._callers) < self.plan.max_callers:
                    task = asyncio.create_task(self._call())
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                gap = self.rng.expovariate(self.plan.calls_per_minute / 60.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), gap)
        finally:
            for task in list(calls):
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)

    def _kind(self) -> CallKind:
        return self.rng.choices(MIX, weights=[k.share for k in MIX])[0]

    async def _call(self) -> None:
        kind = self._kind()
        self._calls += 1
        self.placed[kind.name] += 1
        number, name = self.rng.choice(CALLERS)
        patience = self.rng.uniform(*kind.patience)
        folder = self.work / "callers"
        folder.mkdir(parents=True, exist_ok=True)
        inf = folder / f"call-{self._calls}.csv"
        inf.write_text(f"SEQUENTIAL\n{number};{name}\n", encoding="utf-8")
        scenario = "demo_caller_ivr.xml" if kind.ivr else "demo_caller.xml"
        service = self.plan.ivr_number if kind.ivr else self.plan.queue_number
        with resources.as_file(resources.files("callcenter.lab") / "templates" / scenario) as sf:
            proc = await asyncio.create_subprocess_exec(
                SIPP, "-sf", str(sf), "-inf", str(inf), "-i", self.trunk,
                "-p", str(_free_udp_port()), "-mp", str(_free_udp_port()),
                "-s", service, "-d", str(int(patience * 1000)), "-m", "1",
                "-nostdin", "-timeout", f"{int(patience) + 60}s",
                f"127.0.0.1:{self.lab.sip_port}",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, cwd=folder,
            )  # fmt: skip
            self._callers.add(proc)
            try:
                await proc.wait()
            finally:
                # Cancelled (the demo stops): the caller goes with it, never orphaned.
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                self._callers.discard(proc)
                inf.unlink(missing_ok=True)

    # -- pauses ----------------------------------------------------------------------------

    async def _pauses(self, stop: asyncio.Event) -> None:
        """Now and then a free agent pauses with a reason; one agent always stays on."""
        while not stop.is_set():
            await asyncio.sleep(self.rng.uniform(*self.plan.pause_every))
            free = [a for a, p in self.phones.items() if not p.in_call and a not in self.paused]
            if len(self.phones) - len(self.paused) < 2 or not free:
                continue
            agent_id = self.rng.choice(free)
            reason = self.rng.choice(PAUSE_REASONS)
            try:
                await self.pauser.pause(agent_id, reason)
            except Exception as exc:  # an AMI hiccup: the demo goes on, unpaused
                log.warning("demo.pause_failed", agent=agent_id, error=str(exc))
                continue
            self.paused.add(agent_id)
            try:
                await asyncio.sleep(self.rng.uniform(*self.plan.pause_for))
            finally:
                self.paused.discard(agent_id)
                await self.pauser.resume(agent_id)
