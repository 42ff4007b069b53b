"""A standby daemon per PBX (issue 13, item 4): the active daemon of the lab is killed
(SIGKILL, mid-traffic); the standby, which followed the PBX without writing, takes the
lease over and acts. Every call is recorded once, and each answered call has one
incident."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, delete, select

from callcenter.config import Config
from callcenter.daemon import Daemon
from callcenter.incidents.store import INCIDENTS
from callcenter.lab import LabState
from callcenter.standby import lease_name
from callcenter.store.calls import TABLE as CALLS
from callcenter.store.leases import LEASES
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop

CLI = [sys.executable, "-m", "callcenter"]
CALLERS = [(f"034444{n:04d}", f"切替 {n}") for n in range(10)]


def active_config(tmp_path: Path, lab_state: LabState, lab_config: Config, url: str) -> Path:
    conf = tmp_path / "active.toml"
    agents = "".join(
        f'[[agents]]\nid = "{a.id}"\nname = "{a.name}"\nqueues = {json.dumps(list(a.queues))}\n'
        f'contact = "{a.contact}"\n'
        for a in lab_config.agents
    )
    queues = "".join(
        f'[[queues]]\nname = "{q.name}"\nnumber = "{q.number}"\n' for q in lab_config.queues
    )
    conf.write_text(
        f'{queues}{agents}[lab]\nworkdir = "{lab_state.workdir}"\n'
        f'[database]\nurl = "{url}"\nspool_dir = "{tmp_path / "spool-a"}"\n'
        "flush_interval = 0.05\n"
        "[service]\nmanage_mode = false\n"
        "[http]\nport = 0\n"
        "[pbx_record]\nenabled = false\n"
        "[cluster]\nstandby = true\nfailover_seconds = 2\n",
        encoding="utf-8",
    )
    return conf


def holder(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(LEASES.c.holder).where(LEASES.c.name == lease_name("lab")))


async def test_the_standby_takes_over_when_the_active_daemon_is_killed(
    daemon_factory: Callable[..., Daemon],
    lab_config: Config,
    lab_state: LabState,
    pg_engine: Engine,
    sipp: Sipp,
    agent_ports: dict[str, int],
    tmp_path: Path,
) -> None:
    with pg_engine.begin() as conn:
        conn.execute(delete(LEASES).where(LEASES.c.name == lease_name("lab")))
    url = pg_engine.url.render_as_string(hide_password=False)
    log = (tmp_path / "active.log").open("wb")
    active = subprocess.Popen(  # noqa: ASYNC220 (it only starts the process)
        [*CLI, "run", "--config", str(active_config(tmp_path, lab_state, lab_config, url))],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    procs: list[subprocess.Popen[bytes]] = []
    standby: RunningDaemon | None = None
    try:
        await wait_for(lambda: holder(pg_engine) is not None, 30, "the active daemon's lease")
        first = holder(pg_engine)
        base = daemon_factory(url)
        cluster = base.cfg.cluster.model_copy(update={"standby": True, "failover_seconds": 2.0})
        database = base.cfg.database.model_copy(update={"spool_dir": str(tmp_path / "spool-b")})
        cfg = base.cfg.model_copy(update={"cluster": cluster, "database": database})
        base.engine.dispose()
        standby = RunningDaemon(Daemon(cfg, base.target))
        await standby.start()
        b = standby.daemon
        assert not b.role.active  # the lease is the other's: it stands by
        assert holder(pg_engine) == first

        procs += [sipp.agent(agent_ports[a], answer_ms=500, calls=10) for a in agent_ports]
        callers = sipp.caller("1000", CALLERS, talk_ms=5000, rate=1, limit=10)
        procs.append(callers)
        await asyncio.sleep(4.5)  # calls in every stage: waiting, talking, finished
        active.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await wait_for(lambda: b.role.active, 15, "the standby's takeover")
        took = time.monotonic() - killed
        print(f"the standby took over {took:.2f} s after the active daemon was killed")
        assert took < 5.0
        assert holder(pg_engine) == b.role.holder
        await asyncio.to_thread(finish, callers, 60)

        def stored() -> list[tuple[str, str, str | None]]:
            with pg_engine.connect() as conn:
                return [
                    (r.caller_num, r.linkedid, r.outcome)
                    for r in conn.execute(
                        select(CALLS.c.caller_num, CALLS.c.linkedid, CALLS.c.outcome).where(
                            CALLS.c.caller_num.in_([n for n, _ in CALLERS])
                        )
                    )
                ]

        await wait_for(lambda: len(stored()) >= len(CALLERS), 30, "every call stored")

        def settled() -> bool:
            return b.incidents is None or b.incidents.pending == 0

        await wait_for(settled, 10, "the incidents written")
        await asyncio.sleep(1.0)  # a late double would show now
        calls = stored()
        assert sorted(n for n, _, _ in calls) == sorted(n for n, _ in CALLERS)  # once each
        answered = {lid for _, lid, outcome in calls if outcome == "answered"}
        assert answered, "some calls were answered"
        with pg_engine.connect() as conn:
            incidents = conn.scalars(
                select(INCIDENTS.c.call_linkedid).where(
                    INCIDENTS.c.call_linkedid.in_([lid for _, lid, _ in calls])
                )
            ).all()
        assert sorted(incidents) == sorted(answered)  # one per answered call, no other
    finally:
        if active.poll() is None:
            active.kill()
        active.wait()
        log.close()
        for p in procs:
            stop(p)
        if standby is not None:
            await standby.shutdown()
