"""The daemon stops when a background task keeps failing, runs every shutdown step even
if one raises, and always flushes the event log last; `callcenter run` then exits 3."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import structlog.testing
from sqlalchemy import func, select

from callcenter import cli
from callcenter import daemon as daemon_mod
from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.store.models import AMIEvent
from callcenter.store.settings import DatabaseConfig
from callcenter.supervise import Supervisor
from callcenter.web.settings import HttpConfig


def make_daemon(tmp_path: Path) -> Daemon:
    cfg = Config(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"),
        http=HttpConfig(enabled=False),
        base_dir=tmp_path,
    )
    d = Daemon(cfg, AMITarget("127.0.0.1", 1, "u", "s3cret-xyz"))
    d.service_mode = None  # no PBX here

    async def connected() -> None:
        return None

    d.client.start = connected  # type: ignore[method-assign]
    d.supervisor = Supervisor(retry_min=0.001, retry_max=0.002)
    return d


async def test_a_failing_task_stops_the_daemon_and_the_event_log_is_still_flushed(
    tmp_path: Path,
) -> None:
    d = make_daemon(tmp_path)
    crashes = 0

    async def broken_calls_writer(stop: asyncio.Event) -> None:
        nonlocal crashes
        crashes += 1
        for i in range(3):  # events arriving meanwhile, held in the buffer
            d.eventlog.append({"Event": "Newchannel", "Uniqueid": f"{crashes}.{i}"})
        raise RuntimeError("a bug in the calls writer")

    d.calls_writer.run = broken_calls_writer  # type: ignore[method-assign]

    async def refusing_close() -> None:
        raise RuntimeError("close failed")

    d.client.close = refusing_close  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(d.run(asyncio.Event()), 20)  # never asked to stop
    assert d.failed
    assert d.supervisor.failure == "calls-writer"
    assert crashes == 5
    events = {e["event"] for e in logs}
    assert {"task.crashed", "supervisor.failed", "daemon.stopping"} <= events
    failed_steps = [e["step"] for e in logs if e["event"] == "daemon.shutdown_step_failed"]
    assert "ami-client" in failed_steps  # logged, and the next steps still ran
    assert any(e["event"] == "daemon.stopped" for e in logs)
    # Every event appended, up to the last crash, is stored: shutdown flushed them.
    with d.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AMIEvent)) == 15
    assert d.eventlog.pending == 0


async def test_the_event_log_is_flushed_even_when_its_writer_task_gave_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = make_daemon(tmp_path)
    real_run = d.eventlog.run
    runs = 0

    async def writer_that_dies(*, replay: bool = True) -> None:
        nonlocal runs
        runs += 1
        if runs <= 5:  # the supervised writer task: crashes until the supervisor gives up
            d.eventlog.append({"Event": "Newstate", "Uniqueid": f"u{runs}"})
            raise RuntimeError("writer bug")
        await real_run(replay=replay)  # the shutdown's own flush

    monkeypatch.setattr(d.eventlog, "run", writer_that_dies)
    await asyncio.wait_for(d.run(asyncio.Event()), 20)
    assert d.supervisor.failure == "eventlog-writer"
    with d.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AMIEvent)) == 5


async def test_callcenter_run_exits_3_when_a_task_kept_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_run(self: Daemon, stop: asyncio.Event) -> None:
        self.supervisor.failure = "calls-writer"

    monkeypatch.setattr(daemon_mod.Daemon, "run", failing_run)
    monkeypatch.setattr(
        daemon_mod, "resolve_ami_target", lambda cfg: AMITarget("127.0.0.1", 1, "u", "pw-1")
    )
    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"), base_dir=tmp_path)
    assert await cli._run_daemon(cfg) == 3
