"""Fixtures for tests against the real lab Asterisk, sipp and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.dialplan.settings import AgentConfig, IvrConfig, QueueConfig, TransferTargetConfig
from callcenter.lab import Lab, LabState
from callcenter.lab.settings import LabConfig
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.db import make_engine
from callcenter.store.models import AMIEvent
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.calls import CallRecord
from callcenter.web.serve import serve
from callcenter.web.settings import HttpConfig
from tests.support.postgres import PostgresServer, migrated_postgres
from tests.support.sipp import Sipp, free_udp_port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def agent_ports() -> dict[str, int]:
    return {"agent1": free_udp_port(), "agent2": free_udp_port()}


@pytest.fixture(scope="session")
def second_line_port() -> int:
    """The second-line vendor's desk phone (a sipp UAS the test that needs it starts)."""
    return free_udp_port()


@pytest.fixture(scope="session")
def trunk_port() -> int:
    """Where calls out through the lab's trunk go (127.0.0.2): the phone of a caller the
    desk calls back, a sipp UAS the test that needs it starts."""
    return free_udp_port()


@pytest.fixture(scope="session")
def lab_config(
    agent_ports: dict[str, int],
    second_line_port: int,
    trunk_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Config:
    base = tmp_path_factory.mktemp("lab")
    return Config(
        lab=LabConfig(workdir=str(base / "lab"), trunk_port=trunk_port),
        database=DatabaseConfig(url=f"sqlite:///{base / 'cc.db'}", spool_dir=str(base / "spool")),
        queues=(
            QueueConfig(name="support", number="1000", timeout=10, retry=1, strategy="linear"),
            # One waiting caller at most: the next one finds it full.
            QueueConfig(name="small", number="1001", timeout=10, retry=1, maxlen=1),
            # No agents: every caller hears the busy announcement, then the offer.
            QueueConfig(
                name="vmq",
                number="1002",
                busy_offer="voicemail",
                busy_offer_prompt="silence/1",
                busy_offer_seconds=3,
            ),
            # agent2 answers; after the agent hangs up, the caller rates the call.
            QueueConfig(name="svq", number="1004", timeout=10, retry=1, survey=True),
            QueueConfig(
                name="cbq",
                number="1003",
                busy_offer="callback",
                busy_offer_prompt="silence/1",
                busy_offer_seconds=3,
            ),
        ),
        ivr=(
            IvrConfig(
                name="main",
                number="2000",
                timeout=2,
                retries=2,
                options=(("1", "queue:support"), ("2", "ivr:sub"), ("8", "transfer:second-line")),
            ),
            IvrConfig(
                name="sub", timeout=2, retries=1, options=(("1", "queue:small"), ("9", "hangup"))
            ),
        ),
        # Desk phones at fixed addresses: each is a sipp UAS started by the test that needs it.
        agents=tuple(
            AgentConfig(
                id=aid,
                name=f"Agent {aid[-1]}",
                queues=("support", "small", "svq") if aid == "agent2" else ("support",),
                contact=f"sip:{aid}@127.0.0.1:{port}",
            )
            for aid, port in agent_ports.items()
        ),
        transfer_targets=(
            TransferTargetConfig(
                name="second-line",
                number="8001",
                label="二次サポート",
                contact=f"sip:second-line@127.0.0.1:{second_line_port}",
            ),
        ),
        base_dir=base,
    )


@pytest.fixture(scope="session")
def lab(lab_config: Config) -> Iterator[Lab]:
    lab = Lab(lab_config)
    lab.up()
    set_mode(lab, "open")
    yield lab
    lab.down()


@pytest.fixture(autouse=True)
def _hang_up_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test leaves the shared lab idle: a sipp caller killed by a test's clean-up
    sends no BYE, and its channel would wait in a queue for the rest of the session,
    taking the next test's agent (seen as a missing AgentComplete in the full suite)."""
    yield
    if {"lab", "lab_state"} & set(request.fixturenames):
        lab: Lab = request.getfixturevalue("lab")
        if lab.running() is not None:
            lab.cli("channel request hangup all", check=False)


def set_mode(lab: Lab, mode: str) -> None:
    """Pin the service mode as the daemon's scheduler will: the tests run at any hour."""
    lab.cli(f"database put callcenter mode {mode}")
    lab.cli(f"database put callcenter mode_until {int(time.time()) + 86400}")


@pytest.fixture
def lab_state(lab: Lab) -> LabState:
    st = lab.running() or lab.up()  # a previous test may have killed it
    return st


@pytest.fixture
def sipp(lab_state: LabState) -> Sipp:
    return Sipp(lab_state.sip_port)


def target_of(st: LabState) -> AMITarget:
    return AMITarget("127.0.0.1", st.ami_port, st.ami_username, st.ami_secret)


@pytest.fixture
def daemon_factory(
    lab_config: Config, lab_state: LabState, tmp_path: Path
) -> Callable[..., Daemon]:
    """Build daemons on the lab, each with its own database (SQLite file unless given)."""

    def make(
        url: str | None = None,
        target: AMITarget | None = None,
        pbx_record: PbxRecordSettings | None = None,
        **db: object,
    ) -> Daemon:
        cfg = Config(
            lab=lab_config.lab,
            database=DatabaseConfig(
                url=url or f"sqlite:///{tmp_path / 'events.db'}",
                spool_dir=str(tmp_path / "spool"),
                flush_interval=0.05,
                retry_min=0.1,
                retry_max=0.5,
                **db,  # type: ignore[arg-type]
            ),
            ami=lab_config.ami.__class__(
                use_lab=True,
                reconnect_min=0.2,
                reconnect_max=1.0,
                ping_interval=2.0,
                action_timeout=3.0,
            ),
            queues=lab_config.queues,
            ivr=lab_config.ivr,
            groups=lab_config.groups,
            parking=lab_config.parking,
            transfer_targets=lab_config.transfer_targets,
            # The tests pin the mode themselves (set_mode): they run on any day, holidays too.
            service=ServiceConfig(manage_mode=False),
            http=HttpConfig(port=0),
            agents=lab_config.agents,
            # Off unless a test reads the PBX record: the shared lab's CEL file holds every
            # earlier test's calls, which would land in this daemon's database.
            pbx_record=pbx_record or PbxRecordSettings(enabled=False),
            base_dir=tmp_path,
        )
        return serve(Daemon(cfg, target or target_of(lab_state)))

    return make


class RunningDaemon:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, *, wait_ready: bool = True) -> None:
        self.task = asyncio.create_task(self.daemon.run(self.stop))
        if wait_ready:
            await asyncio.wait_for(self.daemon.ready.wait(), 10)

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def running(daemon_factory: Callable[..., Daemon]) -> AsyncIterator[RunningDaemon]:
    rd = RunningDaemon(daemon_factory())
    await rd.start()
    yield rd
    await rd.shutdown()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """One migrated private PostgreSQL for the store tests that only need a database
    (each clears the tables it uses); the outage tests start their own."""
    with migrated_postgres() as engine:
        yield engine


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    pg = PostgresServer()
    pg.start()
    yield pg
    pg.destroy()


def count_events(engine: Engine, **where: str) -> int:
    stmt = select(func.count()).select_from(AMIEvent)
    for key, value in where.items():
        stmt = stmt.where(getattr(AMIEvent, key) == value)
    with engine.connect() as conn:
        return int(conn.scalar(stmt) or 0)


async def finished_call(rd: RunningDaemon, number: str, timeout: float = 20) -> CallRecord:
    """The finished record of the (first) call from ``number``, once the daemon has it."""

    def done() -> bool:
        return any(c.caller_num == number for c in rd.daemon.recent_calls)

    await wait_for(done, timeout, f"call from {number} finished")
    return next(c for c in rd.daemon.recent_calls if c.caller_num == number)


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


__all__ = [
    "RunningDaemon",
    "count_events",
    "finished_call",
    "make_engine",
    "set_mode",
    "target_of",
    "wait_for",
]
