"""/healthz, /readyz and Prometheus /metrics of a daemon on the lab: ready once the AMI
link is up and resynced and the database takes writes; not ready (503, with the reason)
while the AMI cannot be reached; the metrics text parsed by prometheus-client itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from callcenter.daemon import AMITarget, Daemon
from callcenter.web.serve import http_of
from tests.integration.conftest import RunningDaemon
from tests.support.net import free_port


async def test_ready_metrics_and_a_daemon_that_cannot_reach_its_pbx(
    daemon_factory: Callable[..., Daemon],
) -> None:
    rd = RunningDaemon(daemon_factory())
    await rd.start()
    try:
        base = f"http://127.0.0.1:{http_of(rd.daemon).port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert (r.status, (await r.json())["alive"]) == (200, True)
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
                assert r.status == 200, body
                assert body["ready"] is True
                assert set(body["checks"]) == {"ami", "database", "pbx_record", "tasks"}
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        for name in (
            "callcenter_ami_events", "callcenter_ami_connects", "callcenter_ami_bad_frames",
            "callcenter_eventlog_buffered", "callcenter_spool_bytes", "callcenter_calls_today",
            "callcenter_queue_waiting", "callcenter_queue_longest_wait_seconds",
            "callcenter_agents", "callcenter_webhooks_pending", "callcenter_webhooks_dead",
            "callcenter_incidents_backlog", "callcenter_event_loop_lag_seconds",
        ):  # fmt: skip
            assert name in families, name
        connected = families["callcenter_ami_connected"].samples[0].value
        assert connected == 1.0
        assert families["callcenter_ami_events"].samples[0].value > 0
        queues = {s.labels["queue"] for s in families["callcenter_queue_waiting"].samples}
        assert "support" in queues
    finally:
        await rd.shutdown()

    # A daemon whose PBX does not answer: alive, not ready, and it says why.
    cut = daemon_factory(target=AMITarget("127.0.0.1", free_port(), "callcenter", "x"))
    rd = RunningDaemon(cut)
    await rd.start(wait_ready=False)
    try:
        for _ in range(100):  # the HTTP front starts while the AMI client keeps trying
            if http_of(cut).port is not None:
                break
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{http_of(cut).port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
        assert r.status == 503
        assert body["ready"] is False
        assert body["checks"]["ami"] == {"ok": False, "why": "not connected to the AMI"}
        assert body["checks"]["database"] == {"ok": True}
    finally:
        await rd.shutdown()
