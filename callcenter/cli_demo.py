"""`callcenter lab demo`: the lab, the daemon and the living demo in one process (see
callcenter/lab/demo.py). Ctrl-C or SIGTERM stops the callers and the phones, then the
daemon; the lab Asterisk stays up, as after `callcenter run` (`callcenter lab down`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import TYPE_CHECKING

import structlog

from callcenter.config import Config

if TYPE_CHECKING:
    from callcenter.lab import Lab


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("demo (lab demo only)")
    g.add_argument("--rate", type=float, default=4.0, metavar="N",
                   help="callers per minute, on average (default 4)")  # fmt: skip
    g.add_argument("--seed", type=int, default=None, metavar="N",
                   help="the same callers and delays on every run")  # fmt: skip
    g.add_argument("--pause-every", type=float, default=60.0, metavar="SECONDS",
                   help="an agent pauses this often, on average (default 60)")  # fmt: skip
    g.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                   help="stop after this long (default: until Ctrl-C)")  # fmt: skip


def _open_line(lab: Lab, hours: float = 24.0) -> None:
    """The demo takes calls at any hour: the mode open in AstDB for a day, as the daemon
    would write it in service hours (the demo's daemon is told not to manage it)."""
    lab.cli("database put callcenter mode open")
    lab.cli(f"database put callcenter mode_until {int(time.time() + hours * 3600)}")


def cmd_lab_demo(cfg: Config, args: argparse.Namespace) -> int:
    from callcenter.lab import Lab, LabError
    from callcenter.lab.demo import DemoError
    from callcenter.lab.softphone import SoftphoneError

    if args.rate <= 0 or args.rate > 120:
        print("callcenter lab demo: --rate: between 0 and 120 callers a minute", file=sys.stderr)
        return 2
    if not 5 <= args.pause_every <= 3600:
        print("callcenter lab demo: --pause-every: between 5 and 3600 seconds", file=sys.stderr)
        return 2
    try:
        lab = Lab(cfg)
        lab.up()
        _open_line(lab)
        return asyncio.run(_demo(cfg, lab, args))
    except (LabError, DemoError, SoftphoneError) as exc:
        print(f"callcenter lab demo: {exc}", file=sys.stderr)
        return 1


async def _demo(cfg: Config, lab: Lab, args: argparse.Namespace) -> int:
    from callcenter.ami_target import resolve_ami_target
    from callcenter.daemon import Daemon
    from callcenter.lab.demo import Demo, DemoPlan
    from callcenter.web.serve import serve

    st = lab.running()
    if st is None:
        print("callcenter lab demo: the lab stopped during start-up", file=sys.stderr)
        return 1
    log = structlog.get_logger("callcenter.demo")
    # The demo keeps the line open itself (_open_line): the calendar would close it at night.
    dcfg = cfg.model_copy(update={"service": cfg.service.model_copy(update={"manage_mode": False})})
    daemon = serve(Daemon(dcfg, resolve_ami_target(dcfg)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    daemon_task = asyncio.create_task(daemon.run(stop), name="daemon")
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait({daemon_task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not daemon.ready.is_set():
        ready.cancel()
        await daemon_task
        return 3
    every = args.pause_every
    plan = DemoPlan(
        calls_per_minute=args.rate, pause_every=(every * 0.75, every * 1.25), seed=args.seed
    )
    demo = Demo(st, cfg.agents, daemon.agents, lab.work / "demo", plan, cfg.lab.trunk_address)
    demo_task = asyncio.create_task(demo.run(stop), name="demo")
    agents = ", ".join(f"{a.id} ({a.name})" for a in demo.agents)
    url = f"http://{cfg.http.host}:{cfg.http.port}"
    print(
        f"demo: lab SIP 127.0.0.1:{st.sip_port}; softphones {agents}; "
        f"about {args.rate:g} callers a minute into {plan.queue_number} and {plan.ivr_number}.\n"
        f"demo: wallboard {url}/wallboard, agent console {url}/console; log in with a token "
        "from `callcenter token create --name demo --role supervisor` "
        "(an agent's: --role agent --agent agent1). Ctrl-C stops the demo.",
        flush=True,
    )
    log.info("demo.started", agents=[a.id for a in demo.agents], rate=args.rate)
    waiters: set[asyncio.Task[None]] = {daemon_task, demo_task}
    if args.duration > 0:
        waiters.add(asyncio.create_task(asyncio.sleep(args.duration)))
    # Whichever ends first (Ctrl-C, the duration, the daemon or the demo failing) ends all.
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    for w in waiters - {daemon_task, demo_task}:
        w.cancel()
    await asyncio.gather(demo_task, return_exceptions=True)
    # A killed sipp caller sends no BYE: its call would wait in the queue for ever.
    lab.cli("channel request hangup all", check=False)
    await daemon_task
    failed = demo_task.exception() if demo_task.done() and not demo_task.cancelled() else None
    log.info("demo.stopped", placed=demo.placed)
    if failed is not None:
        print(f"callcenter lab demo: {failed}", file=sys.stderr)
        return 1
    return 3 if daemon.failed else 0
