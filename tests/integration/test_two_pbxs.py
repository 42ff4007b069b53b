"""Two PBXs, one PostgreSQL (issue 13): two lab Asterisks, a daemon each with its own
server id. Real calls into both give exact combined and per-server figures, and a
supervisor on pbx1's daemon sees a caller waiting on pbx2 (through live_states and
LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import Engine, delete

from callcenter.config import Config, ServerConfig
from callcenter.daemon import Daemon
from callcenter.lab import Lab, LabState
from callcenter.lab.settings import LabConfig
from callcenter.metrics import query_figures
from callcenter.store.calls import TABLE as CALLS
from callcenter.store.live_states import TABLE as LIVE_STATES
from callcenter.store.settings import DatabaseConfig
from callcenter.web.live_delta import LiveView
from callcenter.web.serve import http_of, serve
from tests.integration.conftest import RunningDaemon, finished_call, set_mode, target_of, wait_for
from tests.support.sipp import Sipp, finish, free_udp_port, stop


@pytest.fixture(scope="module")
def second_lab(lab_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    tuple[Lab, dict[str, int]]
]:  # fmt: skip
    """A second lab Asterisk with the same number plan, its own ports and phones."""
    base = tmp_path_factory.mktemp("lab2")
    ports = {a.id: free_udp_port() for a in lab_config.agents}
    cfg = lab_config.model_copy(
        update={
            "lab": LabConfig(workdir=str(base / "lab"), trunk_port=free_udp_port()),
            "database": DatabaseConfig(url=f"sqlite:///{base / 'cc.db'}",
                                       spool_dir=str(base / "spool")),
            "agents": tuple(
                a.model_copy(update={"contact": f"sip:{a.id}@127.0.0.1:{ports[a.id]}"})
                for a in lab_config.agents
            ),
            "base_dir": base,
        }
    )  # fmt: skip
    lab = Lab(cfg)
    lab.up()
    set_mode(lab, "open")
    yield lab, ports
    lab.down()


class Watch:
    """A websocket client, as a page: deltas applied, each message's sections kept."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.view = LiveView()
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.seen.append((time.monotonic(), self.view.sections_of(json.loads(msg.data))))

    async def first(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, m in self.seen:
                if predicate(m):
                    return at
            await asyncio.sleep(0.01)
        raise AssertionError(f"no such message in {timeout}s")


def waiting_on(queue: str, number: str) -> Callable[[dict[str, Any]], bool]:
    def holds(m: dict[str, Any]) -> bool:
        for q in m.get("data", {}).get("queues", []):
            if q["name"] == queue and any(w.get("caller_num") == number for w in q["waiting"]):
                return True
        return False

    return holds


async def test_two_pbxs_one_database_one_wallboard(
    daemon_factory: Callable[..., Daemon],
    pg_engine: Engine,
    lab_state: LabState,
    second_lab: tuple[Lab, dict[str, int]],
    sipp: Sipp,
    agent_ports: dict[str, int],
    tmp_path: Path,
) -> None:
    lab2, ports2 = second_lab
    state2 = lab2.running() or lab2.up()
    with pg_engine.begin() as conn:
        conn.execute(delete(LIVE_STATES))  # earlier tests' servers
        conn.execute(delete(CALLS))  # and their calls: the combined figures are these two
    url = pg_engine.url.render_as_string(hide_password=False)
    running: list[RunningDaemon] = []
    for n, (sid, state) in enumerate((("pbx1", lab_state), ("pbx2", state2))):
        base = daemon_factory(url, target=target_of(state))
        database = base.cfg.database.model_copy(update={"spool_dir": str(tmp_path / f"s{n}")})
        cfg = base.cfg.model_copy(update={"server": ServerConfig(id=sid), "database": database})
        base.engine.dispose()
        running.append(RunningDaemon(serve(Daemon(cfg, base.target))))
    for rd in running:
        await rd.start()
    a, b = (rd.daemon for rd in running)
    front_a, front_b = http_of(a), http_of(b)
    clusters = [f.cluster for f in (front_a, front_b)]
    assert all(c is not None for c in clusters)
    await wait_for(lambda: all(c is not None and c.listening for c in clusters), 10,
                   "both daemons listen")  # fmt: skip
    tokens = [f.tokens.create("suzuki", "supervisor", None)[0] for f in (front_a, front_b)]
    sipp2 = Sipp(state2.sip_port)
    procs = []
    try:
        async with aiohttp.ClientSession() as http:
            watches = []
            for front, token in zip((front_a, front_b), tokens, strict=True):
                ws = await http.ws_connect(
                    f"http://127.0.0.1:{front.port}/api/v1/live",
                    headers={"Authorization": f"Bearer {token}"},
                )
                watches.append(Watch(ws))
            on_a, on_b = watches
            # pbx2's agent rings 4 s before answering: its caller waits in the queue. (A
            # caller's talk_ms runs from the dialplan's answer, before the queue.)
            procs.append(sipp2.agent(ports2["agent1"], answer_ms=4000, calls=1))
            procs.append(sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1))
            call2 = sipp2.caller("1000", [("0322220001", "二号 花子")], talk_ms=7000)
            call1 = sipp.caller("1000", [("0311110001", "一号 太郎")], talk_ms=3000)
            procs += [call1, call2]
            # The same queue name on both: apart, as support@pbx1 / support@pbx2.
            seen_b = await on_b.first(waiting_on("support@pbx2", "0322220001"), 15)
            seen_a = await on_a.first(waiting_on("support@pbx2", "0322220001"), 5)
            print(f"pbx2's waiting caller reached pbx1's wallboard {1000 * (seen_a - seen_b):.0f} "
                  "ms after pbx2's own")  # fmt: skip
            await asyncio.to_thread(finish, call1, 40)
            await asyncio.to_thread(finish, call2, 40)
            rec_a = await finished_call(running[0], "0311110001")
            rec_b = await finished_call(running[1], "0322220001")
            for w in watches:
                await w.ws.close()
    finally:
        for p in procs:
            stop(p)
        for rd in running:
            await rd.shutdown()
    assert (rec_a.server_id, rec_b.server_id) == ("pbx1", "pbx2")
    assert rec_a.outcome is not None
    assert rec_a.outcome.value == "answered"
    assert rec_b.outcome is not None
    assert rec_b.outcome.value == "answered"
    tz = ZoneInfo(a.cfg.service.timezone)
    day = datetime.fromtimestamp(rec_a.arrived_at, tz).date()
    day_from, day_to = day.isoformat(), (day + timedelta(days=1)).isoformat()
    both = query_figures(pg_engine, a.cfg.metrics, day_from, day_to)
    one = query_figures(pg_engine, a.cfg.metrics, day_from, day_to, server_id="pbx1")
    two = query_figures(pg_engine, a.cfg.metrics, day_from, day_to, server_id="pbx2")
    assert (one.answered, two.answered) == (1, 1)
    assert both.answered == one.answered + two.answered
    assert both.calls == one.calls + two.calls
    # pbx2's caller waited about 4 s for its agent: the combined longest wait is it.
    assert both.max_wait_seconds == two.max_wait_seconds
    assert two.max_wait_seconds is not None
    assert two.max_wait_seconds >= 3.5
