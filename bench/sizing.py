"""Sizing: what a month of a large site takes in PostgreSQL, from real rows.

Real rows in the real schema (a private PostgreSQL, ``tests/support/postgres.py``,
migrated to head, so the event log is partitioned by month):

* the AMI events of ``tests/fixtures/ami/lab_traffic.raw`` (the bytes the lab Asterisk
  sent for 150 calls: 15,887 events, ~106 a call), stored as the daemon stores them
  (``AMIFramer`` -> ``event_row`` -> ``write_rows``), copied until ``--calls`` calls'
  worth, each copy with its own linkedids and one of 20 server ids, spread over a month;
* ``--calls`` finished calls (``bench.metrics.generate``: the seed's traffic mix) as
  ``call_row`` rows, and their figure cells (``metrics.cells``);
* one incident per answered call (``bench.report.make_incidents``'s shapes);
* the PBX record: the CEL lines of ``tests/fixtures/cel/two_calls.csv`` repeated per call;
* agent activity: per agent and working day a log-in and log-out per queue, four pauses
  with their resumes, and one talk row per answered call.

Measured: each table's rows, heap (with TOAST) and index bytes (``pg_relation_size``,
partitions summed). Then extrapolated linearly to ``--month-calls`` (400,000) calls a
month and ``--agents`` (500) agents over 21 working days: events, calls, cells, incidents
and the PBX record scale with calls; agent activity with agent-days. Nothing asserted.

Usage: .venv/bin/python -m bench.sizing [--calls 10000] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, text

from bench.metrics import CFG, MONTH, TZ, generate
from bench.report import INCIDENTS, make_incidents
from callcenter.ami.protocol import AMIFramer, Message
from callcenter.metrics.cells import refresh_days
from callcenter.pbxrecord.reader import record_row
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import event_row, write_rows
from callcenter.store.models import AgentEventRow, PbxRecordRow
from callcenter.store.partitions import ensure_months
from callcenter.telephony.callrows import call_row
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "tests/fixtures/ami/lab_traffic.raw"
CEL = ROOT / "tests/fixtures/cel/two_calls.csv"
RAW_CALLS = 150
SERVERS = 20
AGENT_EVENTS: Table = AgentEventRow.__table__  # type: ignore[assignment]
PBX_RECORD: Table = PbxRecordRow.__table__  # type: ignore[assignment]
WORKING_DAYS = 21
BATCH = 5000
LOADED = {"ami_events", "calls", "call_day_stamps", "call_figure_days", "call_figure_cells",
          "incidents", "pbx_record", "agent_events"}  # fmt: skip


# The fixture was captured with every read class; the daemon's AMI user has no
# ``dialplan`` class (README, "Pointing it at an existing Asterisk"), so these never reach
# it, and are not stored.
DIALPLAN_CLASS = frozenset({"VarSet", "Newexten"})


def raw_events() -> list[dict[str, str]]:
    framer = AMIFramer()
    return [
        dict(m)
        for m in framer.feed(RAW.read_bytes())
        if isinstance(m, Message) and m.event and m.event not in DIALPLAN_CLASS
    ]


def load_events(engine: Engine, calls: int) -> int:
    events = raw_events()
    copies = max(1, round(calls / RAW_CALLS))
    start = datetime.combine(MONTH, dtime(0), tzinfo=TZ).timestamp()
    step = 30 * 86400 / copies
    n = 0
    for k in range(copies):
        rows = []
        for i, h in enumerate(events):
            h = dict(h)
            for key in ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid"):
                if key in h:
                    h[key] = f"{h[key]}-{k}"
            rows.append(event_row(h, start + k * step + i * 0.01, f"pbx{k % SERVERS}",
                                  f"r{k:06d}", i))  # fmt: skip
        for i in range(0, len(rows), BATCH):
            write_rows(engine, rows[i : i + BATCH])
        n += len(rows)
    return n


def load_calls(engine: Engine, calls: int) -> int:
    rows = [call_row(r, TZ) for r in generate(calls, 20240601)]
    for i, r in enumerate(rows):
        r["server_id"] = f"pbx{i % SERVERS}"
    for i in range(0, len(rows), BATCH):
        write_calls(engine, rows[i : i + BATCH])
    refresh_days(engine, CFG, "2024-06-01", "2024-07-01")
    return len(rows)


def answered(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM calls WHERE outcome = 'answered'")) or 0)


def load_incidents(engine: Engine, n: int) -> int:
    rows = make_incidents(n, 7)
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert(INCIDENTS), rows[i : i + BATCH])
    return len(rows)


def load_cel(engine: Engine, calls: int) -> int:
    """The fixture's CEL lines (two calls) as the reader stores them, once per call
    pair; each copy its own line hash (the reader's key)."""
    lines = [ln for ln in CEL.read_bytes().splitlines() if ln.strip()]
    rows = []
    for k in range(max(1, calls // 2)):
        for j, line in enumerate(lines):
            row = record_row(f"pbx{k % SERVERS}", line)
            row["line_hash"] = hashlib.sha1(b"%d/%d/" % (k, j) + line).hexdigest()  # noqa: S324
            rows.append(row)
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert(PBX_RECORD), rows[i : i + BATCH])
    return len(rows)


def load_activity(engine: Engine, agents: int, talks: int) -> int:
    rng = random.Random(3)
    rows: list[dict[str, Any]] = []
    month = [MONTH + timedelta(days=d) for d in range(30)]
    days = [d for d in month if d.weekday() < 5][:WORKING_DAYS]

    def row(agent: int, kind: str, at: datetime, reason: str = "", secs: float = 0.0) -> None:
        rows.append({"server_id": f"pbx{agent % SERVERS}", "source": "ami",
                     "agent": f"agent{agent:03d}", "queue": "support", "kind": kind,
                     "reason": reason, "paused": kind == "pause", "seconds": secs,
                     "at": at})  # fmt: skip

    for a in range(agents):
        for d in days:
            start = datetime.combine(d, dtime(8, 30), tzinfo=TZ)
            row(a, "login", start)
            for p in range(4):
                at = start + timedelta(minutes=60 + 90 * p + rng.uniform(0, 30))
                row(a, "pause", at, rng.choice(["break", "lunch", "training", "meeting"]))
                row(a, "resume", at + timedelta(minutes=15))
            row(a, "logout", start + timedelta(minutes=585))
    per_agent_day = len(rows) / (agents * len(days))
    first = datetime.combine(days[0], dtime(9), tzinfo=TZ)
    for t in range(talks):
        row(t % agents, "talk", first + timedelta(seconds=t), secs=180.0)
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert(AGENT_EVENTS), rows[i : i + BATCH])
    return round(per_agent_day)


SIZES = """
WITH t AS (
  SELECT c.oid, c.relname AS name, COALESCE(p.parent, c.relname) AS owner
  FROM pg_class c
  LEFT JOIN (SELECT i.inhrelid AS child, pc.relname AS parent FROM pg_inherits i
             JOIN pg_class pc ON pc.oid = i.inhparent) p ON p.child = c.oid
  WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
)
SELECT owner,
       sum(pg_relation_size(oid) + COALESCE(pg_total_relation_size(
         NULLIF((SELECT reltoastrelid FROM pg_class WHERE oid = t.oid), 0)), 0)) AS heap,
       sum(pg_indexes_size(oid)) AS indexes,
       sum((SELECT reltuples FROM pg_class WHERE oid = t.oid)) AS est_rows
FROM t GROUP BY owner
"""
INDEXES = """
SELECT COALESCE(p.relname, t.relname) AS owner,
       regexp_replace(i.relname, '^ami_events_(y\\d+m\\d+|default)_', '') AS idx,
       sum(pg_relation_size(i.oid)) AS bytes
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_inherits h ON h.inhrelid = t.oid LEFT JOIN pg_class p ON p.oid = h.inhparent
WHERE t.relnamespace = 'public'::regnamespace AND i.relkind = 'i'
GROUP BY 1, 2
"""


def measure(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        tables: dict[str, dict[str, Any]] = {
            r.owner: {"heap": int(r.heap), "indexes": int(r.indexes), "rows": 0, "index_bytes": {}}
            for r in conn.execute(text(SIZES))
        }
        for r in conn.execute(text(INDEXES)):
            if r.owner in tables:
                tables[r.owner]["index_bytes"][r.idx] = int(r.bytes)
        for name in tables:
            # Names come from pg_class: this database's own tables.
            tables[name]["rows"] = int(conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)  # noqa: S608
    return tables


def run(args: argparse.Namespace) -> dict[str, Any]:
    pg = PostgresServer()
    try:
        pg.start()
        engine = make_engine(pg.url)
        migrate(engine)
        with engine.begin() as conn:
            ensure_months(conn, [(2024, 6), (2024, 7)])
        log = sys.stderr
        t0 = time.perf_counter()
        print(f"events for {args.calls:,} calls ...", file=log, flush=True)
        events = load_events(engine, args.calls)
        print("calls and cells ...", file=log, flush=True)
        calls = load_calls(engine, args.calls)
        n_answered = answered(engine)
        print("incidents, PBX record, agent activity ...", file=log, flush=True)
        load_incidents(engine, n_answered)
        load_cel(engine, args.calls)
        per_agent_day = load_activity(engine, args.agents_loaded, n_answered)
        tables = measure(engine)
        engine.dispose()
    finally:
        pg.destroy()
    by_agent_day = {"agent_events"}
    # At most a row per server and day (stamps, cell days), or per server, day, hour and
    # queue (cells, four queues and none): they stop growing with calls.
    cap = {"call_day_stamps": SERVERS * 30, "call_figure_days": SERVERS * 30,
           "call_figure_cells": SERVERS * 30 * 24 * 5}  # fmt: skip
    month_agent_days = args.agents * WORKING_DAYS
    loaded_agent_days = args.agents_loaded * WORKING_DAYS
    out = {}
    for name, t in sorted(tables.items()):
        if t["rows"] == 0 or name not in LOADED:
            continue
        if name in by_agent_day:
            # Talk rows scale with calls; the rest with agent-days.
            talk = n_answered
            other = t["rows"] - talk
            scale_rows = other * month_agent_days / loaded_agent_days + talk * (
                args.month_calls / calls
            )
            factor = scale_rows / t["rows"]
        else:
            factor = args.month_calls / calls
        if name in cap:
            factor = min(factor, cap[name] / t["rows"])
        out[name] = {
            "rows": t["rows"], "heap": t["heap"], "indexes": t["indexes"],
            "index_bytes": t["index_bytes"],
            "month_rows": round(t["rows"] * factor),
            "month_heap": t["heap"] * factor, "month_indexes": t["indexes"] * factor,
            "month_index_bytes": {k: v * factor for k, v in t["index_bytes"].items()},
        }  # fmt: skip
    return {
        "calls": calls, "events": events, "answered": n_answered,
        "agent_events_per_agent_day": per_agent_day,
        "month_calls": args.month_calls, "agents": args.agents, "servers": SERVERS,
        "seconds": time.perf_counter() - t0, "tables": out,
    }  # fmt: skip


def gb(b: float) -> str:
    return f"{b / 1e9:.2f}"


def print_report(r: dict[str, Any]) -> None:
    print(f"Measured on {r['calls']:,} calls ({r['events']:,} AMI events, {r['answered']:,} "
          f"answered); extrapolated to {r['month_calls']:,} calls and {r['agents']} agents "
          f"a month, {r['servers']} servers")  # fmt: skip
    print()
    print("| table | rows measured | bytes/row (heap+index) | rows a month | heap GB/month | "
          "indexes GB/month |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    total_h = total_i = 0.0
    for name, t in r["tables"].items():
        per_row = (t["heap"] + t["indexes"]) / t["rows"]
        total_h += t["month_heap"]
        total_i += t["month_indexes"]
        print(f"| {name} | {t['rows']:,} | {per_row:,.0f} | {t['month_rows']:,} | "
              f"{gb(t['month_heap'])} | {gb(t['month_indexes'])} |")  # fmt: skip
    print(f"| **total** | | | | **{gb(total_h)}** | **{gb(total_i)}** |")
    print()
    print("| index | GB/month |")
    print("|---|---:|")
    for name, t in r["tables"].items():
        for idx, b in sorted(t["month_index_bytes"].items(), key=lambda kv: -kv[1]):
            if b >= 1e7:
                print(f"| {name}.{idx} | {gb(b)} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--calls", type=int, default=10_000, help="calls measured")
    ap.add_argument("--agents-loaded", type=int, default=50)
    ap.add_argument("--month-calls", type=int, default=400_000)
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
