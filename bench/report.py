"""Monthly report benchmark: build and render (xlsx, PDF, HTML) over a large month, and the
twelve-month trend over millions of calls on SQLite and PostgreSQL.

Data: the month of ``bench.metrics`` (June 2024, Asia/Tokyo, default 500,000 calls from a
fixed seed) plus ``--incidents`` incidents received over its weekdays (a fifth escalated,
most resolved, a tenth still open, ten categories), in a SQLite file. For the trend the
month's rows are copied into the eleven months before it (INSERT ... SELECT with the
local day moved; days 29-31 become the 28th), 12 x the month (6,000,000 calls by
default), on SQLite and on a private PostgreSQL (tests/support/postgres.py).

Timed, median of ``--reps`` runs:

* each format of the monthly report in a fresh process (spawned): ``build`` (every
  query) and the render, with the process's peak RSS (``ru_maxrss``: what the report
  costs on top of an idle interpreter is the difference to the ``baseline`` row);
* the alternative xlsx writer: openpyxl writing the same tables (cells and number
  formats, no charts: a lower bound for it), against XlsxWriter;
* ``build_trend`` for the twelve months on each database: scanning the calls (as before
  the figure cells), from cells computed first (cold), with one day written since, and
  with every cell current (metrics.cells).

Goals: each format under 5 s and 300 MB; the trend under 2 s. Nothing is asserted.

Usage: .venv/bin/python -m bench.report [--calls 500000] [--incidents 10000] [--reps 3]
       [--no-postgres] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import Engine, Table, delete, func, insert, select, text, update

from bench.metrics import CFG, MONTH, TZ, generate, load
from callcenter.incidents.figures import IncidentTargets
from callcenter.incidents.model import Incident
from callcenter.incidents.store import _row as incident_row
from callcenter.metrics.cells import CELLS
from callcenter.metrics.cells import DAYS as CELL_DAYS
from callcenter.metrics.figures import COUNTS
from callcenter.reports.months import months_ending
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.calls import TABLE
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import IncidentRow
from callcenter.telephony.callrows import call_row
from tests.support.postgres import PostgresServer

INCIDENTS: Table = IncidentRow.__table__  # type: ignore[assignment]
REPORT_MONTH = "2024-06"
NOW = datetime(2024, 7, 1, 9, 0, tzinfo=TZ)
FORMATS = ("xlsx", "pdf", "html")
CATEGORIES = ("ネットワーク", "アカウント", "メール", "PC", "プリンタ", "VPN", "会計システム",
              "人事システム", "電話", "その他")  # fmt: skip


def make_incidents(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    days = [MONTH + timedelta(days=d) for d in range(30)]
    weekdays = [d for d in days if d.weekday() < 5]
    rows = []
    for i in range(n):
        d = rng.choice(weekdays)
        t = datetime(d.year, d.month, d.day, rng.randrange(9, 17), rng.randrange(60), tzinfo=TZ)
        fields: dict[str, Any] = {}
        status = "resolved"
        if rng.random() < 0.2:
            fields["escalated_at"] = t + timedelta(minutes=rng.uniform(2, 20))
            fields["escalated_to"] = "vendor"
            if rng.random() < 0.9:
                fields["first_progress_at"] = t + timedelta(minutes=rng.uniform(10, 50))
            fields["escalation_answered_at"] = t + timedelta(minutes=rng.uniform(30, 90))
        if rng.random() < 0.1:
            status = "escalated" if "escalated_at" in fields else "in_progress"
        else:
            fields["resolved_at"] = t + timedelta(minutes=rng.uniform(95, 120))
            fields["resolution"] = "second_line" if "escalated_at" in fields else "first_line"
        inc = Incident(received_at=t, status=status, category=rng.choice(CATEGORIES),  # type: ignore[arg-type]
                       call_linkedid=f"inc-{i}", server_id="bench", **fields)  # fmt: skip
        rows.append({**incident_row(inc), "version": 1})
    return rows


def copy_months(engine: Engine) -> float:
    """Copies June into the eleven months before it; returns seconds."""
    cols = [c.name for c in TABLE.columns if c.name != "id"]
    t0 = time.perf_counter()
    for k, month in enumerate(months_ending(REPORT_MONTH, 12)[:-1], start=1):
        day = "CASE WHEN substr(local_day, 9, 2) > '28' THEN '28' ELSE substr(local_day, 9, 2) END"
        select_cols = [
            f"linkedid || '-{k}'" if c == "linkedid"
            else f"'{month}-' || {day}" if c == "local_day"
            else c
            for c in cols
        ]  # fmt: skip
        # Constants and column names only: nothing from outside reaches this text.
        sql = (
            f"INSERT INTO calls ({', '.join(cols)}) SELECT {', '.join(select_cols)} "  # noqa: S608
            "FROM calls WHERE local_day >= '2024-06-01' AND local_day < '2024-07-01'"
        )
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE calls" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return time.perf_counter() - t0


def _openpyxl_write(report: Any, lang: str) -> bytes:
    """The same tables written with openpyxl (no charts): the alternative writer."""
    import openpyxl

    from callcenter.reports.i18n import EXCEL_FORMATS, Measured, pick
    from callcenter.reports.layout import sections

    wb = openpyxl.Workbook(write_only=False)
    wb.remove(wb.active)
    for n, s in enumerate(sections(report)):
        ws = wb.create_sheet(f"{n} {s.key}"[:31])
        row = 1
        for t in s.tables:
            ws.cell(row, 1, pick(t.title, lang))  # type: ignore[arg-type]
            row += 1
            for j, c in enumerate(t.columns, 1):
                ws.cell(row, j, pick(c.label, lang))  # type: ignore[arg-type]
            for values in t.rows:
                row += 1
                for j, (v, c) in enumerate(zip(values, t.columns, strict=True), 1):
                    kind = c.kind
                    if isinstance(v, Measured):
                        kind, v = v.kind, v.value
                    if isinstance(v, tuple):
                        v = pick(v, lang)  # type: ignore[arg-type]
                    cell = ws.cell(row, j, v if not isinstance(v, bool) else str(v))
                    if kind in EXCEL_FORMATS:
                        cell.number_format = EXCEL_FORMATS[kind][lang]  # type: ignore[index]
            row += 2
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def clear_cells(engine: Engine) -> None:
    """Forget every figure cell (metrics.cells): the next read computes them from the calls."""
    with engine.begin() as conn:
        conn.execute(delete(CELLS))
        conn.execute(delete(CELL_DAYS))


def _child(url: str, fmt: str, cold: bool, out: Any) -> None:
    from callcenter.metrics.settings import MetricsConfig
    from callcenter.reports.monthly import build, render

    engine = make_engine(url)
    if cold:
        clear_cells(engine)
    t0 = time.perf_counter()
    if fmt != "baseline":
        report = build(engine, ServiceConfig(), MetricsConfig(), REPORT_MONTH, IncidentTargets(),
                       NOW)  # fmt: skip
    t1 = time.perf_counter()
    size = 0
    if fmt == "xlsx-openpyxl":
        size = len(_openpyxl_write(report, "ja"))
    elif fmt != "baseline":
        size = len(render(report, fmt, "ja"))
    t2 = time.perf_counter()
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a spawned child would
    # report the parent's peak (which holds the generated rows).
    status = Path("/proc/self/status").read_text()
    maxrss = (
        int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]) / 1024
    )
    out.send({"build": t1 - t0, "render": t2 - t1, "total": t2 - t0, "mb": maxrss, "bytes": size})
    engine.dispose()


def run_child(url: str, fmt: str, cold: bool = False) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(url, fmt, cold, child))
    p.start()
    result: dict[str, Any] = parent.recv()
    p.join()
    return result


def bench_formats(url: str, reps: int) -> dict[str, Any]:
    """Each format with the month's cells current (as the nightly sweep leaves every
    closed day), and cold (no cell stored: the build computes them from the calls)."""
    out: dict[str, Any] = {}
    runs_of = [(fmt, False) for fmt in ("baseline", *FORMATS, "xlsx-openpyxl")]
    runs_of += [(fmt, True) for fmt in FORMATS]
    for fmt, cold in runs_of:
        name = f"{fmt}, cells cold" if cold else fmt
        print(f"  monthly {name} ...", file=sys.stderr, flush=True)
        run_child(url, fmt)  # leaves the cells current for the warm runs
        runs = [run_child(url, fmt, cold) for _ in range(reps)]
        out[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {"runs": runs}
    return out


def bench_trend(engine: Engine, reps: int) -> dict[str, Any]:
    """The twelve months: scanning the calls (no cells, as before them), with every
    cell computed first (cold), with one day written since (its cells recomputed: the
    usual case, today's calls), and with every cell current."""
    from callcenter.reports.trend import build_trend

    def once(prepare: Callable[[], None]) -> float:
        prepare()
        t0 = time.perf_counter()
        rows = build_trend(engine, ServiceConfig(), CFG, IncidentTargets(), REPORT_MONTH)
        assert len(rows) == 12
        return time.perf_counter() - t0

    def write_one_day() -> None:
        with engine.begin() as conn:  # a rewrite of one call bumps its day's stamp
            conn.execute(
                update(TABLE)
                .where(TABLE.c.id == select(func.min(TABLE.c.id)).scalar_subquery())
                .values(hold_seconds=TABLE.c.hold_seconds + 1)
            )

    def scan() -> float:
        with mock.patch("callcenter.metrics.query._from_cells", return_value=None):
            return once(lambda: None)

    out: dict[str, Any] = {}
    for name, run in (
        ("scan", scan),
        ("cold", lambda: once(lambda: clear_cells(engine))),
        ("one day written", lambda: once(write_one_day)),
        ("warm", lambda: once(lambda: None)),
    ):
        run()  # warm-up (the page cache, and the cells for the last two)
        runs = [run() for _ in range(reps)]
        out[name] = {"median": statistics.median(runs), "runs": runs}
    rows = build_trend(engine, ServiceConfig(), CFG, IncidentTargets(), REPORT_MONTH)
    out["calls"] = sum(r.calls.calls for r in rows)
    with mock.patch("callcenter.metrics.query._from_cells", return_value=None):
        scanned = build_trend(engine, ServiceConfig(), CFG, IncidentTargets(), REPORT_MONTH)

    # The cells must give the scan's counts, month by month.
    def counts(trend: list[Any]) -> list[list[int]]:
        return [[getattr(m.calls, k) for k in COUNTS] for m in trend]

    out["same_counts"] = counts(rows) == counts(scanned)
    return out


def bench_grouping(url: str, reps: int) -> dict[str, Any]:
    """The month by day, hour and queue: scanning the calls once (day x hour x queue, then
    combined) or once per grouping, against adding up the month's current cells."""
    from callcenter.metrics import query_figures_by
    from callcenter.reports.sections.calls import GATHERED, gather

    engine = make_engine(url)
    day_from, day_to = "2024-06-01", "2024-07-01"
    no_cells = mock.patch("callcenter.metrics.query._from_cells", return_value=None)

    def one_scan() -> None:
        with no_cells:
            gather(engine, CFG, day_from, day_to)

    def per_grouping() -> None:
        with no_cells:
            for by in GATHERED:
                query_figures_by(engine, CFG, by, day_from, day_to)

    def cells() -> None:
        gather(engine, CFG, day_from, day_to)

    out = {}
    for name, fn in (
        ("scan once, combined", one_scan),
        ("scan per grouping", per_grouping),
        ("cells current", cells),
    ):
        fn()
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        out[name] = {"median": statistics.median(runs), "runs": runs}
    engine.dispose()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    log = sys.stderr
    result: dict[str, Any] = {"calls": args.calls, "incidents": args.incidents, "reps": args.reps}
    print(f"generating {args.calls:,} calls, {args.incidents:,} incidents ...", file=log)
    rows = [call_row(r, TZ) for r in generate(args.calls, args.seed)]
    incidents = make_incidents(args.incidents, args.seed)
    with tempfile.TemporaryDirectory(prefix="cc-bench-report-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'month.db'}"
        engine = make_engine(url)
        migrate(engine)
        result["load_seconds"] = load(engine, rows)
        with engine.begin() as conn:
            conn.execute(insert(INCIDENTS), incidents)
        engine.dispose()
        print("  by day, hour and queue ...", file=log, flush=True)
        result["grouping"] = bench_grouping(url, args.reps)
        result["monthly"] = bench_formats(url, args.reps)
        if args.no_trend:
            return result
        print("copying the month into twelve (SQLite) ...", file=log, flush=True)
        engine = make_engine(url)
        result["sqlite_copy_seconds"] = copy_months(engine)
        print("  trend on SQLite ...", file=log, flush=True)
        result["trend_sqlite"] = bench_trend(engine, args.reps)
        engine.dispose()
    if not args.no_postgres and not args.no_trend:
        pg = PostgresServer()
        try:
            pg.start()
            engine = make_engine(pg.url)
            migrate(engine)
            print("loading PostgreSQL ...", file=log, flush=True)
            load(engine, rows)
            with engine.begin() as conn:
                conn.execute(insert(INCIDENTS), incidents)
            result["postgres_copy_seconds"] = copy_months(engine)
            print("  trend on PostgreSQL ...", file=log, flush=True)
            result["trend_postgres"] = bench_trend(engine, args.reps)
            engine.dispose()
        finally:
            pg.destroy()
    return result


def print_report(r: dict[str, Any]) -> None:
    m = r["monthly"]
    base = m["baseline"]["mb"]
    print(f"Monthly report, {r['calls']:,} calls and {r['incidents']:,} incidents "
          f"(SQLite file; median of {r['reps']} fresh processes)")  # fmt: skip
    print()
    print("| format | build s | render s | total s | peak RSS MB | over baseline MB | bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt, x in m.items():
        print(f"| {fmt} | {x['build']:.2f} | {x['render']:.2f} | {x['total']:.2f} | "
              f"{x['mb']:.0f} | {x['mb'] - base:.0f} | {x['bytes']:,.0f} |")  # fmt: skip
    ratio = m["xlsx-openpyxl"]["render"] / m["xlsx"]["render"] if m["xlsx"]["render"] else 0
    print(f"\nopenpyxl / XlsxWriter render time: {ratio:.2f}")
    for name, x in r["grouping"].items():
        print(f"by day, hour and queue, {name}: {x['median']:.2f} s")
    print()
    print("| trend (12 months) | calls | scan s | cells cold s | one day written s | "
          "cells current s | same counts |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, label in (("trend_sqlite", "SQLite"), ("trend_postgres", "PostgreSQL")):
        if key in r:
            t = r[key]
            print(f"| {label} | {t['calls']:,} | {t['scan']['median']:.2f} | "
                  f"{t['cold']['median']:.2f} | {t['one day written']['median']:.2f} | "
                  f"{t['warm']['median']:.2f} | {t['same_counts']} |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--calls", type=int, default=500_000)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-trend", action="store_true", help="only the monthly report")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
