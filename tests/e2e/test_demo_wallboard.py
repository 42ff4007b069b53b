"""The living demo as a newcomer sees it (issue 14): `callcenter lab demo` on a lab of its
own, the wallboard and an agent's console in Chromium. Within 30 s callers arrive, wait
and are answered by the registered softphones, and the console pops an incident. The
wallboard is photographed for docs/screenshots/wallboard-demo.png."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from callcenter.config import load_config
from tests.e2e.conftest import Browsers
from tests.integration.test_demo import demo_dir  # noqa: F401  (the fixture, found by name)

CLI = [sys.executable, "-m", "callcenter"]
NEWCOMER_SECONDS = 30.0  # the issue: calls arrive, wait and are answered within 30 s


def token(conf: Path, *args: str) -> str:
    made = subprocess.run(
        [*CLI, "token", "create", *args, "--config", str(conf)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return made.stdout.strip().split()[-1]


def healthy(url: str) -> bool:
    try:
        # A loopback URL this test built.
        with urllib.request.urlopen(url, timeout=2) as res:  # noqa: S310
            return bool(res.status == 200)
    except OSError:
        return False


def row(queue: str, agent: str) -> str:
    return f"article[data-queue='{queue}'] tr[data-agent='{agent}']"


async def test_a_newcomer_sees_the_demo_live(demo_dir: Path, browsers: Browsers) -> None:  # noqa: F811
    conf = demo_dir / "demo.toml"
    cfg = load_config(conf)
    sup = token(conf, "--name", "newcomer", "--role", "supervisor")
    agent = token(conf, "--name", "agent one", "--role", "agent", "--agent", "agent1")
    demo = subprocess.Popen(  # noqa: ASYNC220 (it only starts the process)
        [*CLI, "lab", "demo", "--rate", "20", "--seed", "5", "--config", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=demo_dir,
    )  # fmt: skip
    try:
        browsers.base = f"http://127.0.0.1:{cfg.http.port}"
        wallboard = await browsers.open("wallboard")
        console = await browsers.open("console")
        started = time.monotonic()
        for _ in range(120):  # the demo's daemon takes a few seconds to listen
            assert demo.poll() is None, demo.communicate()[1][-2000:]
            if await asyncio.to_thread(healthy, f"{browsers.base}/healthz"):
                break
            await asyncio.sleep(0.5)
        await wallboard.login(sup, "/wallboard")
        await console.login(agent, "/console")
        # A caller waiting in the queue, then an agent talking to one: within 30 s.
        await wallboard.wait_css("article[data-queue='support'] tr[data-caller]",
                                 timeout=NEWCOMER_SECONDS)  # fmt: skip
        await wallboard.wait_css(
            f"{row('support', 'agent1')}[data-state='on_call'], "
            f"{row('support', 'agent2')}[data-state='on_call']",
            timeout=NEWCOMER_SECONDS,
        )
        print(f"a call waited and was answered on the wallboard {time.monotonic() - started:.1f} s "
              "after the demo started")  # fmt: skip
        # Agent One's console pops the incident of a call it answers.
        await console.wait_css("#incident-pop", timeout=60)
        # The photograph once a few calls are done: today's figures are figures.
        for _ in range(120):
            done = await wallboard.text("#totals [data-figure='answered'] .tile-value")
            if done.isdigit() and int(done) >= 3:
                break
            await asyncio.sleep(0.5)
        await wallboard.screenshot("wallboard-demo.png")
        assert await wallboard.script_errors() == []
        assert await console.script_errors() == []
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.communicate()
