"""`callcenter reconcile` and `callcenter calls rebuild`: the calls table re-checked
against, and re-derived from, the stored record; `callcenter agents activity`: the
agents' activity per day, re-derived from the stored events first with --rebuild."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TextIO

from sqlalchemy import Engine

from callcenter.config import Config


def add_parsers(sub: Any, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "reconcile",
        help="check a day's calls against the PBX record (CEL) and fix what is missing",
    )
    p.add_argument("--day", metavar="YYYY-MM-DD", required=True, type=date.fromisoformat)
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    add_config(p)
    p = sub.add_parser("calls", help="the call records")
    csub = p.add_subparsers(dest="calls_action", required=True)
    q = csub.add_parser(
        "rebuild",
        help="re-derive the call records of local days [from, to) from the stored record",
    )
    q.add_argument("--from", dest="day_from", metavar="YYYY-MM-DD", required=True,
                   type=date.fromisoformat)  # fmt: skip
    q.add_argument("--to", dest="day_to", metavar="YYYY-MM-DD", required=True,
                   type=date.fromisoformat)  # fmt: skip
    q.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    add_config(q)
    p = sub.add_parser("agents", help="the agents' activity")
    asub = p.add_subparsers(dest="agents_action", required=True)
    q = asub.add_parser(
        "activity",
        help="each agent's login, pause, talk, wrap-up and occupancy per local day [from, to)",
    )
    q.add_argument("--from", dest="day_from", metavar="YYYY-MM-DD", required=True,
                   type=date.fromisoformat)  # fmt: skip
    q.add_argument("--to", dest="day_to", metavar="YYYY-MM-DD", required=True,
                   type=date.fromisoformat)  # fmt: skip
    q.add_argument("--agent", help="one agent's days")
    q.add_argument(
        "--rebuild",
        action="store_true",
        help="first re-derive the period's record from the stored AMI events (and the "
        "stored queue_log lines)",
    )
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_config(q)


class Bar:
    """A progress bar on a terminal; nothing at all when the output is a file or a pipe."""

    def __init__(self, label: str, out: TextIO = sys.stderr) -> None:
        self.label = label
        self.out = out
        self.on = out.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.on:
            return
        width = 30
        filled = width if total <= 0 else min(width, width * done // max(1, total))
        self.out.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.out.flush()

    def close(self) -> None:
        if self.on:
            self.out.write("\n")


def _engine(cfg: Config) -> Engine:
    from callcenter.store.db import make_engine, migrate

    engine = make_engine(cfg.database_url())
    migrate(engine)
    return engine


def cmd_reconcile(cfg: Config, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.ami_target import cel_path
    from callcenter.pbxrecord.reader import CelFileReader
    from callcenter.pbxrecord.reconcile import classifier_for, reconcile_day

    if not 2000 <= args.day.year <= 9998:
        print(f"callcenter reconcile: --day {args.day} is out of range", file=sys.stderr)
        return 2
    try:
        engine = _engine(cfg)
    except SQLAlchemyError as exc:
        print(f"callcenter reconcile: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    try:
        path = cel_path(cfg)
        read = None
        if cfg.pbx_record.enabled and path.exists():
            # Whatever the daemon has not read yet (it may be stopped) is read first.
            bar = Bar("reconcile: PBX record bytes")
            read = CelFileReader(engine, cfg.server.id, path).read_available(
                max_bytes=1 << 40, progress=bar
            )
            bar.close()
        report = reconcile_day(
            engine, classifier_for(cfg.server.id, cfg.service, cfg.metrics, cfg.agents), args.day
        )
    except SQLAlchemyError as exc:
        print(f"callcenter reconcile: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        doc = {
            "day": report.day,
            "lines_read": read.lines if read else 0,
            "in_record": report.in_record,
            "in_calls": report.in_calls,
            "added": report.count("added"),
            "replaced": report.count("replaced"),
            "differs": report.count("differs"),
            "not_in_record": report.count("not_in_record"),
            "differences": [d.__dict__ for d in report.differences],
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(f"Reconciled {report.day} ({cfg.service.timezone}) against the PBX record ({path})")
    print(f"  calls in the PBX record: {report.in_record}; in the calls table: {report.in_calls}")
    for action, what in (
        ("added", "added (missing from the calls table)"),
        ("replaced", "replaced (an estimate, now with the real times)"),
        ("differs", "differ (the live record kept)"),
        ("not_in_record", "not in the PBX record"),
    ):
        print(f"  {what}: {report.count(action)}")
    for d in report.differences:
        print(f"    {d.action:13} {d.linkedid}  {d.before or '-'} -> {d.after or '-'}  {d.detail}")
    return 0


def cmd_calls(cfg: Config, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.rebuild import rebuild_calls

    if args.day_from >= args.day_to:
        print("callcenter calls rebuild: --from must be before --to ([from, to))", file=sys.stderr)
        return 2
    if args.day_to - args.day_from > timedelta(days=366) or args.day_from.year < 2000:
        print("callcenter calls rebuild: a period of at most a year, after 2000", file=sys.stderr)
        return 2
    bar = Bar("rebuild: events")
    try:
        engine = _engine(cfg)
        try:
            report = rebuild_calls(engine, cfg, args.day_from, args.day_to, progress=bar)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        bar.close()
        print(f"callcenter calls rebuild: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0
    last = args.day_to - timedelta(days=1)
    print(f"Rebuilt the calls of {report.day_from} to {last.isoformat()}")
    print(f"  events replayed: {report.events}; calls from them: {report.from_events}; "
          f"from the PBX record: {report.from_record}")  # fmt: skip
    print(f"  {'outcome':18} {'before':>8} {'after':>8}")
    for outcome, v in report.to_dict()["outcomes"].items():
        print(f"  {outcome:18} {v['before']:>8} {v['after']:>8}")
    print(f"  calls that moved: {len(report.moved)}")
    for m in report.moved[:50]:
        print(f"    {m.linkedid}  {m.before or '(none)'} -> {m.after}")
    return 0


def cmd_agents(cfg: Config, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.agents.activity import local_day_bounds
    from callcenter.agents.pbxsource import agent_names
    from callcenter.agents.queuelog import record_from_queue_log
    from callcenter.agents.record import activity_by_agent, rebuild_activity

    if args.day_from >= args.day_to:
        print("callcenter agents activity: --from must be before --to", file=sys.stderr)
        return 2
    if args.day_to - args.day_from > timedelta(days=366) or args.day_from.year < 2000:
        print("callcenter agents activity: a period of at most a year, after 2000", file=sys.stderr)
        return 2
    tz = ZoneInfo(cfg.service.timezone)
    try:
        engine = _engine(cfg)
        try:
            if args.rebuild:
                start = local_day_bounds(args.day_from, tz)
                end = local_day_bounds(args.day_to, tz)
                found = rebuild_activity(engine, cfg.server.id, start, end)
                print(f"rebuilt from the event log: {found} activity events", file=sys.stderr)
                names = agent_names((a.id, a.name) for a in cfg.agents)
                found = record_from_queue_log(engine, cfg.server.id, names, from_start=True)
                print(f"rebuilt from the queue_log: {found} activity events", file=sys.stderr)
            days = activity_by_agent(
                engine,
                cfg.server.id,
                tz,
                args.day_from,
                args.day_to,
                wrapup={q.name: float(q.wrapuptime) for q in cfg.queues},
                agent=args.agent,
            )
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        print(f"callcenter agents activity: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([d.to_dict() for d in days], ensure_ascii=False, indent=2))
        return 0
    print(f"{'agent':12} {'day':10} {'login':>8} {'pause':>8} {'talk':>8} {'wrap-up':>8} "
          f"{'occupancy':>9}  pauses by reason / unknown")  # fmt: skip
    for d in days:
        occ = "-" if d.occupancy is None else f"{d.occupancy:.1%}"
        reasons = ", ".join(
            f"{r or '(none)'} {_hm(s)}" for r, s in sorted(d.pause_by_reason.items())
        )
        gaps = " unknown: " + ", ".join(
            f"{i.start.astimezone(tz):%H:%M}-{i.end.astimezone(tz):%H:%M}" for i in d.unknown
        ) if d.unknown else ""  # fmt: skip
        times = (d.login_seconds, d.pause_seconds, d.talk_seconds, d.wrapup_seconds)
        cols = " ".join(f"{_hm(s):>8}" for s in times)
        print(f"{d.agent:12} {d.day:10} {cols} {occ:>9}  {reasons}{gaps}")
    return 0


def _hm(seconds: float) -> str:
    m = round(seconds) // 60
    return f"{m // 60}:{m % 60:02d}"
