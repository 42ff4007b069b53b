"""Calls the daemon never saw are completed from Asterisk's own record (CEL).

A witness daemon (in this process, its own database) watches the lab the whole time and
records the truth live from AMI. The daemon under test runs as `callcenter run` and is
SIGKILLed; calls happen while it is down (or across its restart); after the restart its
database must have every call, with the witness's outcome, agent and times (within 1 s),
and one incident per answered call.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.lab import Lab, LabState
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.rebuild import rebuild_calls
from callcenter.store.db import make_engine
from callcenter.store.models import Call
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop
from tests.support.tcpproxy import CuttableProxy

CLI = [sys.executable, "-m", "callcenter"]
FIELDS = ("outcome", "agent", "queue", "arrived_at", "answered_at", "ended_at")


def fresh_cel_file(lab_state: LabState) -> None:
    """Rotate the shared lab's CEL file: the daemon under test reads only this test's."""
    cel = Path(lab_state.workdir) / "log" / "cel-custom" / "callcenter.csv"
    if cel.exists():
        cel.rename(cel.with_name(f"old-{uuid.uuid4().hex}.csv"))


class Subject:
    """`callcenter run` on the lab, its own SQLite file, reading the PBX record."""

    def __init__(self, tmp_path: Path, lab_state: LabState, lab_config: Config) -> None:
        self.db = tmp_path / "subject.db"
        self.conf = tmp_path / "subject.toml"
        agents = "".join(
            f'[[agents]]\nid = "{a.id}"\nname = "{a.name}"\ncontact = "{a.contact}"\n'
            f"queues = {json.dumps(list(a.queues))}\n"
            for a in lab_config.agents
        )
        queues = "".join(
            f'[[queues]]\nname = "{q.name}"\nnumber = "{q.number}"\n' for q in lab_config.queues
        )
        self.conf.write_text(
            f'[lab]\nworkdir = "{lab_state.workdir}"\n'
            f'[database]\nurl = "sqlite:///{self.db}"\nspool_dir = "{tmp_path / "spool"}"\n'
            'flush_interval = 0.05\n[log]\nformat = "json"\n'
            "[service]\nmanage_mode = false\n[http]\nport = 0\n"
            "[pbx_record]\npoll_interval = 0.3\nsettle_seconds = 2.0\n"
            f"{queues}{agents}",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[str] | None = None
        self.log = tmp_path / "subject.log"

    def start(self) -> None:
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            if "ami.resynced" in self.log.read_text():
                return
            time.sleep(0.1)
        raise AssertionError(f"the daemon did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()

    def calls(self) -> dict[str, dict[str, Any]]:
        return {r["caller_num"]: r for r in _rows(self.db)}


def _rows(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("select * from calls")]
        except sqlite3.OperationalError:
            return []


def _local_day(truth: dict[str, dict[str, Any]]) -> str:
    first = min(c["arrived_at"] for c in truth.values())
    return datetime.fromtimestamp(first, ZoneInfo("Asia/Tokyo")).date().isoformat()


def _utc(value: datetime) -> float:
    """SQLite hands back naive UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _epoch(value: str | None) -> float | None:
    return None if value is None else _utc(datetime.fromisoformat(value))


def witness_calls(witness: Daemon) -> dict[str, dict[str, Any]]:
    with witness.engine.connect() as conn:
        rows = conn.execute(select(Call.__table__)).mappings().all()
    return {
        r["caller_num"]: {
            "outcome": r["outcome"],
            "agent": r["agent"],
            "queue": r["queue"],
            "estimated": bool(r["estimated"]),
            "arrived_at": _utc(r["arrived_at"]),
            "answered_at": _utc(r["answered_at"]) if r["answered_at"] else None,
            "ended_at": _utc(r["ended_at"]),
            "linkedid": r["linkedid"],
        }
        for r in rows
    }


def assert_same_as_witness(subject: dict[str, Any], truth: dict[str, Any], number: str) -> None:
    assert subject["outcome"] == truth["outcome"], number
    assert subject["agent"] == truth["agent"], number
    assert subject["queue"] == truth["queue"], number
    for key in ("arrived_at", "answered_at", "ended_at"):
        got, want = _epoch(subject[key]), truth[key]
        if want is None:
            assert got is None, (number, key)
        else:
            assert got is not None, (number, key)
            assert abs(got - want) < 1.0, (number, key, got, want)


@pytest.fixture
def witness_factory(daemon_factory: Callable[..., Daemon]) -> Callable[..., Daemon]:
    return daemon_factory


@pytest.fixture
def subject(tmp_path: Path, lab_state: LabState, lab_config: Config) -> Iterator[Subject]:
    fresh_cel_file(lab_state)
    s = Subject(tmp_path, lab_state, lab_config)
    yield s
    s.stop()


async def test_calls_while_the_daemon_is_killed_are_in_the_figures(
    subject: Subject,
    daemon_factory: Callable[..., Daemon],
    sipp: Sipp,
    agent_ports: dict[str, int],
) -> None:
    witness = RunningDaemon(daemon_factory())
    await witness.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(subject.start)
        subject.kill()
        # While it is down: two calls answered by known agents...
        procs += [
            sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1),
            sipp.agent(agent_ports["agent2"], answer_ms=300, calls=1),
        ]
        answered = [
            sipp.caller("1000", [("0390000001", "応答 一")], talk_ms=3000),
        ]
        await asyncio.sleep(1.0)
        answered.append(sipp.caller("1000", [("0390000002", "応答 二")], talk_ms=3000))
        for proc in answered:
            await asyncio.to_thread(finish, proc, 30)
        for proc in procs:
            stop(proc)
        procs.clear()
        # ...one abandoned after about 8 s in the queue (nobody answers now), and a
        # one-ring hang-up.
        gave_up = sipp.caller("1000", [("0390000003", "放棄")], talk_ms=8000)
        await asyncio.sleep(0.5)
        one_ring = sipp.caller("1000", [("0390000004", "ワンコール")], talk_ms=500)
        for proc in (gave_up, one_ring):
            await asyncio.to_thread(finish, proc, 30)
        numbers = [f"039000000{i}" for i in range(1, 5)]
        await wait_for(
            lambda: set(numbers) <= set(witness_calls(witness.daemon)), 15, "the witness"
        )
        truth = witness_calls(witness.daemon)
        assert [truth[n]["outcome"] for n in numbers] == [
            "answered",
            "answered",
            "abandoned",
            "short_abandoned",
        ]
        assert subject.calls() == {}  # the killed daemon saw none of them

        await asyncio.to_thread(subject.start)
        await wait_for(
            lambda: set(numbers) <= set(subject.calls()), 30, "the calls from the PBX record"
        )
        got = subject.calls()
        for n in numbers:
            assert got[n]["source"] == "pbx"
            assert not got[n]["estimated"]
            assert_same_as_witness(got[n], truth[n], n)
        assert {got[n]["agent"] for n in numbers[:2]} == {"Agent 1", "Agent 2"}
        await wait_for(
            lambda: len(subject.query("select id from incidents")) == 2, 15, "two incidents"
        )
        linked = {r[0] for r in subject.query("select call_linkedid from incidents")}
        assert linked == {got[n]["linkedid"] for n in numbers[:2]}

        figures = await asyncio.to_thread(
            subprocess.run,
            [*CLI, "metrics", "--today", "--json", "--config", str(subject.conf)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        today = json.loads(figures.stdout)
        total = today.get("total", today)
        assert (total["answered"], total["abandoned"], total["short_abandoned"]) == (2, 1, 1)

        # A day's check against the PBX record finds nothing left to fix.
        checked = await asyncio.to_thread(
            subprocess.run,
            [
                *CLI,
                "reconcile",
                "--day",
                _local_day(truth),
                "--json",
                "--config",
                str(subject.conf),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        report = json.loads(checked.stdout)
        assert (report["in_record"], report["added"], report["replaced"]) == (4, 0, 0)
        assert report["differs"] == 0, report["differences"]
    finally:
        for proc in procs:
            stop(proc)
        await witness.shutdown()

    # The witness's calls rebuilt from its stored events are the live records.
    day = date.fromisoformat(_local_day(truth))
    engine = make_engine(witness.daemon.cfg.database_url())
    try:
        rebuilt = rebuild_calls(engine, witness.daemon.cfg, day, day + timedelta(days=1))
        assert rebuilt.from_events == 4
        assert rebuilt.moved == []
        assert rebuilt.before == rebuilt.after
        again = witness_calls(witness.daemon)
        for n in numbers:
            for key in ("outcome", "agent", "queue", "arrived_at", "answered_at", "ended_at"):
                assert again[n][key] == truth[n][key], (n, key)
    finally:
        engine.dispose()


async def test_a_call_up_across_the_kill_ends_with_its_real_times(
    subject: Subject,
    daemon_factory: Callable[..., Daemon],
    sipp: Sipp,
    agent_ports: dict[str, int],
    second_line_port: int,
) -> None:
    witness = RunningDaemon(daemon_factory())
    await witness.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(subject.start)
        procs.append(sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1))
        caller = sipp.caller("1000", [("0390000011", "継続 中")], talk_ms=7000)
        # And an agent's own call to the second line, up across the restart too.
        procs.append(sipp.agent(second_line_port, answer_ms=200, calls=1, timeout_s=60))
        own = sipp.caller("8001", [("agent2", "Agent 2")], talk_ms=7000, source="127.0.0.1")
        await wait_for(
            lambda: any(
                c.caller_num == "0390000011" and c.answered_at
                for c in witness.daemon.tracker.calls.values()
            ),
            15,
            "the call answered",
        )
        await asyncio.sleep(1.0)
        subject.kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(subject.start)  # the call is still up: the resync finds it
        await asyncio.to_thread(finish, caller, 30)
        await asyncio.to_thread(finish, own, 30)
        await wait_for(
            lambda: "0390000011" in witness_calls(witness.daemon), 15, "the witness's record"
        )
        truth = witness_calls(witness.daemon)["0390000011"]
        assert truth["estimated"] is False
        # Resumed from its stored events at the restart (or, had they been lost with
        # the killed process, its estimate replaced from the PBX record): real times.
        await wait_for(
            lambda: subject.calls().get("0390000011", {}).get("estimated") == 0,
            30,
            "the call with its real times",
        )
        assert "calls.resumed" in subject.log.read_text()
        got = subject.calls()
        assert not got["0390000011"]["estimated"]
        assert_same_as_witness(got["0390000011"], truth, "0390000011")
        # The agent's own call is no inbound call and opens no incident.
        assert "agent2" not in got
        assert set(witness_calls(witness.daemon)) == {"0390000011"}
        incidents = subject.query("select caller_number from incidents")
        assert incidents == [("0390000011",)]
    finally:
        for proc in [*procs, caller, own]:
            if proc.returncode is None:
                stop(proc)
        await witness.shutdown()


async def test_calls_during_an_ami_cut_are_completed_from_the_pbx_record(
    lab_state: LabState,
    daemon_factory: Callable[..., Daemon],
    sipp: Sipp,
    agent_ports: dict[str, int],
) -> None:
    fresh_cel_file(lab_state)
    witness = RunningDaemon(daemon_factory())
    await witness.start()
    proxy = CuttableProxy(lab_state.ami_port)
    await proxy.start()
    via_proxy = AMITarget("127.0.0.1", proxy.port, lab_state.ami_username, lab_state.ami_secret)
    cut_off = RunningDaemon(
        daemon_factory(
            url=f"sqlite:///{Path(witness.daemon.cfg.base_dir) / 'cut.db'}",
            target=via_proxy,
            pbx_record=PbxRecordSettings(poll_interval=0.3, settle_seconds=2.0),
        )
    )
    await cut_off.start()
    procs: list[subprocess.Popen[bytes]] = []
    numbers = ["0390000021", "0390000022", "0390000023", "0390000024"]
    try:
        await proxy.cut()
        await wait_for(lambda: not cut_off.daemon.client.connected.is_set(), 5, "the cut")
        # While the link is down: two calls answered by known agents, one abandoned after
        # about 8 s, one one-ring hang-up; all start and end inside the gap.
        procs += [
            sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1),
            sipp.agent(agent_ports["agent2"], answer_ms=300, calls=1),
        ]
        answered = [sipp.caller("1000", [(numbers[0], "切断 一")], talk_ms=3000)]
        await asyncio.sleep(1.0)
        answered.append(sipp.caller("1000", [(numbers[1], "切断 二")], talk_ms=3000))
        for proc in answered:
            await asyncio.to_thread(finish, proc, 30)
        for proc in procs:
            stop(proc)
        procs.clear()
        calls = [
            sipp.caller("1000", [(numbers[2], "放棄")], talk_ms=8000),
            sipp.caller("1000", [(numbers[3], "ワン")], talk_ms=300),
        ]
        for proc in calls:
            await asyncio.to_thread(finish, proc, 30)
        await wait_for(
            lambda: set(numbers) <= set(witness_calls(witness.daemon)), 15, "the witness"
        )
        # The PBX record does not need AMI: the calls are completed while the link is
        # still down...
        await wait_for(
            lambda: set(numbers) <= set(witness_calls(cut_off.daemon)),
            30,
            "the gap's calls from the PBX record",
        )
        # ...and the reconnect's resync neither doubles nor spoils them.
        await proxy.restore()
        await wait_for(lambda: cut_off.daemon.client.connects == 2, 20, "the reconnect and resync")
        await asyncio.sleep(1.0)
        truth, got = witness_calls(witness.daemon), witness_calls(cut_off.daemon)
        assert [truth[n]["outcome"] for n in numbers] == [
            "answered",
            "answered",
            "abandoned",
            "short_abandoned",
        ]
        assert {truth[n]["agent"] for n in numbers[:2]} == {"Agent 1", "Agent 2"}
        for n in numbers:
            assert got[n]["outcome"] == truth[n]["outcome"], n
            assert got[n]["agent"] == truth[n]["agent"], n
            assert got[n]["estimated"] is False, n
            for key in ("arrived_at", "answered_at", "ended_at"):
                if truth[n][key] is None:
                    assert got[n][key] is None
                else:
                    assert abs(got[n][key] - truth[n][key]) < 1.0, (n, key)
        for n in numbers[:2]:
            incident = await asyncio.to_thread(
                cut_off.daemon.incident_store.find_by_call, "lab", got[n]["linkedid"]
            )
            assert incident is not None, n
    finally:
        for proc in procs:
            stop(proc)
        await cut_off.shutdown()
        await witness.shutdown()
        await proxy.close()


async def test_a_call_cut_by_an_asterisk_restart_is_recorded_once_with_its_end(
    lab: Lab,
    lab_state: LabState,
    daemon_factory: Callable[..., Daemon],
    sipp: Sipp,
    agent_ports: dict[str, int],
) -> None:
    fresh_cel_file(lab_state)
    subject = RunningDaemon(
        daemon_factory(pbx_record=PbxRecordSettings(poll_interval=0.3, settle_seconds=2.0))
    )
    await subject.start()
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1, timeout_s=40)
    caller = sipp.caller("1000", [("0390000031", "再起動 中")], talk_ms=30000, timeout_s=40)
    try:
        await wait_for(
            lambda: any(c.answered_at for c in subject.daemon.tracker.calls.values()),
            15,
            "the call answered",
        )
        restarted_at = time.time()
        st = await asyncio.to_thread(lab.restart)
    finally:
        stop(agent)
        stop(caller)
    try:
        await wait_for(
            lambda: subject.daemon.client.connects == 2 and subject.daemon.live.resyncs == 2,
            20,
            "reconnect and resync",
        )
        # A call right after the restart is recorded in full, as usual.
        new = Sipp(st.sip_port)
        agent2 = new.agent(agent_ports["agent2"], answer_ms=200, calls=1)
        agent1 = new.agent(agent_ports["agent1"], answer_ms=200, calls=1)
        try:
            await asyncio.to_thread(
                finish, new.caller("1000", [("0390000032", "再起動 後")], talk_ms=1000), 30
            )
        finally:
            stop(agent1)
            stop(agent2)
        await wait_for(
            lambda: {"0390000031", "0390000032"} <= set(witness_calls(subject.daemon)),
            20,
            "both calls stored",
        )
        await asyncio.sleep(3.0)  # a reconcile pass or more: nothing doubles or moves
        got = witness_calls(subject.daemon)
    finally:
        await subject.shutdown()
    cut, after = got["0390000031"], got["0390000032"]
    assert cut["outcome"] == "answered"
    assert cut["agent"] == "Agent 1"
    # It ended with the PBX: at the restart (from the PBX record, or the resync's estimate).
    assert restarted_at - 1 < cut["ended_at"] < restarted_at + 10, (cut, restarted_at)
    assert after["outcome"] == "answered"
    assert after["estimated"] is False
    with subject.daemon.engine.connect() as conn:
        rows = conn.execute(select(Call.linkedid).where(Call.caller_num == "0390000031")).all()
    assert len(rows) == 1
    incident = subject.daemon.incident_store.find_by_call("lab", cut["linkedid"])
    assert incident is not None
