"""The `callcenter` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from callcenter import __version__
from callcenter.ami import AMIError
from callcenter.cli_demo import add_demo_arguments, cmd_lab_demo
from callcenter.cli_figures import cmd_incidents, cmd_metrics, cmd_report
from callcenter.cli_history import add_parsers as add_history_parsers
from callcenter.cli_history import cmd_agents, cmd_calls, cmd_reconcile
from callcenter.cli_prompts import add_parsers as add_prompts_parsers
from callcenter.cli_prompts import cmd_prompts
from callcenter.config import Config, ConfigError, example_config_text, load_config
from callcenter.logging import setup_logging
from callcenter.web.auth import ROLES

if TYPE_CHECKING:
    pass


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
    sub.add_parser(
        "example-config",
        help="print the documented example configuration (every key with its default)",
    )
    p = sub.add_parser("dialplan", help="the Asterisk files for the config")
    p.add_argument("action", choices=["render"])
    p.add_argument(
        "--out",
        metavar="DIR",
        default="var/dialplan",
        help="folder to write into (default: var/dialplan)",
    )
    _add_config(p)
    p = sub.add_parser("lab", help="a private Asterisk on loopback")
    p.add_argument("action", choices=["up", "down", "status", "demo"])
    add_demo_arguments(p)
    _add_config(p)
    p = sub.add_parser(
        "metrics",
        help="call figures (docs/metrics.md) over local days [from, to)",
        description="Call figures (docs/metrics.md) over the calls that arrived on local days "
        "[--from, --to) in the service time zone, from the configured database.",
    )
    p.add_argument("--from", dest="day_from", metavar="YYYY-MM-DD", type=_day, help="first day")
    p.add_argument(
        "--to", dest="day_to", metavar="YYYY-MM-DD", type=_day, help="day after the last day"
    )
    p.add_argument("--today", action="store_true", help="today, in the service time zone")
    p.add_argument("--queue", metavar="NAME", help="only calls of this queue")
    p.add_argument("--server", metavar="ID", help="only calls stored by this server id")
    # The same names as callcenter.metrics.GROUPINGS (not imported: it loads SQLAlchemy).
    p.add_argument("--by", choices=["queue", "agent", "hour", "day", "month", "server"])
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_config(p)
    p = sub.add_parser(
        "mode",
        help="the service mode (after-hours): show it, or a supervisor's override",
        description="Show the service mode the PBX follows, or override the calendar: "
        "'closed' plays the after-hours message now (an emergency closure), 'open' takes "
        "calls outside hours, 'auto' goes back to the calendar. The override is kept in "
        "the PBX (AstDB), so the daemon follows it too, also after a restart.",
    )
    p.add_argument("action", choices=["status", "open", "closed", "auto"])
    p.add_argument(
        "--until",
        metavar="YYYY-MM-DDTHH:MM",
        help="end of the override, in the service time zone "
        "(default: the calendar's next opening or closing)",
    )
    p.add_argument("--for", dest="minutes", type=int, metavar="MINUTES", help="or: for this long")
    p.add_argument("--note", default="", help="who and why, kept with the override")
    _add_config(p)
    p = sub.add_parser("report", help="reports for SLA auditors")
    rsub = p.add_subparsers(dest="report", required=True)
    q = rsub.add_parser(
        "monthly",
        help="the monthly operations report: every contract figure with target and met",
    )
    q.add_argument("--month", metavar="YYYY-MM", required=True)
    # The same names as callcenter.reports.monthly.FORMATS (not imported: it loads SQLAlchemy).
    q.add_argument("--format", choices=["xlsx", "pdf", "html", "csv", "json"], default="html")
    q.add_argument("--lang", choices=["ja", "en"], default="ja")
    q.add_argument(
        "--out", metavar="FILE", help="write here (default: standard output; xlsx and pdf: needed)"
    )
    _add_config(q)
    q = rsub.add_parser(
        "trend",
        help="the yearly trend: the contract's figures month by month over twelve months",
    )
    q.add_argument("--to", dest="last_month", metavar="YYYY-MM", required=True,
                   help="the last month of the twelve")  # fmt: skip
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_config(q)
    p = sub.add_parser("token", help="API bearer tokens (shown once, stored hashed)")
    tsub = p.add_subparsers(dest="tokens", required=True)
    q = tsub.add_parser("create", help="a new token; printed once")
    q.add_argument("--name", required=True, help="who holds it (shown in histories)")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--agent", metavar="ID", help="for role agent: the agent it acts as")
    _add_config(q)
    q = tsub.add_parser("list", help="the tokens (never the tokens themselves)")
    _add_config(q)
    q = tsub.add_parser("revoke", help="revoke a token by id")
    q.add_argument("id", type=int)
    _add_config(q)
    p = sub.add_parser("incidents", help="incident figures and survey imports")
    isub = p.add_subparsers(dest="incidents_action", required=True)
    q = isub.add_parser(
        "figures",
        help="the contract's five incident figures for a month (docs/incidents.md)",
    )
    q.add_argument("--month", metavar="YYYY-MM", required=True)
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_config(q)
    q = isub.add_parser(
        "import-surveys",
        help="satisfaction surveys from a CSV of form answers (all rows or none)",
    )
    q.add_argument("file", metavar="CSV")
    _add_config(q)
    add_history_parsers(sub, _add_config)
    add_prompts_parsers(sub, _add_config)
    return parser


def _day(text: str) -> str:
    from callcenter.metrics import check_day

    try:
        return check_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_check_config(cfg: Config, path: str | None) -> int:
    print(
        f"ok: {path or 'embedded defaults'}: {len(cfg.queues)} queue(s), "
        f"{len(cfg.agents)} agent(s), database {cfg.database.url.split(':', 1)[0]}"
    )
    return 0


def cmd_dialplan_render(cfg: Config, out: str) -> int:
    from pathlib import Path

    from callcenter.dialplan import CONTRACT_NAME, contract_text, render_files

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = render_files(
        cfg, cfg.service, cfg.incidents, followups=cfg.followups, sounds=cfg.sounds_dir()
    )
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        if name == "callcenter-pjsip.conf":
            path.chmod(0o600)  # the agents' SIP passwords
    # The hand-written contract the generated files jump into.
    (folder / CONTRACT_NAME).write_text(contract_text(), encoding="utf-8")
    print(f"wrote {', '.join([CONTRACT_NAME, *files])} to {folder}")
    print(
        "include them: extensions.conf: #include callcenter.conf and callcenter-routes.conf, "
        "and `include => callcenter-routes` in the trunk's context; queues.conf: #include "
        "callcenter-queues.conf; pjsip.conf: #include callcenter-pjsip.conf; "
        "res_parking.conf: #include callcenter-parking.conf; features.conf: #include "
        "callcenter-features.conf (in place of its [general] and [featuremap])"
    )
    return 0


def _until(cfg: Config, args: argparse.Namespace) -> datetime | None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cfg.service.timezone)
    if args.until and args.minutes is not None:
        raise ValueError("give --until or --for, not both")
    if args.minutes is not None:
        if args.minutes <= 0:
            raise ValueError(f"--for: {args.minutes} is not a positive number of minutes")
        return datetime.now(tz) + timedelta(minutes=args.minutes)
    if not args.until:
        return None
    try:
        until = datetime.fromisoformat(args.until)
    except ValueError:
        raise ValueError(f"--until: {args.until!r} is not YYYY-MM-DDTHH:MM") from None
    return until if until.tzinfo is not None else until.replace(tzinfo=tz)


async def _mode(cfg: Config, args: argparse.Namespace) -> int:
    from callcenter.ami import AMIClient
    from callcenter.daemon import resolve_ami_target
    from callcenter.schedule.calendar import BusinessCalendar
    from callcenter.schedule.mode import ModeKeeper

    until = _until(cfg, args)
    target = resolve_ami_target(cfg)
    client = AMIClient(target, cfg.ami)
    await client.start()
    try:
        keeper = ModeKeeper(
            client, BusinessCalendar.from_config(cfg.service), ttl=cfg.service.mode_ttl_seconds
        )
        if args.action in ("open", "closed"):
            decision = await keeper.override(args.action, until, args.note)
        elif args.action == "auto":
            decision = await keeper.clear_override()
        else:
            decision = await keeper.load()
        pbx = await keeper.read_pbx()
    finally:
        await client.close()
    tz = keeper.calendar.tz
    why = {"hours": "service hours", "override": "override"}.get(decision.reason, decision.reason)
    note = f": {decision.note}" if decision.note else ""
    print(
        f"mode: {decision.mode} ({why}{note}) until "
        f"{decision.valid_until.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    )
    mode, vouched = pbx
    if mode is None:
        print("PBX: no mode stored: the dialplan follows its rendered calendar")
    else:
        when = f"{datetime.fromtimestamp(vouched, tz):%Y-%m-%d %H:%M:%S %Z}" if vouched else "-"
        print(f"PBX: {mode}, vouched until {when} (then the rendered calendar)")
    return 0


def cmd_mode(cfg: Config, args: argparse.Namespace) -> int:
    setup_logging(cfg.log.format, "warning")
    try:
        return asyncio.run(_mode(cfg, args))
    except ValueError as exc:
        print(f"callcenter mode: {exc}", file=sys.stderr)
        return 2
    except AMIError as exc:
        print(f"callcenter mode: {exc}", file=sys.stderr)
        return 1


def cmd_token(cfg: Config, args: argparse.Namespace) -> int:
    from callcenter.store.audit import AuditEntry, AuditLog
    from callcenter.store.db import make_engine, migrate
    from callcenter.web.auth import TokenStore

    engine = make_engine(cfg.database_url())
    audit = AuditLog(engine, cfg.server.id)

    def audited(action: str, target: str, detail: dict[str, Any]) -> None:
        # Who ran the command, as the operating system knows them.
        actor = f"cli:{getpass.getuser()}"
        now = datetime.now(UTC)
        audit.append(AuditEntry(now, actor, "operator", action, target, 0, "cli", detail))

    try:
        migrate(engine)
        tokens = TokenStore(engine)
        if args.tokens == "create":
            agents = {a.id for a in cfg.agents}
            if args.role == "agent" and args.agent not in agents:
                print(
                    f"--agent: {args.agent!r} is not a configured agent "
                    f"({', '.join(sorted(agents))})",
                    file=sys.stderr,
                )
                return 2
            try:
                token, record = tokens.create(args.name, args.role, args.agent)
            except ValueError as exc:
                print(f"callcenter token: {exc}", file=sys.stderr)
                return 2
            audited(
                "token.create",
                f"token={record.id}",
                {"name": record.name, "role": record.role, "agent_id": record.agent_id},
            )
            print(f"token {record.id} for {record.name} ({record.role}); shown only now:")
            print(token)
            return 0
        if args.tokens == "revoke":
            if not tokens.revoke(args.id):
                print(f"no active token {args.id}", file=sys.stderr)
                return 1
            audited("token.revoke", f"token={args.id}", {})
            print(f"token {args.id} revoked")
            return 0
        for t in tokens.list():
            state = "revoked" if t.revoked_at else "active"
            agent = f" agent={t.agent_id}" if t.agent_id else ""
            print(f"{t.id:>4}  {t.role:10} {state:8} {t.name}{agent}")
        return 0
    finally:
        engine.dispose()


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
    from callcenter.web.serve import serve

    log = structlog.get_logger("callcenter")
    target = resolve_ami_target(cfg)
    daemon = serve(Daemon(cfg, target))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.info("daemon.signal", signal=sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    await daemon.run(stop)
    if daemon.failed:
        print(
            f"callcenter run: background task {daemon.supervisor.failure} kept failing "
            "(see task.crashed in the log)",
            file=sys.stderr,
        )
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "example-config":
        # Needs no configuration: it is where a new site's configuration comes from.
        sys.stdout.write(example_config_text())
        return 0
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return cmd_check_config(cfg, args.config)
    if args.command == "dialplan":
        return cmd_dialplan_render(cfg, args.out)
    if args.command == "lab" and args.action == "demo":
        setup_logging(cfg.log.format, cfg.log.level)
        return cmd_lab_demo(cfg, args)
    if args.command == "lab":
        return cmd_lab(cfg, args.action)
    if args.command == "metrics":
        return cmd_metrics(cfg, args)
    if args.command == "mode":
        return cmd_mode(cfg, args)
    if args.command == "incidents":
        return cmd_incidents(cfg, args)
    if args.command == "token":
        return cmd_token(cfg, args)
    if args.command == "report":
        return cmd_report(cfg, args)
    if args.command == "reconcile":
        return cmd_reconcile(cfg, args)
    if args.command == "calls":
        return cmd_calls(cfg, args)
    if args.command == "agents":
        return cmd_agents(cfg, args)
    if args.command == "prompts":
        return cmd_prompts(cfg, args)
    setup_logging(cfg.log.format, cfg.log.level)
    try:
        return asyncio.run(_run_daemon(cfg))
    except ConfigError as exc:
        print("callcenter run: " + "; ".join(exc.problems), file=sys.stderr)
        return 2
    except AMIError as exc:
        print(f"callcenter run: {exc}", file=sys.stderr)
        return 1
    except Exception:
        # A bug, not a condition the daemon knows: its traceback as a log line like every
        # other (one JSON object with ``json``, secrets masked), then a failure exit, so
        # systemd restarts it.
        structlog.get_logger("callcenter").critical("daemon.crashed", exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
