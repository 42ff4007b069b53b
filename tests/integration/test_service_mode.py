"""The service mode on the real lab: what the keeper writes is what callers hear, and
without the daemon's word (keys missing or stale) the dialplan's time rule decides.

The session lab has the mode pinned open (conftest); every test here puts it back.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from callcenter.ami import AMIClient
from callcenter.ami.settings import AMIConfig, AMITarget
from callcenter.config import Config
from callcenter.lab import Lab, LabState
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.schedule.settings import ServiceConfig
from callcenter.telephony.calls import CallRecord, Outcome
from tests.integration.conftest import RunningDaemon, set_mode, target_of, wait_for
from tests.support.sipp import Sipp, finish
from tests.support.tcpproxy import CuttableProxy
from tests.unit.schedule.support import TZ, FakeClock, jst

CAL = BusinessCalendar.from_config(ServiceConfig())
NOT_AFTER_HOURS = {Outcome.ABANDONED, Outcome.SHORT_ABANDONED, Outcome.ANSWERED}


def db_get(lab: Lab, key: str) -> str | None:
    out = lab.cli(f"database get callcenter {key}", check=False)
    for line in out.splitlines():
        if line.startswith("Value:"):
            return line.split(":", 1)[1].strip()
    return None


async def call(running: RunningDaemon, sipp: Sipp, number: str, name: str) -> CallRecord:
    """A real call to the support number (the caller hangs up 1.5 s after the answer)."""
    d = running.daemon
    await asyncio.to_thread(finish, sipp.caller("1000", [(number, name)], talk_ms=1500), 30)
    await wait_for(
        lambda: any(c.caller_num == number for c in d.recent_calls), 10, f"call {number}"
    )
    return next(c for c in d.recent_calls if c.caller_num == number)


def assert_heard(rec: CallRecord, mode: str) -> None:
    if mode == "closed":
        assert rec.outcome is Outcome.AFTER_HOURS, rec
    else:
        assert rec.outcome in NOT_AFTER_HOURS, rec
        assert not rec.after_hours
        assert rec.queued_at is not None, rec  # it joined the queue


def time_rule(arrived_at: float) -> set[str]:
    """What the dialplan's fallback says at the call's arrival: the rendered calendar,
    holidays included. Both modes within 2 s of a boundary."""
    at = datetime.fromtimestamp(arrived_at, TZ)
    return {"open" if CAL.is_open(at + timedelta(seconds=s)) else "closed" for s in (-2, 0, 2)}


async def test_the_keeper_sets_what_callers_hear(
    running: RunningDaemon, sipp: Sipp, lab: Lab
) -> None:
    clock = FakeClock(jst(2026, 9, 22, 10))  # 国民の休日, a Tuesday between two holidays
    keeper = ModeKeeper(running.daemon.client, CAL, clock=clock, ttl=120)
    try:
        d = await keeper.start()
        assert (d.mode, d.reason) == ("closed", "holiday")
        assert db_get(lab, "mode") == "closed"
        until = int(db_get(lab, "mode_until") or 0)
        assert time.time() < until <= time.time() + 120  # vouched for ttl, in real time
        assert_heard(await call(running, sipp, "0300000101", "祝日 太郎"), "closed")

        clock.set(jst(2026, 9, 24, 10))  # the Thursday after: an ordinary weekday
        await keeper.resync()
        assert db_get(lab, "mode") == "open"
        assert_heard(await call(running, sipp, "0300000102", "平日 花子"), "open")

        # A supervisor's emergency close wins over the calendar until it is cleared.
        o = await keeper.override("closed", note="試験")
        assert (o.mode, o.reason) == ("closed", "override")
        assert_heard(await call(running, sipp, "0300000103", "緊急 一郎"), "closed")
        await keeper.clear_override()
        assert db_get(lab, "mode") == "open"
    finally:
        await keeper.stop()
        set_mode(lab, "open")


async def test_without_the_keys_the_time_rule_decides(
    running: RunningDaemon, sipp: Sipp, lab: Lab
) -> None:
    try:
        lab.cli("database deltree callcenter")
        assert db_get(lab, "mode") is None
        rec = await call(running, sipp, "0300000111", "停止 次郎")
        expected = time_rule(rec.arrived_at)
        heard = "closed" if rec.outcome is Outcome.AFTER_HOURS else "open"
        assert heard in expected, (rec, expected)
        assert_heard(rec, heard)
    finally:
        set_mode(lab, "open")


async def test_stale_keys_are_ignored(running: RunningDaemon, sipp: Sipp, lab: Lab) -> None:
    # The keys say the opposite of the time rule, but vouch only up to 5 s ago.
    now = datetime.now(TZ)
    stale = "closed" if CAL.is_open(now) else "open"
    try:
        lab.cli(f"database put callcenter mode {stale}")
        lab.cli(f"database put callcenter mode_until {int(time.time()) - 5}")
        rec = await call(running, sipp, "0300000121", "古鍵 三郎")
        expected = time_rule(rec.arrived_at)
        heard = "closed" if rec.outcome is Outcome.AFTER_HOURS else "open"
        assert heard in expected, (rec, stale, expected)
        assert_heard(rec, heard)
        if len(expected) == 1:  # not at a boundary: the stale mode was not obeyed
            assert heard != stale
    finally:
        set_mode(lab, "open")


async def test_the_mode_is_rewritten_after_an_ami_reconnect(lab: Lab, lab_state: LabState) -> None:
    # Wired as the daemon wires it: resync() from the client's on_connect hook.
    proxy = CuttableProxy(lab_state.ami_port)
    await proxy.start()
    t = target_of(lab_state)
    keeper: ModeKeeper | None = None

    async def on_connect(_client: AMIClient) -> None:
        if keeper is not None:
            await keeper.resync()

    client = AMIClient(
        AMITarget("127.0.0.1", proxy.port, t.username, t.secret),
        AMIConfig(reconnect_min=0.2, reconnect_max=0.5),
        on_connect=on_connect,
    )
    keeper = ModeKeeper(client, CAL, clock=FakeClock(jst(2026, 9, 22, 10)), ttl=120)
    try:
        await client.start()
        await keeper.start()
        assert db_get(lab, "mode") == "closed"
        await proxy.cut()
        set_mode(lab, "open")  # meanwhile the keys change (say, the PBX's AstDB was reset)
        await proxy.restore()
        await wait_for(lambda: client.connects >= 2, 10, "the reconnect")
        await wait_for(lambda: db_get(lab, "mode") == "closed", 5, "the mode rewritten")
        assert int(db_get(lab, "mode_until") or 0) > time.time()
    finally:
        await keeper.stop()
        await client.close()
        await proxy.close()
        set_mode(lab, "open")


async def test_the_boundary_minute_18_15(running: RunningDaemon, sipp: Sipp, lab: Lab) -> None:
    """A weekday at 18:14:55 by the service clock (which then runs in real time): a call
    before 18:15 joins the queue; the scheduler switches at 18:15:00 exactly; the next
    call hears the after-hours message."""
    clock = FakeClock(jst(2026, 11, 24, 18, 14, 55), running=True)  # Tuesday
    boundary = jst(2026, 11, 24, 18, 15)
    keeper = ModeKeeper(running.daemon.client, CAL, clock=clock, ttl=120)
    try:
        d = await keeper.start()
        assert (d.mode, d.valid_until) == ("open", boundary)
        # Vouched for up to the second before 18:15 (in the PBX's real seconds).
        until = int(db_get(lab, "mode_until") or 0)
        assert until == pytest.approx(time.time() + 5 - 1, abs=1.1)
        before = await call(running, sipp, "0300000131", "定時前 一郎")
        assert clock() < boundary + timedelta(seconds=2)
        assert_heard(before, "open")

        await wait_for(lambda: db_get(lab, "mode") == "closed", 8, "the 18:15 switch")
        switched = clock()
        assert boundary <= switched < boundary + timedelta(seconds=1.5), switched
        # mode_until follows the mode (a separate DBPut): then the write is complete.
        await wait_for(
            lambda: keeper.written is not None and keeper.written.mode == "closed", 3, "written"
        )
        assert keeper.written is not None
        assert keeper.written.valid_until == jst(2026, 11, 25, 8, 30)  # Wednesday 08:30
        after = await call(running, sipp, "0300000132", "定時後 二郎")
        assert_heard(after, "closed")
    finally:
        await keeper.stop()
        set_mode(lab, "open")


def mode_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "mode", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_supervisors_override_from_the_command_line(
    running: RunningDaemon, sipp: Sipp, lab: Lab, lab_config: Config, tmp_path: Path
) -> None:
    """`callcenter mode closed` (another process) closes the line at once; the daemon's
    keeper follows the stored override instead of its calendar, and `auto` ends it."""
    conf = tmp_path / "cc.toml"
    conf.write_text(f'[lab]\nworkdir = "{lab_config.lab.workdir}"\n', encoding="utf-8")
    keeper = ModeKeeper(running.daemon.client, CAL, clock=FakeClock(jst(2026, 11, 24, 10)))
    secret = target_of(lab.running() or lab.up()).secret
    try:
        assert (await keeper.start()).mode == "open"
        res = mode_cli(conf, "closed", "--for", "30", "--note", "台風 のため")
        assert res.returncode == 0, res.stderr
        assert "mode: closed (override: 台風 のため)" in res.stdout
        assert "PBX: closed, vouched until" in res.stdout
        stored = db_get(lab, "override") or ""
        assert stored.startswith("closed|")
        assert int(stored.split("|")[1]) == pytest.approx(time.time() + 1800, abs=5)
        assert_heard(await call(running, sipp, "0300000141", "台風 三郎"), "closed")

        # The daemon's next write (a refresh, a boundary, a reconnect) keeps it closed.
        await keeper.resync()
        assert db_get(lab, "mode") == "closed"
        assert keeper.current().reason == "override"
        status = mode_cli(conf, "status")
        assert status.returncode == 0, status.stderr
        assert "mode: closed (override: 台風 のため)" in status.stdout

        res = mode_cli(conf, "auto")
        assert res.returncode == 0, res.stderr
        assert db_get(lab, "override") is None
        await keeper.resync()
        assert (db_get(lab, "mode"), keeper.override_active) == ("open", None)
        for out in (res, status):
            assert secret not in out.stdout + out.stderr

        bad = mode_cli(conf, "closed", "--until", "next tuesday")
        assert (bad.returncode, bad.stderr.strip()) == (
            2,
            "callcenter mode: --until: 'next tuesday' is not YYYY-MM-DDTHH:MM",
        )
    finally:
        await keeper.stop()
        lab.cli("database del callcenter override", check=False)
        set_mode(lab, "open")
