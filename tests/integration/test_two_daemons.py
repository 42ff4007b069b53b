"""Two daemons of one PBX on one PostgreSQL (issue 13): a call opens one incident, its
webhook is queued once and posted once, though both daemons follow the call and both
run a sender; a page's session opened on one daemon is good on the other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
from sqlalchemy import Engine, delete, func, select

from callcenter.daemon import Daemon
from callcenter.incidents.store import INCIDENTS
from callcenter.web.auth import SESSION_COOKIE
from callcenter.web.page_kit import LOGIN_COOKIE
from callcenter.web.serve import http_of, serve
from callcenter.webhooks.outbox import TABLE as OUTBOX
from callcenter.webhooks.settings import WebhookSettings
from tests.integration.conftest import RunningDaemon, finished_call, wait_for
from tests.support.sipp import Sipp, finish, stop
from tests.unit.webhooks.support import SECRET, SLOW, Receiver


async def test_two_daemons_send_a_calls_webhook_once_and_share_page_sessions(
    daemon_factory: Callable[..., Daemon],
    pg_engine: Engine,
    sipp: Sipp,
    agent_ports: dict[str, int],
    tmp_path: Path,
) -> None:
    with pg_engine.begin() as conn:
        conn.execute(delete(OUTBOX))
    # SLOW: each post takes 20 ms, a window in which the other sender finds the row due.
    receiver = await Receiver(default=SLOW).start()
    url = pg_engine.url.render_as_string(hide_password=False)
    hooks = WebhookSettings(urls=(receiver.url("hook"),), secret=SECRET, retry_min=0.1,
                            retry_max=0.3)  # fmt: skip
    running: list[RunningDaemon] = []
    for n in range(2):
        base = daemon_factory(url)
        database = base.cfg.database.model_copy(update={"spool_dir": str(tmp_path / f"spool{n}")})
        cfg = base.cfg.model_copy(update={"webhooks": hooks, "database": database})
        base.engine.dispose()
        daemon = serve(Daemon(cfg, base.target))
        assert daemon.webhooks is not None
        daemon.webhooks.poll_interval = 0.005  # both read the table all the time
        running.append(RunningDaemon(daemon))
    for rd in running:
        await rd.start()
    a, b = (rd.daemon for rd in running)
    assert a.cfg.server.id == b.cfg.server.id  # one PBX, two daemons
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1)
    try:
        await asyncio.to_thread(
            finish, sipp.caller("1000", [("0311113301", "二重 一郎")], talk_ms=1500), 30
        )
        records = [await finished_call(rd, "0311113301") for rd in running]
        linkedid = records[0].linkedid
        assert records[1].linkedid == linkedid  # both followed the call

        def settled() -> bool:
            return all(d.incidents is not None and d.incidents.pending == 0 for d in (a, b))

        await wait_for(settled, 10, "both daemons stored the call's incident")

        def created() -> list[dict[str, object]]:
            bodies = [json.loads(x.body) for x in receiver.accepted("hook")]
            return [
                x
                for x in bodies
                if x["event"] == "incident.created" and x["data"]["call_linkedid"] == linkedid
            ]

        await wait_for(lambda: len(created()) >= 1, 15, "the incident's webhook")
        # Both senders poll the table meanwhile: give a second post every chance.
        await asyncio.sleep(3.0)
        assert len(created()) == 1
        with pg_engine.connect() as conn:
            n_incidents = conn.scalar(
                select(func.count())
                .select_from(INCIDENTS)
                .where(INCIDENTS.c.call_linkedid == linkedid)
            )
            queued = conn.scalar(select(func.count()).select_from(OUTBOX))
        assert n_incidents == 1
        assert queued == 1  # queued once, by the daemon that opened it
        assert len({x.delivery_id for x in receiver.on("hook")}) == 1

        # A page logged in on one daemon is logged in on the other.
        token = http_of(a).tokens.create("suzuki", "supervisor")[0]
        ports = [http_of(d).port for d in (a, b)]
        # unsafe: the jar keeps cookies of an IP address (the login's nonce cookie).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            base_a = f"http://127.0.0.1:{ports[0]}"
            async with http.get(f"{base_a}/login?lang=en") as r:
                nonce = r.cookies[LOGIN_COOKIE].value
            form = {"nonce": nonce, "token": token}
            async with http.post(f"{base_a}/login", data=form, allow_redirects=False) as r:
                assert r.status == 303
                sid = r.cookies[SESSION_COOKIE].value
        async with aiohttp.ClientSession() as http:
            cookie = {"Cookie": f"{SESSION_COOKIE}={sid}"}
            async with http.get(f"http://127.0.0.1:{ports[1]}/api/v1/incidents",
                                headers=cookie) as r:  # fmt: skip
                assert r.status == 200
    finally:
        stop(agent)
        for rd in running:
            await rd.shutdown()
        await receiver.stop()
