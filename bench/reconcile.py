"""A day of heavy traffic rebuilt and reconciled from the stored record.

    .venv/bin/python -m bench.reconcile                 # 20,000 calls, table
    .venv/bin/python -m bench.reconcile --calls 5000 --reps 3 --json

Generates one service day (08:30-18:15 JST) of ``--calls`` calls: 80% answered by one of
40 agents, 12% abandoned in the queue after 10-90 s, 8% one-ring hang-ups in the IVR. Each
call gets the AMI events the lab sends for such a call (the ones the tracker reads, and
the ones it skips: Newstate, DialBegin/End, Bridge*, Agent*, QueueMemberStatus, ...,
with their usual headers) and the CEL lines Asterisk writes for it. Then, on a fresh
SQLite file each time, it measures (median of ``--reps`` runs):

- live tracker: the same events fed to ``CallTracker`` in memory (no database);
- calls rebuild: ``rebuild_calls`` over the day (events read back from SQLite, tracked,
  written as call rows);
- CEL read: ``CelFileReader.read_available`` of the day's file into ``pbx_record``;
- reconcile day: ``reconcile_day`` with an empty calls table (every call added from the
  record), and again with the calls table full (every call checked, none written).

Asserts nothing about speed: it prints figures and the goal (a whole day in under 10 s).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.config import Config
from callcenter.pbxrecord.reader import CelFileReader
from callcenter.pbxrecord.reconcile import classifier_for, reconcile_day
from callcenter.rebuild import rebuild_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import event_row, write_rows
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.tracker import CallTracker

TZ = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 2)
AGENTS = [f"agent{i}" for i in range(1, 41)]


def _q(v: str) -> str:
    return '"' + v.replace('"', '""') + '"'


def cel(kind: str, t: float, name: str, num: str, exten: str, ctx: str, chan: str,
        app: str, data: str, uid: str, lid: str, peer: str = "", udt: str = "",
        extra: str = "") -> str:  # fmt: skip
    cells = [kind, f"{t:.6f}", name, num, exten, ctx, chan, app, data, uid, lid, peer, udt, extra]
    return "cc1," + ",".join(_q(c) for c in cells) + "\n"


def ami(kind: str, t: float, uid: str, lid: str, chan: str, **h: str) -> dict[str, str]:
    base = {
        "Event": kind, "Privilege": "call,all", "Timestamp": f"{t:.6f}", "Channel": chan,
        "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": h.pop("num", ""),
        "CallerIDName": h.pop("name", ""), "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>", "Language": "ja", "AccountCode": "",
        "Context": h.pop("ctx", "callcenter-queue-join"), "Exten": h.pop("exten", "support"),
        "Priority": "1", "Uniqueid": uid, "Linkedid": lid,
    }  # fmt: skip
    base.update(h)
    return base


def make_day(n: int, seed: int = 7) -> tuple[list[dict[str, str]], list[str]]:
    rng = random.Random(seed)
    open_ = datetime(DAY.year, DAY.month, DAY.day, 8, 30, tzinfo=TZ).timestamp()
    span = 9.75 * 3600
    events: list[tuple[float, int, dict[str, str]]] = []
    lines: list[tuple[float, int, str]] = []
    k = 0

    def ev(e: dict[str, str]) -> None:
        nonlocal k
        k += 1
        events.append((float(e["Timestamp"]), k, e))

    def ln(t: float, s: str) -> None:
        nonlocal k
        k += 1
        lines.append((t, k, s))

    for i in range(n):
        t0 = open_ + rng.random() * span
        lid = f"pbx-{int(t0)}.{i}"
        num, name = f"03{rng.randrange(10**8):08d}", f"発信者 {i}"
        trunk = f"PJSIP/trunk-{i:08x}"
        kind = rng.random()
        ev(ami("Newchannel", t0, lid, lid, trunk, num=num, name=name, ctx="from-trunk",
               exten="1000", ChannelState="0", ChannelStateDesc="Down"))  # fmt: skip
        ln(t0, cel("CHAN_START", t0, name, num, "1000", "from-trunk", trunk, "", "", lid, lid))
        ev(ami("Newstate", t0 + 0.01, lid, lid, trunk, num=num, name=name))
        ev(ami("UserEvent", t0 + 0.02, lid, lid, trunk, num=num, name=name,
               UserEvent="CallCenter", Stage="entered", Queue="support", Dnis="1000"))  # fmt: skip
        ln(t0 + 0.02, cel("CallCenter", t0 + 0.02, name, num, "support", "callcenter-queue",
                          trunk, "CELGenUserEvent", "", lid, lid, "", "CallCenter",
                          '{"extra":"Stage: entered|Queue: support|Dnis: 1000"}'))  # fmt: skip
        if kind < 0.08:  # a one-ring hang-up in the IVR
            end = t0 + rng.uniform(0.5, 4.0)
            ev(ami("HangupRequest", end - 0.001, lid, lid, trunk, num=num, name=name))
            ev(ami("SoftHangupRequest", end - 0.001, lid, lid, trunk, num=num, name=name))
            ev(ami("Hangup", end, lid, lid, trunk, num=num, name=name, Cause="16"))
            ln(end, cel("HANGUP", end, name, num, "s", "callcenter-ivr-main", trunk, "", "",
                        lid, lid, "", "", '{"hangupcause":16}'))  # fmt: skip
            ln(end, cel("CHAN_END", end, name, num, "s", "x", trunk, "", "", lid, lid))
            ln(end, cel("LINKEDID_END", end, name, num, "s", "x", trunk, "", "", lid, lid))
            continue
        tq = t0 + 0.5
        ev(ami("QueueCallerJoin", tq, lid, lid, trunk, num=num, name=name, Queue="support",
               Position="1", Count="1"))  # fmt: skip
        ln(tq, cel("APP_START", tq, name, num, "support", "callcenter-queue-join", trunk,
                   "Queue", "support,rtk", lid, lid))  # fmt: skip
        if kind < 0.20:  # abandoned in the queue
            end = tq + rng.uniform(10, 90)
            for j in range(int((end - tq) // 15)):
                ev(ami("QueueMemberStatus", tq + 15 * j, "", "", "", Queue="support",
                       MemberName=rng.choice(AGENTS), Status="2"))  # fmt: skip
            ev(ami("QueueCallerAbandon", end, lid, lid, trunk, num=num, name=name,
                   Queue="support", HoldTime=str(int(end - tq))))  # fmt: skip
            ev(ami("QueueCallerLeave", end, lid, lid, trunk, num=num, name=name, Queue="support"))
            ev(ami("Hangup", end, lid, lid, trunk, num=num, name=name, Cause="16"))
            ln(end, cel("APP_END", end, name, num, "support", "q", trunk, "Queue", "", lid, lid))
            ln(end, cel("HANGUP", end, name, num, "support", "q", trunk, "", "", lid, lid,
                        "", "", '{"hangupcause":16}'))  # fmt: skip
            ln(end, cel("CHAN_END", end, name, num, "s", "x", trunk, "", "", lid, lid))
            ln(end, cel("LINKEDID_END", end, name, num, "s", "x", trunk, "", "", lid, lid))
            continue
        agent = rng.choice(AGENTS)
        auid = f"pbx-{int(t0)}.{i}a"
        achan = f"PJSIP/{agent}-{i:08x}"
        ta = tq + rng.uniform(1, 40)
        end = ta + rng.uniform(60, 600)
        ev(ami("Newchannel", tq + 0.01, auid, lid, achan, num=agent, name=agent,
               ctx="callcenter-agents"))  # fmt: skip
        ln(tq + 0.01, cel("CHAN_START", tq + 0.01, agent, agent, "s", "callcenter-agents",
                          achan, "", "", auid, lid))  # fmt: skip
        for kind_ in ("AgentCalled", "DialBegin", "Newstate", "NewConnectedLine"):
            ev(ami(kind_, tq + 0.02, auid, lid, achan, Queue="support", MemberName=agent))
        ev(ami("DialEnd", ta, auid, lid, achan, DialStatus="ANSWER"))
        ln(ta, cel("ANSWER", ta, agent, agent, "support", "callcenter-agents", achan,
                   "AppQueue", "(Outgoing Line)", auid, lid))  # fmt: skip
        ev(ami("BridgeCreate", ta, "", "", "", BridgeUniqueid=f"b{i}"))
        ev(ami("BridgeEnter", ta, auid, lid, achan, BridgeUniqueid=f"b{i}"))
        ev(ami("BridgeEnter", ta, lid, lid, trunk, num=num, name=name, BridgeUniqueid=f"b{i}"))
        ev(ami("AgentConnect", ta, lid, lid, trunk, num=num, name=name, Queue="support",
               MemberName=agent, Interface=f"PJSIP/{agent}",
               HoldTime=str(int(ta - tq))))  # fmt: skip
        ln(ta, cel("BRIDGE_ENTER", ta, agent, agent, "support", "callcenter-agents", achan,
                   "AppQueue", "(Outgoing Line)", auid, lid, "", "",
                   '{"bridge_id":"b"}'))  # fmt: skip
        ln(ta, cel("BRIDGE_ENTER", ta, name, num, "support", "q", trunk, "Queue",
                   "support,rtk", lid, lid, achan, "", '{"bridge_id":"b"}'))  # fmt: skip
        ev(ami("QueueCallerLeave", ta, lid, lid, trunk, num=num, name=name, Queue="support"))
        for kind_ in ("BridgeLeave", "BridgeLeave", "BridgeDestroy", "AgentComplete"):
            ev(ami(kind_, end, lid, lid, trunk, num=num, name=name, Queue="support"))
        ev(ami("Hangup", end, lid, lid, trunk, num=num, name=name, Cause="16"))
        ev(ami("Hangup", end + 0.001, auid, lid, achan, Cause="16"))
        for s in ("BRIDGE_EXIT", "BRIDGE_EXIT", "APP_END"):
            ln(end, cel(s, end, name, num, "support", "q", trunk, "Queue", "", lid, lid))
        ln(end, cel("HANGUP", end, name, num, "support", "q", trunk, "", "", lid, lid,
                    "", "", '{"hangupcause":16}'))  # fmt: skip
        ln(end, cel("CHAN_END", end, name, num, "s", "x", trunk, "", "", lid, lid))
        ln(end, cel("HANGUP", end, agent, agent, "s", "x", achan, "", "", auid, lid))
        ln(end, cel("CHAN_END", end, agent, agent, "s", "x", achan, "", "", auid, lid))
        ln(end, cel("LINKEDID_END", end, agent, agent, "s", "x", achan, "", "", auid, lid))
    events.sort(key=lambda x: (x[0], x[1]))
    lines.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in events], [s for _, _, s in lines]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_once(events: list[dict[str, str]], lines: list[str], work: Path) -> dict[str, float]:
    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{work / 'cc.db'}"), base_dir=work)
    engine = make_engine(cfg.database_url())
    migrate(engine)
    rows = [event_row(e, float(e["Timestamp"]), "lab", "run1", i) for i, e in enumerate(events)]
    for i in range(0, len(rows), 5000):
        write_rows(engine, rows[i : i + 5000])
    cel_file = work / "callcenter.csv"
    cel_file.write_text("".join(lines), encoding="utf-8")

    def live() -> int:
        tracker = CallTracker("lab", short_abandon_seconds=5.0)
        done = 0
        for e in events:
            if tracker.feed(e, float(e["Timestamp"])) is not None:
                done += 1
        return done

    out: dict[str, float] = {}
    out["live_tracker_s"], finished = timed(live)
    out["rebuild_s"], report = timed(lambda: rebuild_calls(engine, cfg, DAY, DAY + timedelta(1)))
    assert report.from_events == finished, (report.from_events, finished)
    # The PBX record, on a database whose calls table is empty: every call is added.
    engine2 = make_engine(f"sqlite:///{work / 'cel.db'}")
    migrate(engine2)
    out["cel_read_s"], read = timed(
        lambda: CelFileReader(engine2, "lab", cel_file).read_available(max_bytes=1 << 40)
    )
    cls = classifier_for(cfg.server.id, cfg.service, cfg.metrics, cfg.agents)
    out["reconcile_empty_s"], day = timed(lambda: reconcile_day(engine2, cls, DAY))
    assert day.count("added") == finished, (day.count("added"), finished)
    out["reconcile_full_s"], again = timed(lambda: reconcile_day(engine2, cls, DAY))
    assert again.count("added") == 0
    out["calls"] = finished
    out["events"] = len(events)
    out["cel_lines"] = read.lines
    engine.dispose()
    engine2.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    events, lines = make_day(args.calls)
    runs = []
    for _ in range(args.reps):
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
            runs.append(run_once(events, lines, Path(tmp)))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result: dict[str, Any] = {
        "calls": int(med["calls"]),
        "events": int(med["events"]),
        "cel_lines": int(med["cel_lines"]),
        "median_seconds": {k: round(v, 3) for k, v in med.items() if k.endswith("_s")},
        "events_per_second": {
            "live_tracker": round(med["events"] / med["live_tracker_s"]),
            "rebuild": round(med["events"] / med["rebuild_s"]),
        },
        "cel_lines_per_second": round(med["cel_lines"] / med["cel_read_s"]),
        "ratio_rebuild_to_live": round(med["rebuild_s"] / med["live_tracker_s"], 1),
        "goal": "a whole day rebuilt, and reconciled, from the stored record in under 10 s",
        "goal_met": med["rebuild_s"] < 10 and med["reconcile_empty_s"] < 10,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    s = result["median_seconds"]
    print(f"{result['calls']} calls, {result['events']} AMI events, {result['cel_lines']} CEL "
          f"lines; median of {args.reps} runs on SQLite")  # fmt: skip
    print(f"  live tracker (memory)      {s['live_tracker_s']:8.2f} s  "
          f"{result['events_per_second']['live_tracker']:>9} events/s")  # fmt: skip
    print(f"  calls rebuild (SQLite)     {s['rebuild_s']:8.2f} s  "
          f"{result['events_per_second']['rebuild']:>9} events/s  "
          f"({result['ratio_rebuild_to_live']}x the live tracker)")  # fmt: skip
    print(f"  CEL read into pbx_record   {s['cel_read_s']:8.2f} s  "
          f"{result['cel_lines_per_second']:>9} lines/s")  # fmt: skip
    print(f"  reconcile day, all missing {s['reconcile_empty_s']:8.2f} s")
    print(f"  reconcile day, all present {s['reconcile_full_s']:8.2f} s")
    print(f"  goal (a whole day from the stored record in under 10 s): rebuild "
          f"{s['rebuild_s']:.1f} s, reconcile {s['reconcile_empty_s']:.1f} s: "
          f"{'met' if result['goal_met'] else 'NOT met'}; the CEL read is the day's ingest, "
          f"done a few lines at a time as calls happen")  # fmt: skip


if __name__ == "__main__":
    main()
