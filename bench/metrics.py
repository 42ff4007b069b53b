"""Call figures benchmark: one SQL aggregate on SQLite and PostgreSQL, against Python.

Generates a month (June 2024, Asia/Tokyo) of finished calls (default 500,000) from a fixed
seed, with the outcome mix of the seed data (abandonment ~3.5%, busy ~1.5%, some one-ring
hang-ups, after-hours calls, transfers out, voicemail, callbacks), four queues and ten
agents, arrivals over weekday service hours (after-hours calls in the evenings, early
mornings and at weekends). The calls are stored with ``call_row`` and one Core INSERT
executed over batches of rows (not timed as part of the figures), then ANALYZE.

Timed, median of ``--reps`` runs after one warm-up run:

* the month's figures (``query_figures``: one aggregate query over [06-01, 07-01));
* the same grouped by day and by agent (``query_figures_by``: one GROUP BY query each);
* one day's figures (the [from, to) filter read through the index on local_day);
* on a SQLite file and on a private PostgreSQL on loopback (tests/support/postgres.py);
* the alternatives: ``compute_figures`` / ``compute_grouped`` over the CallRecords already in
  memory, and fetching the month's rows from each database (what any Python-side
  aggregation from the database would have to do first, before computing anything).

Goal: the month's figures in under 2 s on either database. Prints figures only; nothing is
asserted about speed, but SQL and Python must agree on every count (exit 1 otherwise).

Usage: .venv/bin/python -m bench.metrics [--calls 500000] [--reps 5] [--seed N] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, text

from callcenter.metrics import (
    CallFigures,
    compute_figures,
    compute_grouped,
    figures_statement,
    query_figures,
    query_figures_by,
)
from callcenter.metrics.settings import MetricsConfig
from callcenter.store.calls import TABLE
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, classify
from tests.support.postgres import PostgresServer

TZ = ZoneInfo("Asia/Tokyo")
MONTH = date(2024, 6, 1)
MONTH_DAYS = 30
DAY_FROM, DAY_TO = "2024-06-01", "2024-07-01"
ONE_DAY = ("2024-06-14", "2024-06-15")  # a Friday
GOAL_SECONDS = 2.0
BATCH = 20_000  # rows per executemany
CFG = MetricsConfig()

# Calls per hour of a weekday's service hours (09:00-18:00): a morning and an afternoon peak.
HOUR_WEIGHTS = {9: 10, 10: 14, 11: 12, 12: 7, 13: 10, 14: 13, 15: 12, 16: 11, 17: 8}
QUEUES = (("support", 5), ("accounts", 2), ("network", 2), ("billing", 1))
AGENTS = tuple(
    f"{n} ({i:02d})"
    for i, n in enumerate(
        ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"], 1
    )
)
# What happens to a call that arrives in service hours, per 10,000 calls.
MIX = {
    "answered": 9_234,
    "busy": 150,  # busy announcement, then answered: the busy rate
    "abandoned": 360,  # in the IVR, in the queue or after the busy announcement
    "short": 140,  # one-ring hang-ups
    "transferred_out": 40,
    "voicemail": 50,
    "callback": 20,
    "failed": 5,
    "unknown": 1,
}
AFTER_HOURS_SHARE = 0.03


# -- the calls ---------------------------------------------------------------------------


def _arrival(rng: random.Random, weekdays: list[date], days: list[date], after: bool) -> float:
    if not after:
        day = rng.choice(weekdays)
        hour = rng.choices(list(HOUR_WEIGHTS), list(HOUR_WEIGHTS.values()))[0]
    else:
        day = rng.choice(days)
        hour = rng.randrange(9, 18) if day.weekday() >= 5 else rng.choice([7, 8, 18, 19, 20])
    t = datetime(day.year, day.month, day.day, hour, tzinfo=TZ).timestamp()
    return t + round(rng.uniform(0, 3600), 3)


def _call(rng: random.Random, i: int, arrived: float, kind: str) -> CallRecord:
    r = CallRecord(
        server_id="bench",
        linkedid=f"{int(arrived)}.{i}",
        arrived_at=arrived,
        caller_num=f"0{rng.randrange(10**9, 10**10)}",
        dnis="0312345678",
    )
    if kind == "after_hours":
        r.after_hours = True
        r.ended_at = arrived + rng.uniform(15, 40)
    elif kind == "short":
        r.ended_at = arrived + rng.uniform(0.5, 4.9)
    elif kind == "abandoned" and rng.random() < 0.2:  # in the IVR, before any queue
        r.ivr_path = ["main"]
        r.ended_at = arrived + rng.uniform(5.5, 30)
    else:
        r.ivr_path = ["main", rng.choice("123")]
        r.queue = rng.choices([q for q, _ in QUEUES], [w for _, w in QUEUES])[0]
        r.queued_at = queued = arrived + rng.uniform(4, 25)
        if kind == "answered":
            # Mean 10 s: about 86% within 20 s; the busy announcement starts at 60 s.
            r.answered_at = queued + min(rng.expovariate(1 / 10), 59.0)
        elif kind == "busy":
            r.busy_at = queued + 60.0
            r.answered_at = r.busy_at + rng.uniform(5, 120)
        if r.answered_at is not None:
            r.agent = rng.choice(AGENTS)
            r.agent_interface = f"PJSIP/{AGENTS.index(r.agent) + 101}"
            if rng.random() < 0.2:
                r.hold_seconds = rng.uniform(10, 90)
            r.ended_at = r.answered_at + rng.lognormvariate(math.log(240), 0.5)
        elif kind == "abandoned":
            if rng.random() < 0.25:  # hung up during the busy announcement
                r.busy_at = queued + 60.0
                r.ended_at = r.busy_at + rng.uniform(2, 60)
            else:
                r.ended_at = queued + rng.uniform(2, 59)
        elif kind in ("transferred_out", "voicemail", "callback"):
            r.routed = kind
            r.ended_at = queued + rng.uniform(20, 120)
        elif kind == "failed":
            r.system_end = "timeout"
            r.ended_at = queued + 300
        else:  # unknown
            r.disconnected_end = True
            r.ended_at = queued + rng.uniform(10, 200)
    r.outcome, r.abandon_stage = classify(r, CFG.short_abandon_seconds)
    return r


def generate(n: int, seed: int) -> list[CallRecord]:
    rng = random.Random(seed)
    days = [MONTH + timedelta(days=d) for d in range(MONTH_DAYS)]
    weekdays = [d for d in days if d.weekday() < 5]
    kinds, weights = list(MIX), list(MIX.values())
    calls = []
    for i in range(n):
        after = rng.random() < AFTER_HOURS_SHARE
        kind = "after_hours" if after else rng.choices(kinds, weights)[0]
        calls.append(_call(rng, i, _arrival(rng, weekdays, days, after), kind))
    return calls


# -- loading -----------------------------------------------------------------------------


def load(engine: Engine, rows: list[dict[str, Any]]) -> float:
    """Insert every row (plain INSERT, executemany in batches), ANALYZE; returns seconds."""
    t0 = time.perf_counter()
    stmt = insert(TABLE)
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(stmt, rows[i : i + BATCH])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE calls" if engine.dialect.name == "postgresql" else "ANALYZE"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - t0


def plan(engine: Engine, day_from: str, day_to: str) -> str:
    """How the database reads the calls for a period (EXPLAIN)."""
    stmt = figures_statement(CFG, day_from, day_to)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + sql).all()
    return " | ".join(str(r[-1]).strip() for r in rows)


# -- timing ------------------------------------------------------------------------------


def timed(fn: Callable[[], object], reps: int) -> dict[str, Any]:
    fn()  # warm-up: caches, PostgreSQL hint bits, imports
    runs = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"median": statistics.median(runs), "runs": runs}


def fetch_rows(engine: Engine) -> int:
    c = TABLE.c
    stmt = select(c.outcome, c.heard_busy, c.wait_seconds, c.handle_seconds, c.agent).where(
        c.local_day >= DAY_FROM, c.local_day < DAY_TO
    )
    with engine.connect() as conn:
        return len(conn.execute(stmt).all())


def same_counts(a: CallFigures, b: CallFigures) -> bool:
    keys = ("calls", "total_incoming", "answered", "abandoned", "busy", "short_abandoned")
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in (*keys, "answered_within_sl", "max_wait_seconds")) and (
        math.isclose(a.wait_sum, b.wait_sum, rel_tol=1e-9)
    )


def bench_db(name: str, engine: Engine, reps: int) -> dict[str, Any]:
    queries: dict[str, Callable[[], object]] = {
        "month": lambda: query_figures(engine, CFG, DAY_FROM, DAY_TO),
        "by day": lambda: query_figures_by(engine, CFG, "day", DAY_FROM, DAY_TO),
        "by agent": lambda: query_figures_by(engine, CFG, "agent", DAY_FROM, DAY_TO),
        "one day": lambda: query_figures(engine, CFG, *ONE_DAY),
        "fetch rows": lambda: fetch_rows(engine),
    }
    result: dict[str, Any] = {"name": name, "queries": {}}
    for label, fn in queries.items():
        print(f"  {name}: {label} ...", file=sys.stderr, flush=True)
        result["queries"][label] = timed(fn, reps)
    result["plan_month"] = plan(engine, DAY_FROM, DAY_TO)
    result["plan_one_day"] = plan(engine, *ONE_DAY)
    return result


def run(n: int, reps: int, seed: int) -> dict[str, Any]:
    log = sys.stderr
    print(f"generating {n:,} calls ...", file=log, flush=True)
    records = generate(n, seed)
    rows = [call_row(r, TZ) for r in records]
    one_day_calls = sum(1 for row in rows if row["local_day"] == ONE_DAY[0])
    report: dict[str, Any] = {
        "calls": n,
        "month_calls": n,  # every generated call arrives in June
        "one_day_calls": one_day_calls,
        "reps": reps,
        "seed": seed,
        "goal_seconds": GOAL_SECONDS,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "databases": [],
    }
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        pg = PostgresServer()
        engines: list[Engine] = []
        try:
            pg.start()
            for name, url in (("SQLite", f"sqlite:///{tmp}/calls.db"), ("PostgreSQL", pg.url)):
                engine = make_engine(url)
                engines.append(engine)
                migrate(engine)
                print(f"loading {name} ...", file=log, flush=True)
                load_s = load(engine, rows)
                if name == "PostgreSQL":
                    with engine.connect() as conn:
                        report["postgresql"] = conn.scalar(text("SHOW server_version"))
                result = bench_db(name, engine, reps)
                result["load_seconds"] = load_s
                sql = query_figures(engine, CFG, DAY_FROM, DAY_TO)
                result["agrees_with_python"] = same_counts(sql, compute_figures(records, CFG))
                report["databases"].append(result)
        finally:
            for engine in engines:
                engine.dispose()
            pg.destroy()
    del rows
    print("python ...", file=log, flush=True)
    report["python_queries"] = {
        "month": timed(lambda: compute_figures(records, CFG), reps),
        "by day": timed(lambda: compute_grouped(records, CFG, "day", TZ), reps),
        "by agent": timed(lambda: compute_grouped(records, CFG, "agent", TZ), reps),
    }
    figures = compute_figures(records, CFG)
    report["figures"] = {
        k: v
        for k, v in figures.to_dict().items()
        if k
        in (
            "calls",
            "total_incoming",
            "abandonment_rate",
            "busy_rate",
            "service_level",
            "short_abandoned",
            "after_hours",
            "asa_seconds",
            "aht_seconds",
        )
    }
    return report


# -- output ------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    n = report["month_calls"]
    f = report["figures"]
    print(
        f"Call figures for one month of {n:,} calls (June 2024, Asia/Tokyo), "
        f"median of {report['reps']} runs"
    )
    print(
        f"Python {report['python']}, SQLite {report['sqlite']}, "
        f"PostgreSQL {report.get('postgresql', '?')}"
    )
    print(
        f"The month: abandonment {100 * f['abandonment_rate']:.2f}%, busy "
        f"{100 * f['busy_rate']:.2f}%, service level {100 * f['service_level']:.1f}%, "
        f"{f['short_abandoned']:,} one-ring hang-ups, {f['after_hours']:,} after hours"
    )
    print(f"Goal: the month's figures in under {report['goal_seconds']:g} s on either database.")
    print()
    head = f"{'how':<34}{'query':<12}{'seconds':>9}{'calls/s':>14}"
    print(head)
    print("-" * len(head))

    def line(how: str, query: str, seconds: float, calls: int) -> None:
        print(f"{how:<34}{query:<12}{seconds:>9.3f}{calls / seconds:>14,.0f}")

    for db in report["databases"]:
        for query, t in db["queries"].items():
            calls = report["one_day_calls"] if query == "one day" else n
            line(f"{db['name']}, SQL aggregate", query, t["median"], calls)
    for query, t in report["python_queries"].items():
        line("Python over records in memory", query, t["median"], n)
    print()
    print("'fetch rows': only SELECTing the month's rows (5 columns), no figure computed:")
    print("the least a Python-side aggregation over the database would cost.")
    print(f"'one day': {report['one_day_calls']:,} calls, read through the local_day index.")
    print()
    for db in report["databases"]:
        month = db["queries"]["month"]["median"]
        verdict = "within" if month < report["goal_seconds"] else "OVER"
        print(
            f"{db['name']}: month in {month:.3f} s, {verdict} the goal; "
            f"load {db['load_seconds']:.1f} s ({n / db['load_seconds']:,.0f} rows/s, not timed "
            f"above); same counts as Python: {'yes' if db['agrees_with_python'] else 'NO'}"
        )
        print(f"  plan, month:   {db['plan_month']}")
        print(f"  plan, one day: {db['plan_one_day']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="call figures benchmark")
    ap.add_argument("--calls", type=int, default=500_000, help="calls in the month")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per measurement")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    report = run(max(1, args.calls), max(1, args.reps), args.seed)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 0 if all(db["agrees_with_python"] for db in report["databases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
