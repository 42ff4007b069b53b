"""The `callcenter` commands that read the record into figures: `metrics`, `incidents`
(figures and lists) and `report` (the monthly report and the yearly trend)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from callcenter.config import Config

if TYPE_CHECKING:
    from callcenter.incidents.figures import IncidentTargets


def _incident_targets(cfg: Config) -> IncidentTargets:
    from callcenter.incidents.figures import IncidentTargets

    return IncidentTargets.from_config(cfg.incidents)


def cmd_incidents(cfg: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from callcenter.incidents.figures import month_range, monthly_figures
    from callcenter.incidents.store import IncidentNotFound, IncidentStore
    from callcenter.incidents.survey_csv import SurveyCSVError, parse_surveys
    from callcenter.reports.months import month_bounds
    from callcenter.schedule.calendar import BusinessCalendar
    from callcenter.store.db import make_engine, migrate

    engine = make_engine(cfg.database_url())
    try:
        migrate(engine)
        store = IncidentStore(engine)
        tz = ZoneInfo(cfg.service.timezone)
        if args.incidents_action == "import-surveys":
            try:
                text = Path(args.file).read_text(encoding="utf-8")
                responses = parse_surveys(text, tz)
                stored = store.add_surveys(responses, "csv")
            except OSError as exc:
                print(f"{args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            except (SurveyCSVError, UnicodeDecodeError) as exc:
                problems = getattr(exc, "problems", [str(exc)])
                print(
                    f"{args.file}: nothing imported, {len(problems)} problem(s):", file=sys.stderr
                )
                for problem in problems:
                    print(f"  - {problem}", file=sys.stderr)
                return 2
            except IncidentNotFound as exc:
                print(f"{args.file}: nothing imported: {exc}", file=sys.stderr)
                return 2
            print(
                f"{args.file}: {stored} survey(s) imported, {len(responses) - stored} already there"
            )
            return 0
        try:
            year, month, _, _ = month_bounds(args.month)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        start, end = month_range(year, month, tz)
        cal = BusinessCalendar.from_config(cfg.service)
        figures = monthly_figures(
            store.received_between(start, end),
            store.surveys(start, end),
            cal,
            year,
            month,
            _incident_targets(cfg),
        )
    finally:
        engine.dispose()
    data = figures_dict(figures)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"incidents received {args.month}: {data['incidents']} (unresolved {data['unresolved']})")
    for name, f in data["figures"].items():
        met = {True: "met", False: "NOT met", None: "no data"}[f["met"]]
        print(f"  {name:28} {f['value']!s:>10}  over {f['count']:>4}  target {f['target']}  {met}")
    return 0


def figures_dict(figures: Any) -> dict[str, Any]:
    return {
        "incidents": figures.incidents,
        "unresolved": figures.unresolved,
        "figures": {name: f.to_dict() for name, f in figures.figures().items()},
    }


def cmd_report(cfg: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.reports.monthly import BINARY_FORMATS, build, render
    from callcenter.reports.months import month_bounds
    from callcenter.reports.providers import providers_for
    from callcenter.reports.trend import build_trend, trend_dict, trend_text
    from callcenter.store.db import make_engine, migrate

    month = args.month if args.report == "monthly" else args.last_month
    try:
        month_bounds(month)
    except ValueError as exc:
        flag = "--month" if args.report == "monthly" else "--to"
        print(f"callcenter report: {str(exc).replace('--month', flag)}", file=sys.stderr)
        return 2
    if args.report == "monthly" and args.format in BINARY_FORMATS and not args.out:
        print(f"callcenter report: --format {args.format} needs --out FILE", file=sys.stderr)
        return 2
    engine = make_engine(cfg.database_url())
    try:
        migrate(engine)
        if args.report == "trend":
            rows = build_trend(engine, cfg.service, cfg.metrics, _incident_targets(cfg), month)
        else:
            now = datetime.now(ZoneInfo(cfg.service.timezone))
            report = build(
                engine,
                cfg.service,
                cfg.metrics,
                month,
                _incident_targets(cfg),
                now,
                providers_for(cfg.server.id, cfg.queues),
                same_name_queues=cfg.cluster.same_name_queues,
            )
    except SQLAlchemyError as exc:
        print(f"callcenter report: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.report == "trend":
        if args.json:
            print(json.dumps(trend_dict(rows), ensure_ascii=False, indent=2))
        else:
            print(f"Twelve months to {month} ({cfg.service.timezone})")
            print("\n".join(trend_text(rows)))
        return 0
    data = render(report, args.format, args.lang)
    if args.out:
        try:
            Path(args.out).write_bytes(data)
        except OSError as exc:
            print(f"callcenter report: {args.out}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def cmd_metrics(cfg: Config, args: argparse.Namespace) -> int:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy.exc import SQLAlchemyError

    from callcenter.metrics import combine, query_figures, query_figures_by
    from callcenter.metrics.period import period_record, period_record_text
    from callcenter.metrics.report import figures_text, grouped_json, grouped_text
    from callcenter.store.db import make_engine, migrate

    def usage(problem: str) -> int:
        print(f"callcenter metrics: {problem}", file=sys.stderr)
        return 2

    if args.today:
        if args.day_from or args.day_to:
            return usage("--today cannot go with --from or --to")
        today = datetime.now(ZoneInfo(cfg.service.timezone)).date()
        day_from, day_to = today.isoformat(), (today + timedelta(days=1)).isoformat()
    elif args.day_from is None or args.day_to is None:
        return usage("give --from and --to (YYYY-MM-DD), or --today")
    else:
        day_from, day_to = args.day_from, args.day_to
    if day_from >= day_to:
        return usage(f"--from {day_from} must be before --to {day_to} (the period is [from, to))")
    where = {"queue": args.queue, "server_id": args.server}
    engine = make_engine(cfg.database_url())
    try:
        migrate(engine)  # an empty or older database still answers (with zeros)
        if args.by is None:
            figures = query_figures(engine, cfg.metrics, day_from, day_to, **where)
        else:
            groups = query_figures_by(engine, cfg.metrics, args.by, day_from, day_to, **where)
            # Every call is in exactly one group, so the groups add up to the total.
            figures = combine(groups.values(), cfg.metrics)
        record = period_record(
            engine, cfg.service, cfg.metrics, day_from, day_to, args.queue, args.server
        )
    except SQLAlchemyError as exc:
        print(f"callcenter metrics: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        doc = figures.to_dict() if args.by is None else grouped_json(args.by, groups, figures)
        doc.update(record)
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    last = (date.fromisoformat(day_to) - timedelta(days=1)).isoformat()
    scope = "".join(f", {k} {v}" for k, v in (("queue", args.queue), ("server", args.server)) if v)
    print(f"Calls {day_from} to {last} ({cfg.service.timezone}){scope}")
    print()
    lines = figures_text(figures) if args.by is None else grouped_text(args.by, groups, figures)
    print("\n".join(lines))
    print()
    print("\n".join(period_record_text(record)))
    return 0
