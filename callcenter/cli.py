"""The `callcenter` command."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import structlog

from callcenter import __version__
from callcenter.ami import AMIError
from callcenter.config import Config, ConfigError, load_config
from callcenter.logging import setup_logging


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: $CALLCENTER_CONFIG, else the embedded defaults)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"callcenter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the daemon")
    _add_config(p)
    p = sub.add_parser("check-config", help="validate the configuration")
    _add_config(p)
    p = sub.add_parser("lab", help="a private Asterisk on loopback")
    p.add_argument("action", choices=["up", "down", "status"])
    _add_config(p)
    return parser


def cmd_check_config(cfg: Config, path: str | None) -> int:
    print(
        f"ok: {path or 'embedded defaults'}: {len(cfg.queues)} queue(s), "
        f"{len(cfg.agents)} agent(s), database {cfg.database.url.split(':', 1)[0]}"
    )
    return 0


def cmd_lab(cfg: Config, action: str) -> int:
    from callcenter.lab import Lab, LabError

    lab = Lab(cfg)
    try:
        if action == "up":
            st = lab.up()
            print(
                f"lab up: pid {st.pid}, SIP udp 127.0.0.1:{st.sip_port}, "
                f"AMI 127.0.0.1:{st.ami_port}, folder {st.workdir}"
            )
        elif action == "down":
            print("lab down" if lab.down() else "lab was not running")
        else:
            current = lab.running()
            if current is None:
                print("lab: not running")
                return 3
            print(
                f"lab: running, pid {current.pid}, SIP udp 127.0.0.1:{current.sip_port}, "
                f"AMI 127.0.0.1:{current.ami_port}"
            )
    except LabError as exc:
        print(f"callcenter lab {action}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run_daemon(cfg: Config) -> int:
    from callcenter.daemon import Daemon, resolve_ami_target

    log = structlog.get_logger("callcenter")
    target = resolve_ami_target(cfg)
    daemon = Daemon(cfg, target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.info("daemon.signal", signal=sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    await daemon.run(stop)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return cmd_check_config(cfg, args.config)
    if args.command == "lab":
        return cmd_lab(cfg, args.action)
    setup_logging(cfg.log.format, cfg.log.level)
    try:
        return asyncio.run(_run_daemon(cfg))
    except ConfigError as exc:
        print("callcenter run: " + "; ".join(exc.problems), file=sys.stderr)
        return 2
    except AMIError as exc:
        print(f"callcenter run: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
