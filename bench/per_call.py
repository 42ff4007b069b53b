"""Where a call's CPU goes in the daemon: the per-call path, profiled on real bytes.

The recorded AMI stream of the lab (``tests/fixtures/ami/lab_traffic.raw``: 150 calls,
15,887 events, as Asterisk 16 sent them) is replayed ``--reps`` times (each copy its own
uniqueids) through a real ``Daemon`` (SQLite file or a private PostgreSQL, incidents on,
the HTTP API off): framed by ``AMIFramer`` as the client frames a socket read, then
``Daemon._on_event`` as the client calls it, at full speed. The daemon's background
writers (event log, calls, agent activity, incidents) run as in production and are
waited for (everything written) before the clock stops.

Reported per call: the process's CPU (all threads, ``getrusage``) and, on the event
path, each stage's own CPU (``time.thread_time`` around it, in the loop's thread): AMI
framing, the event log's append, the live state, agent activity, the tracker, and what
the tracker's facts cost (the calls writer's queue, today's figures, incident opening);
the rest (the writers' threads and tasks: SQL, JSON) is the difference. Then the top
functions by own time (cProfile over one replay). Nothing asserted.

Usage: .venv/bin/python -m bench.per_call [--reps 5] [--postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from callcenter.ami.protocol import AMIFramer, Message
from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.settings import DatabaseConfig
from callcenter.web.settings import HttpConfig

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "tests/fixtures/ami/lab_traffic.raw"
CALLS_IN_RAW = 150
CHUNK = 65536
DIALPLAN_CLASS = frozenset({"VarSet", "Newexten"})
IDS = ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid", "BridgeUniqueid")


def copies(reps: int, tag: str = "r") -> list[bytes]:
    """The stream ``reps`` times, each copy's ids suffixed so its calls are new calls."""
    # As the daemon's AMI user receives them: no ``dialplan`` class (the fixture was
    # captured with every class), so neither framed nor handled.
    frames = RAW.read_bytes().split(b"\r\n\r\n")
    raw = b"\r\n\r\n".join(
        f for f in frames if not any(f.startswith(b"Event: " + e.encode()) for e in DIALPLAN_CLASS)
    )
    out = []
    for k in range(reps):
        text = raw
        for key in IDS:
            text = text.replace(f"\r\n{key}: ".encode(), f"\r\n{key}: {tag}{k}-".encode())
        out.append(text)
    return out


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Stages:
    """``time.thread_time`` spent inside wrapped callables, by stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.thread_time() - t0

        return timed


def instrument_writers(stages: Stages) -> None:
    """The writers' database work, in their worker threads (each its own thread CPU)."""
    import callcenter.agents.record as activity_record
    import callcenter.store.eventlog as eventlog
    import callcenter.telephony.callswriter as callswriter
    from callcenter.followups.store import FollowupStore
    from callcenter.incidents.desk import IncidentDesk

    # Patched where each writer looks the function up (its module's globals).
    def patch(module: Any, name: str, label: str) -> None:
        setattr(module, name, stages.wrap(label, getattr(module, name)))

    patch(eventlog, "write_rows", "writer: event log rows")
    patch(callswriter, "write_calls", "writer: calls")
    patch(activity_record, "write_events", "writer: agent activity")
    # Every opening (one by one or in a batch) goes through _open_many; surveys are not
    # in the recorded traffic.
    IncidentDesk._open_many = stages.wrap("writer: incidents", IncidentDesk._open_many)  # type: ignore[method-assign]
    for name in ("call_finished", "calls_finished"):
        wrapped = stages.wrap("writer: follow-ups", getattr(FollowupStore, name))
        setattr(FollowupStore, name, wrapped)


def instrument(d: Daemon, stages: Stages) -> None:
    d.eventlog.append = stages.wrap("event log append", d.eventlog.append)  # type: ignore[method-assign]
    d.live.apply = stages.wrap("live state", d.live.apply)  # type: ignore[method-assign]
    d.activity.apply = stages.wrap("agent activity", d.activity.apply)  # type: ignore[method-assign]
    d.tracker.apply = stages.wrap("tracker", d.tracker.apply)  # type: ignore[method-assign]
    facts = stages.wrap("facts (calls writer, today, incidents)", d.router.route)
    d.router.route = facts  # type: ignore[method-assign]


def make_daemon(url: str, base: Path) -> Daemon:
    cfg = Config(
        database=DatabaseConfig(url=url, spool_dir=str(base / "spool"), flush_interval=0.05),
        service=ServiceConfig(manage_mode=False),
        http=HttpConfig(enabled=False),
        base_dir=base,
    )
    # Nothing listens there: the client retries in the background, as when the PBX is
    # away; the events are handed to the daemon directly.
    return Daemon(cfg, AMITarget("127.0.0.1", 9, "bench", "bench"))


async def wait_until(done: Callable[[], bool]) -> None:
    # Polled: the daemon's parts have no event for "all written" (a bench need only).
    for _ in range(100_000):
        if done():
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("the daemon did not get there")


async def replay(d: Daemon, streams: list[bytes], stages: Stages | None) -> dict[str, Any]:
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    await wait_until(lambda: bool(d.supervisor.tasks))  # its writers have started
    await asyncio.sleep(0.5)
    framer = AMIFramer()
    t0_wall, t0_cpu = time.perf_counter(), cpu()
    parse = 0.0
    events = 0
    for stream in streams:
        for i in range(0, len(stream), CHUNK):
            p0 = time.thread_time()
            frames = framer.feed(stream[i : i + CHUNK])
            parse += time.thread_time() - p0
            for msg in frames:
                if isinstance(msg, Message) and msg.event:
                    d._on_event(msg, time.time())
                    events += 1
            await asyncio.sleep(0)  # the writers' tasks run as they would between reads
    # Everything written: the event log, the calls, the incidents.
    await wait_until(
        lambda: (
            not (
                d.eventlog.pending
                or d.calls_writer.unwritten
                or (d.incidents is not None and d.incidents.pending)
                or (d.followups is not None and not d.followups.idle.is_set())
            )
        )
    )
    wall, used = time.perf_counter() - t0_wall, cpu() - t0_cpu
    stop.set()
    await task
    calls = CALLS_IN_RAW * len(streams)
    out: dict[str, Any] = {
        "calls": calls, "events": events, "wall_s": wall, "cpu_s": used,
        "cpu_ms_per_call": 1000 * used / calls, "events_per_call": events / calls,
    }  # fmt: skip
    if stages is not None:
        split = {"AMI framing": parse, **stages.seconds}
        out["stages_ms_per_call"] = {k: 1000 * v / calls for k, v in split.items()}
        out["stages_ms_per_call"]["the rest (event loop, tasks, logging)"] = (
            1000 * (used - sum(split.values())) / calls
        )
    return out


@contextlib.contextmanager
def batches(size: int | None) -> Iterator[None]:
    """The writers' batch sizes set to ``size`` (None: as shipped) for a while."""
    import callcenter.followups.desk as followups_desk
    import callcenter.incidents.desk as incidents_desk

    shipped = incidents_desk.OPEN_BATCH, followups_desk.CALLS_BATCH
    if size is not None:
        incidents_desk.OPEN_BATCH = followups_desk.CALLS_BATCH = size
    try:
        yield
    finally:
        incidents_desk.OPEN_BATCH, followups_desk.CALLS_BATCH = shipped


def run(args: argparse.Namespace) -> dict[str, Any]:
    streams = copies(args.reps)
    result: dict[str, Any] = {}
    pg = None
    with tempfile.TemporaryDirectory(prefix="cc-bench-call-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'cc.db'}"
        if args.postgres:
            from tests.support.postgres import PostgresServer

            pg = PostgresServer()
            pg.start()
            url = pg.url
        try:
            d = make_daemon(url, Path(tmp))
            stages = Stages()
            instrument(d, stages)
            instrument_writers(stages)
            result["timed"] = asyncio.run(replay(d, streams, stages))
            # Batched writes (as shipped) against one transaction per incident and per
            # finished call (as before), alternated, each on a fresh database.
            result["batched_ms"], result["one_by_one_ms"] = [], []
            for n in range(args.rounds):
                for key, size in (("batched_ms", None), ("one_by_one_ms", 1)):
                    with batches(size):
                        tag = f"{key[0]}{n}x"
                        dn = make_daemon(url.replace("cc.db", f"cc-{tag}.db"), Path(tmp))
                        if size is not None:
                            # As before batching: each written as soon as it comes.
                            if dn.incidents is not None:
                                dn.incidents.gather = 0.0
                            if dn.followups is not None:
                                dn.followups.gather = 0.0
                        timed = asyncio.run(replay(dn, copies(args.reps, tag), None))
                    result[key].append(timed["cpu_ms_per_call"])
            # The same again, under cProfile, on a fresh database: where the time goes.
            d2 = make_daemon(url.replace("cc.db", "cc2.db"), Path(tmp))
            prof = cProfile.Profile()
            prof.enable()
            asyncio.run(replay(d2, copies(1), None))
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
            result["profile"] = buf.getvalue()
        finally:
            if pg is not None:
                pg.destroy()
    result["database"] = "postgresql" if args.postgres else "sqlite"
    return result


def print_report(r: dict[str, Any]) -> None:
    t = r["timed"]
    print(f"{t['calls']:,} calls, {t['events']:,} events ({t['events_per_call']:.0f} a call), "
          f"{r['database']}: {t['cpu_ms_per_call']:.2f} ms of CPU a call, "
          f"{t['wall_s']:.1f} s wall")  # fmt: skip
    print()
    print("| stage | ms a call | share |")
    print("|---|---:|---:|")
    for k, v in sorted(t["stages_ms_per_call"].items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {v:.3f} | {100 * v / t['cpu_ms_per_call']:.0f}% |")
    print()
    if r["batched_ms"]:
        b, o = statistics.median(r["batched_ms"]), statistics.median(r["one_by_one_ms"])
        print(f"Median of {len(r['batched_ms'])} alternated runs, ms of CPU a call (no stage "
              f"timers): incidents and follow-ups written in batches {b:.2f}, one "
              f"transaction each {o:.2f} (batched / one by one {b / o:.2f})")  # fmt: skip
        print()
    print(r["profile"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="alternated batched/one-by-one runs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    # The daemon's log lines (formatted, as in production) go nowhere.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
