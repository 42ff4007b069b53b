"""Live wallboards across two daemons (issue 13): from an AMI event on one server to the
wallboards of both servers' daemons.

One private PostgreSQL (tests/support/postgres.py, migrated), two real daemons (server
ids ``pbx1`` and ``pbx2``, both on it, each with the HTTP API on a free port and
``[cluster] live`` as by default: each publishes its live state to ``live_states`` with a
NOTIFY, listens for the other's, and its live hub pushes the merged view), each against
its own fake AMI manager. Every daemon runs in its own spawned process, so that the
CPU time of each (``getrusage``, all its threads) is its own. A third process runs the
two fake managers, the traffic and the wallboards, as in bench/live.py (whose pieces this
reuses: the fake manager, the traffic generator, the wallboards and their delays).

The traffic (200 calls in progress into ``support``, 20 agents, bench/live's generator)
goes to pbx2's manager only (``--split``: half to each, measured on pbx2's callers).
Both servers have a ``support`` queue, so on every daemon pbx2's is shown as
``support@pbx2`` (web/live_merge: a repeated name is written name@server on every
server); the wallboards follow that queue. The 50 wallboards are spread over both
daemons (25 each), on the websocket ``/api/v1/live`` at the default coalescing (0 ms).

Measured per window of ``--duration`` seconds, reported separately for the wallboards of
pbx2's own daemon and of pbx1's (the other server's events): the delay from writing a
QueueCallerJoin (QueueCallerLeave, or QueueCallerAbandon) to pbx2's fake AMI socket to
that wallboard's first message showing the caller come (go), p50, p95, p99 and max over
every (event, wallboard) pair; kB/s per wallboard; per daemon, its publications per second
(``ClusterLive.published``), the remote states it read, its CPU share (its process's CPU
time over wall time); PostgreSQL's CPU share (its processes' times from /proc). Medians of
``--reps`` windows. The goal (issue 13): p99 under 100 ms for the other server's events.
Asserts nothing about speed; exits 1 only if something is wrong: a wallboard never saw a
caller, a ``seq`` gap, an error answer, a reconnect, a failed snapshot.

Usage: .venv/bin/python -m bench.live_cluster [--duration 10] [--calls 200]
       [--wallboards 50] [--reps 3] [--split] [--intervals 0.02 0.005 ...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine

from bench.live import (
    GOAL_MS,
    MODES,
    QUEUE,
    WARMUP,
    Probes,
    TrafficPlan,
    _expect,
    _f,
    _median,
    _recv,
    cpu_seconds,
    load_process,
    make_config,
    print_errors,
    run_child,
    run_options,
    start_daemon,
    summary,
)
from callcenter.cluster.settings import ClusterSettings
from callcenter.config import ServerConfig
from callcenter.logging import setup_logging
from callcenter.store import live_states
from callcenter.store.live_states import LiveState
from callcenter.web.live import LiveHub
from callcenter.web.live_cluster import ClusterLive
from tests.support.postgres import migrated_postgres

SERVERS = ("pbx1", "pbx2")
MEASURED = "pbx2"  # the server whose callers are measured
OTHER = "pbx1"
SHOWN = f"{QUEUE}@{MEASURED}"  # its queue's name on every daemon (a repeated name)
MODE = next(m for m in MODES if m.key == "push-0ms")  # the hub's default coalescing


# -- a daemon's process ------------------------------------------------------------------------

Stamps = dict[tuple[str, str], float]  # ("join" or "leave", uniqueid) -> time.monotonic()


def waiting_in(sections: Mapping[str, Any], queue: str = QUEUE) -> set[str]:
    """The callers waiting in ``queue``: a server's own ``support`` in its published state,
    or ``SHOWN`` in a hub's merged view."""
    return {
        w["uniqueid"]
        for q in sections.get("queues", ())
        if q["name"] == queue
        for w in q.get("waiting", ())
    }


class Changes:
    """When each caller first showed (join) and was first gone (leave), in a series of
    states: the legs of the way from pbx2 to pbx1."""

    def __init__(self) -> None:
        self.present: set[str] | None = None
        self.stamps: Stamps = {}

    def see(self, t: float, now: set[str]) -> None:
        if self.present is not None:
            for uid in now - self.present:
                self.stamps.setdefault(("join", uid), t)
            for uid in self.present - now:
                self.stamps.setdefault(("leave", uid), t)
        self.present = now


def probe_legs(cluster: ClusterLive, hub: LiveHub) -> tuple[Changes, Changes, Changes]:
    """When this daemon's writes of its state have returned (after the commit, once its
    loop got back to them: the other daemon may have read the row already), when it has
    read the measured server's (before its hub is woken), and when its hub has taken a
    snapshot (and queued the delta to its wallboards), for each caller who came or went."""
    written, read, taken = Changes(), Changes(), Changes()
    write = live_states.publish

    async def publish(conn: Any, state: LiveState) -> None:
        await write(conn, state)
        written.see(time.monotonic(), waiting_in(state.data))

    live_states.publish = publish  # this process's daemon only
    wake = cluster.on_remote

    def on_remote() -> None:
        state = cluster.remotes.get(MEASURED)
        if state is not None:
            read.see(time.monotonic(), waiting_in(state.sections))
        wake()

    cluster.on_remote = on_remote
    take = hub._take

    def _take() -> None:
        take()
        if hub._last is not None:
            taken.see(time.monotonic(), waiting_in(hub._last, SHOWN))

    hub._take = _take  # type: ignore[method-assign]
    return written, read, taken


async def daemon_main(conn: Connection, settings: dict[str, Any]) -> None:
    """One daemon (server ``server``, on the shared PostgreSQL), and its figures per
    window, on the orchestrator's word."""
    sid, ami_port = settings["server"], settings["ami_port"]
    with tempfile.TemporaryDirectory(prefix=f"bench-live-{sid}-") as tmp:
        base = make_config(Path(tmp), ami_port, settings["agents"])
        database = base.database.model_copy(update={"url": settings["db"]})
        shared = base.cluster.model_copy(update={"publish_interval": settings["interval"]})
        cfg = base.model_copy(
            update={"server": ServerConfig(id=sid), "database": database, "cluster": shared}
        )
        served = await start_daemon(cfg, ami_port, settings["wallboards"])
        cluster = served.front.cluster
        if cluster is None:
            raise RuntimeError("[cluster] live is off: the daemons share nothing")
        hub = served.hub
        written, read, taken = probe_legs(cluster, hub)
        probes = Probes()
        prober = asyncio.create_task(probes.run(), name="probes")
        conn.send(("ready", served.front.port, served.token))
        mark: dict[str, Any] = {}

        def counters() -> dict[str, Any]:
            return {
                "cpu": cpu_seconds(),
                "wall": time.monotonic(),
                "published": cluster.published,
                "received": cluster.received,
                "snapshots": hub.stats.computed,
            }

        while True:
            cmd = await _recv(conn)
            if cmd[0] == "interval":  # [cluster] publish_interval, from the next write
                paced = cluster.settings.model_copy(update={"publish_interval": cmd[1]})
                cluster.settings = paced
                conn.send(("interval",))
            elif cmd[0] == "remotes":
                conn.send(("remotes", sorted(cluster.remotes), cluster.listening))
            elif cmd[0] == "start":
                mark = counters()
                probes.reset()
                conn.send(("started",))
            elif cmd[0] == "end":
                now = counters()
                wall = now["wall"] - mark["wall"]
                rates = {k: (now[k] - mark[k]) / wall for k in ("published", "received")}
                result = {
                    "cpu_share": (now["cpu"] - mark["cpu"]) / wall,
                    "published_per_s": rates["published"],
                    "remote_reads_per_s": rates["received"],
                    "snapshots_per_s": (now["snapshots"] - mark["snapshots"]) / wall,
                    "gc_objects": len(gc.get_objects()),
                    "gc_frozen": gc.get_freeze_count(),
                    **probes.take(),
                    "stamps": {
                        "handled": served.handled,
                        "written": written.stamps,
                        "read": read.stamps,
                        "taken": taken.stamps,
                    },
                }
                conn.send(("result", result))
            elif cmd[0] == "stop":
                break
        errors = [f"{sid}: {e}" for e in served.errors(settings["agents"])]
        if not cluster.listening:
            errors.append(f"{sid}: not listening to the other daemons at the end")
        published = cluster.published
        prober.cancel()
        await served.shutdown()
        conn.send(("bye", {"errors": errors, "published": published}))


def daemon_process(conn: Connection, settings: dict[str, Any]) -> None:
    # The daemon logs as in production (JSON, info: a line per finished call), to nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    setup_logging("json", "info", stream=devnull)
    run_child(daemon_main, conn, settings)


# -- PostgreSQL's CPU ----------------------------------------------------------------------------


def tree_cpu_seconds(root: int) -> float:
    """CPU time of process ``root`` and its children (PostgreSQL's postmaster and its
    backends), including its reaped children's, from /proc."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(d.name) == root or int(fields[1]) == root:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def cpu_pressure_seconds() -> float | None:
    """How long, in all, some runnable task has waited for a CPU (Linux PSI); None
    without /proc/pressure."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1]) / 1e6


def postmaster_pid(engine: Engine) -> int:
    """PostgreSQL's main process: the parent of a backend."""
    with engine.connect() as conn:
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


# -- the orchestrator ------------------------------------------------------------------------------


async def _all(conns: Iterable[Connection], send: tuple[Any, ...], kind: str) -> list[Any]:
    conns = list(conns)
    for c in conns:
        c.send(send)
    return list(await asyncio.gather(*(_expect(c, kind) for c in conns)))


async def wait_for_each_other(daemons: dict[str, Connection], timeout: float = 30) -> None:
    """Until each daemon listens and has read the other's state."""
    deadline = time.monotonic() + timeout
    while True:
        answers = await _all(daemons.values(), ("remotes",), "remotes")
        said = dict(zip(daemons, answers, strict=True))
        if all(
            listening and set(SERVERS) - {sid} <= set(remotes)
            for sid, (remotes, listening) in said.items()
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the daemons did not see each other in {timeout:g} s: {said}")
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace, db: str, postmaster: int) -> dict[str, Any]:
    calls = {MEASURED: args.calls}
    if args.split:
        calls = {OTHER: args.calls - args.calls // 2, MEASURED: args.calls // 2}
    plans = {
        sid: TrafficPlan(calls=n, agents=args.agents, seed=TrafficPlan.seed + i, system=sid)
        for i, (sid, n) in enumerate(sorted(calls.items()))
    }
    ctx = multiprocessing.get_context("spawn")
    load, load_child = ctx.Pipe()
    settings = {
        "cpu": None,
        "servers": list(SERVERS),
        "traffic": {sid: asdict(p) for sid, p in plans.items()},
        "measured": MEASURED,
        "queue": SHOWN,
        "warmup": WARMUP,
        "wallboards": args.wallboards,
        "duration": args.duration,
    }
    procs = [ctx.Process(target=load_process, args=(load_child, settings), name="bench-load")]
    procs[0].start()
    windows: list[dict[str, Any]] = []
    errors: list[str] = []
    daemons: dict[str, Connection] = {}
    try:
        (ami_ports,) = await _expect(load, "ami")
        for sid in SERVERS:
            daemons[sid], child = ctx.Pipe()
            own = {
                "server": sid,
                "ami_port": ami_ports[sid],
                "agents": args.agents,
                "db": db,
                "wallboards": args.wallboards,
                "interval": args.intervals[0],
            }
            proc = ctx.Process(target=daemon_process, args=(child, own), name=f"bench-{sid}")
            proc.start()
            procs.append(proc)
        fronts = {}
        for sid, conn in daemons.items():
            port, token = await _expect(conn, "ready")
            fronts[sid] = (port, token)
        await wait_for_each_other(daemons)
        load.send(("go", fronts))
        (warm,) = await _expect(load, "warm")
        windows_of = [
            (rep, interval)
            for rep in range(args.reps)
            for interval in args.intervals[rep % len(args.intervals) :]
            + args.intervals[: rep % len(args.intervals)]
        ]
        for rep, interval in windows_of:
            await _all(daemons.values(), ("interval", interval), "interval")
            load.send(("window", asdict(MODE)))
            await _expect(load, "start")
            await _all(daemons.values(), ("start",), "started")
            pg0, w0, p0 = tree_cpu_seconds(postmaster), time.monotonic(), cpu_pressure_seconds()
            await _expect(load, "end")
            said = await _all(daemons.values(), ("end",), "result")
            pg1, w1, p1 = tree_cpu_seconds(postmaster), time.monotonic(), cpu_pressure_seconds()
            (result,) = await _expect(load, "result")
            by_daemon = {sid: r for sid, (r,) in zip(daemons, said, strict=True)}
            stamps = {sid: r.pop("stamps") for sid, r in by_daemon.items()}
            result.update(
                rep=rep,
                publish_interval_s=interval,
                daemons=by_daemon,
                legs=legs(result.pop("written"), stamps),
                postgres_cpu_share=(pg1 - pg0) / (w1 - w0),
                cpu_waited_share=(p1 - p0) / (w1 - w0)
                if p0 is not None and p1 is not None
                else None,
            )
            windows.append(result)
            errors.extend(result["errors"])
            print(_progress(result), file=sys.stderr, flush=True)
        load.send(("stop",))
        (bye,) = await _expect(load, "bye")
        errors.extend(bye["errors"])
        for (said_bye,) in await _all(daemons.values(), ("stop",), "bye"):
            errors.extend(said_bye["errors"])
        load.send(("exit",))
    finally:
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return {
        "traffic": {
            "calls": calls,
            "agents": args.agents,
            "arrivals_per_s": {sid: p.rate for sid, p in plans.items()},
            "at_first_window": warm,
            "ami_events_total": bye["events"],
        },
        "windows": windows,
        "errors": list(dict.fromkeys(errors)),
    }


LEGS = (
    ("ami", MEASURED, "handled", f"{MEASURED}'s daemon handles the AMI event"),
    ("written", MEASURED, "written", f"{MEASURED}'s loop sees that state written"),
    ("read", OTHER, "read", f"{OTHER}'s daemon has read that state"),
    ("taken", OTHER, "taken", f"{OTHER}'s hub has queued it to its wallboards"),
)


def legs(written: dict[str, dict[str, float]], stamps: dict[str, dict[str, Stamps]]) -> Any:
    """For the events written in the window, from the write to the AMI socket to each
    step on the way to the other daemon (see LEGS)."""
    out = {}
    for key, sid, kind, _ in LEGS:
        got = stamps[sid][kind]
        out[key] = summary(
            got[(what, uid)] - at
            for what, events in written.items()
            for uid, at in events.items()
            if (what, uid) in got
        )
    return out


def _progress(r: dict[str, Any]) -> str:
    def p99(group: str) -> str:
        v = r["groups"][group]["delay"]["p99_ms"]
        return "-" if v is None else f"{v:.1f} ms"

    cpu = ", ".join(f"{sid} {d['cpu_share'] * 100:.0f}%" for sid, d in r["daemons"].items())
    return (
        f"  rep {r['rep'] + 1}: p99 own daemon {p99(MEASURED)}, other daemon {p99(OTHER)}; "
        f"CPU {cpu}, PostgreSQL {r['postgres_cpu_share'] * 100:.0f}%; CPU waited for "
        f"{_f(r['cpu_waited_share'] and r['cpu_waited_share'] * 100, '.0f')}% of the time; "
        f"{r['calls_in_progress']:.0f} calls, {r['callers_waiting']:.0f} waiting"
    )


# -- report ------------------------------------------------------------------------------------


def aggregate(windows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def med(get: Any) -> float | None:
        return _median(get(w) for w in windows)

    groups = {}
    for sid in (MEASURED, OTHER):

        def g(w: dict[str, Any], sid: str = sid) -> dict[str, Any]:
            group: dict[str, Any] = w["groups"][sid]
            return group

        maxes = [g(w)["delay"]["max_ms"] for w in windows if g(w)["delay"]["max_ms"] is not None]
        p99 = med(lambda w, g=g: g(w)["delay"]["p99_ms"])
        groups[sid] = {
            "wallboards": g(windows[0])["wallboards"],
            "pairs": med(lambda w, g=g: g(w)["delay"]["n"]),
            "median_ms": med(lambda w, g=g: g(w)["delay"]["median_ms"]),
            "p95_ms": med(lambda w, g=g: g(w)["delay"]["p95_ms"]),
            "p99_ms": p99,
            "max_ms": max(maxes) if maxes else None,
            "p99_vs_goal": p99 / GOAL_MS if p99 is not None else None,
            "join_p99_ms": med(lambda w, g=g: g(w)["join_delay"]["p99_ms"]),
            "leave_p99_ms": med(lambda w, g=g: g(w)["leave_delay"]["p99_ms"]),
            "first_board_p99_ms": med(lambda w, g=g: g(w)["first_board_delay"]["p99_ms"]),
            "messages_per_client_s": med(lambda w, g=g: g(w)["messages_per_client_s"]),
            "kb_per_client_s": med(lambda w, g=g: g(w)["kb_per_client_s"]),
        }
    own, other = groups[MEASURED], groups[OTHER]
    daemons = {
        sid: {
            key: med(lambda w, sid=sid, key=key: w["daemons"][sid][key])
            for key in ("cpu_share", "published_per_s", "remote_reads_per_s", "snapshots_per_s")
        }
        | {
            "loop_lag_max_ms": max(w["daemons"][sid]["loop_lag_max_ms"] for w in windows),
            "gc_max_ms": max(w["daemons"][sid]["gc_max_ms"] for w in windows),
        }
        for sid in SERVERS
    }
    legs = {
        key: {
            "median_ms": med(lambda w, key=key: w["legs"][key]["median_ms"]),
            "p99_ms": med(lambda w, key=key: w["legs"][key]["p99_ms"]),
            "n": med(lambda w, key=key: w["legs"][key]["n"]),
        }
        for key, *_ in LEGS
    }
    return {
        "groups": groups,
        "legs": legs,
        "other_vs_own": {
            k: other[k] / own[k] if other[k] and own[k] else None
            for k in ("median_ms", "p95_ms", "p99_ms")
        },
        "other_minus_own_median_ms": other["median_ms"] - own["median_ms"]
        if other["median_ms"] is not None and own["median_ms"] is not None
        else None,
        "daemons": daemons,
        "postgres_cpu_share": med(lambda w: w["postgres_cpu_share"]),
        "cpu_waited_share": med(lambda w: w["cpu_waited_share"]),
        "load_cpu_share": med(lambda w: w["load_cpu_share"]),
        "calls_in_progress": med(lambda w: w["calls_in_progress"]),
        "callers_waiting": med(lambda w: w["callers_waiting"]),
        "ami_events_per_s": med(lambda w: w["ami_events_per_s"]),
    }


def print_report(report: dict[str, Any]) -> None:
    m, t = report["machine"], report["traffic"]
    print(
        f"machine: {m['platform']}, {m['cores']} cores (not pinned), Python {m['python']}, "
        f"aiohttp {m['aiohttp']}, PostgreSQL {m['postgresql']}"
    )
    calls = ", ".join(f"{n} on {sid}" for sid, n in sorted(t["calls"].items()))
    print(
        f"traffic: calls in progress: {calls}; {t['agents']} agents each; {report['wallboards']} "
        f"wallboards over both daemons, following {SHOWN}; windows of {report['duration_s']:g} "
        f"s, median of {report['reps']} per [cluster] publish_interval (rotated order)"
    )
    for r in report["results"]:
        print()
        print(f"== publish_interval {r['publish_interval_s'] * 1000:g} ms")
        print_result(r, m["cores"])
    print()
    print(
        f"delays in ms, over every ({MEASURED}'s caller joining or leaving, wallboard) pair: "
        f"from writing the\nevent to {MEASURED}'s AMI socket to the wallboard's first message "
        "showing it; p99/goal: p99 / 100 ms;\n1st p99: per event, the first wallboard of the "
        "group. msg/s, kB/s: per wallboard. CPU: the\ndaemon's process, CPU time / wall time "
        "(100% = one core); published/s: its live_states writes;\nreads/s: the other's states "
        "it read; snaps/s: its hub's snapshots; lag max, GC max: worst of\nall windows."
    )
    print_errors(report["errors"])


def print_result(r: dict[str, Any], cores: int) -> None:
    head = (
        f"{'wallboards on':<28} {'n':>3} {'median':>7} {'p95':>7} {'p99':>7} {'max':>7} "
        f"{'p99/goal':>8} {'1st p99':>7} {'msg/s':>6} {'kB/s':>6}"
    )
    print(head)
    print("-" * len(head))
    labels = {MEASURED: f"{MEASURED} (own daemon)", OTHER: f"{OTHER} (the other server's)"}
    for sid in (MEASURED, OTHER):
        g = r["groups"][sid]
        print(
            f"{labels[sid]:<28} {g['wallboards']:3d} {_f(g['median_ms'], '7.1f')} "
            f"{_f(g['p95_ms'], '7.1f')} {_f(g['p99_ms'], '7.1f')} {_f(g['max_ms'], '7.1f')} "
            f"{_f(g['p99_vs_goal'], '8.2f')} {_f(g['first_board_p99_ms'], '7.1f')} "
            f"{_f(g['messages_per_client_s'], '6.1f')} {_f(g['kb_per_client_s'], '6.1f')}"
        )
    ratio = r["other_vs_own"]
    print(
        f"other / own: median {_f(ratio['median_ms'], '.2f')}, p95 {_f(ratio['p95_ms'], '.2f')}, "
        f"p99 {_f(ratio['p99_ms'], '.2f')}; other - own, median: "
        f"{_f(r['other_minus_own_median_ms'], '.1f')} ms"
    )
    print()
    head = (
        f"{'daemon':<8} {'CPU':>6} {'of 2':>5} {'published/s':>11} {'reads/s':>7} "
        f"{'snaps/s':>7} {'lag max':>7} {'GC max':>6}"
    )
    if cores != 2:
        head = head.replace(" of 2", f"of {cores:>2}")
    print(head)
    print("-" * len(head))
    for sid, d in r["daemons"].items():
        cpu = d["cpu_share"]
        print(
            f"{sid:<8} {_f(cpu * 100 if cpu is not None else None, '5.1f')}% "
            f"{_f(cpu * 100 / cores if cpu is not None else None, '4.0f')}% "
            f"{_f(d['published_per_s'], '11.1f')} {_f(d['remote_reads_per_s'], '7.1f')} "
            f"{_f(d['snapshots_per_s'], '7.1f')} {_f(d['loop_lag_max_ms'], '7.1f')} "
            f"{_f(d['gc_max_ms'], '6.1f')}"
        )
    print()
    head = f"{'from the AMI write until':<44} {'median':>7} {'p99':>7} {'events':>6}"
    print(head)
    print("-" * len(head))
    for key, _, _, label in LEGS:
        leg = r["legs"][key]
        print(
            f"{label:<44} {_f(leg['median_ms'], '7.1f')} {_f(leg['p99_ms'], '7.1f')} "
            f"{_f(leg['n'], '6.0f')}"
        )
    for sid in (MEASURED, OTHER):
        g = r["groups"][sid]
        label = f"the first wallboard on {sid}'s daemon shows it"
        print(f"{label:<44} {'':>7} {_f(g['first_board_p99_ms'], '7.1f')}")
    print()
    pg, load = r["postgres_cpu_share"], r["load_cpu_share"]
    print(
        f"PostgreSQL CPU {_f(pg * 100 if pg is not None else None, '.1f')}%, load process "
        f"{_f(load * 100 if load is not None else None, '.0f')}%; {r['calls_in_progress']:.0f} "
        f"calls, {r['callers_waiting']:.0f} waiting on {MEASURED}, "
        f"{r['ami_events_per_s']:.0f} AMI events/s to {MEASURED}"
    )
    waited = r["cpu_waited_share"]
    if waited is not None:
        print(
            f"the machine's load: some task was waiting for a CPU {waited * 100:.0f}% of the "
            "time (/proc/pressure/cpu)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="live wallboards across two daemons")
    run_options(ap, wallboards=50, where=" (over both daemons)", agents=" (each server's)")
    ap.add_argument("--split", action="store_true", help="calls to both servers, half each")
    ap.add_argument(
        "--intervals",
        type=float,
        nargs="+",
        default=[ClusterSettings().publish_interval],
        help="[cluster] publish_interval values, seconds: a window each per repetition",
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    args.reps = max(1, args.reps)
    started = time.monotonic()
    with migrated_postgres() as engine:
        with engine.connect() as conn:
            version = str(conn.exec_driver_sql("SHOW server_version").scalar())
        url = engine.url.render_as_string(hide_password=False)
        out = asyncio.run(run(args, url, postmaster_pid(engine)))
    report = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "postgresql": version,
            "cores": os.cpu_count() or 1,
        },
        "goal_p99_ms": GOAL_MS,
        "duration_s": args.duration,
        "reps": args.reps,
        "wallboards": args.wallboards,
        "traffic": out["traffic"],
        "results": [
            {"publish_interval_s": x, **aggregate(ws)}
            for x in args.intervals
            if (ws := [w for w in out["windows"] if w["publish_interval_s"] == x])
        ],
        "windows": out["windows"],
        "errors": out["errors"],
        "run_s": time.monotonic() - started,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    elif report["results"]:
        print_report(report)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
