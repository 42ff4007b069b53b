"""The real lab Asterisk under rising call rates: calls lost, and the daemon's CPU against
Asterisk's.

A private lab Asterisk (``Lab(cfg).up()`` in a temporary folder, stopped at the end) with
one queue (``load``, rrmemory, ``ringinuse = no`` as the dialplan renders every queue) and
enough agents for the highest rate's concurrency (rate x call length, plus a margin).
Every agent is its own PJSIP endpoint whose fixed contact is one sipp UAS
(``tests/sipp/agent.xml``, rings ``--ring`` ms then answers), started afresh for each rate
on the same port. The daemon runs as its own process (``python -m callcenter run`` on a
TOML written here: SQLite in the folder, incidents on, ``[service] manage_mode = false``,
``[pbx_record] enabled = false``, ``[reports] archive = false`` (a fresh database would
have the daemon make last month's report, seconds of CPU, a minute after start), HTTP on a
free port, JSON log lines to a file), so that its CPU and Asterisk's are each read from
``/proc/<pid>/stat`` (utime + stime: all the process's threads). Before the first rate,
both are measured idle for ``--idle`` seconds.

For each rate: one sipp caller (``tests/sipp/caller.xml``) from the trunk address places
``rate x --window`` calls at ``-r rate`` to the queue's number, each from its own caller
number, each hanging up ``--talk`` seconds after the dialplan answered. Then the bench
waits for the calls to end and for the daemon to write them (its count of the rate's
callers stable for 3 s). Reported:

* placed, succeeded and failed: sipp's own counts (``-trace_stat``: the last line's
  cumulative ``OutgoingCall``, ``SuccessfulCall``, ``FailedCall``); answered by agents:
  the agents' UAS's ``SuccessfulCall``;
* recorded: the daemon's ``calls`` rows from the rate's caller numbers, and of those the
  ones answered by an agent; incidents opened over the window;
* lost: calls sipp placed that are not in the records (``placed - recorded``: Asterisk's
  drops count here); lost by the daemon: calls sipp completed that the daemon did not
  record (``sipp ok - recorded``), and answered calls not recorded as answered
  (``agents - recorded answered``);
* concurrent calls: the peak of sipp's ``CurrentCall`` (the caller's calls in progress)
  and of Asterisk's ``core show channels count`` (active calls), sampled every 2 s;
* CPU: each process's CPU seconds over the rate's whole window (first INVITE to the last
  call written) as % of one core and as ms per placed call, and the daemon's over
  Asterisk's; "net" ms per call: less what the process spends idle over as long; the
  daemon's split between its main thread (the event loop: AMI, tracker, live state) and
  its other threads (the writers' SQL: event log, calls, incidents, agent activity).

``--profile FILE`` runs the daemon under cProfile in every thread (slower: use it to see
where the time goes, not for the figures): the main thread's stats in FILE, the other
threads' merged in FILE.threads (read them with ``pstats``).

The highest rate at which nothing was lost (no sipp failure, every call recorded, every
answered call recorded as answered; every lower rate too) is printed at the end. Nothing
is asserted about speed, Asterisk's capacity included; the exit code is 1 only if the lab
or the daemon could not be run, or the daemon lost a call that Asterisk completed.

Usage: .venv/bin/python -m bench.pbx_load [--rates 2,5,10,20] [--talk 30] [--window 60]
       [--ring 500] [--idle 20] [--json] [--quick] [--keep] [--profile FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.config import load_config
from callcenter.lab import Lab, LabState

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests/sipp"
QUEUE = "load"
NUMBER = "1000"
TRUNK = "127.0.0.2"
TICK = os.sysconf("SC_CLK_TCK")


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    # After the name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_seconds(pid: int) -> dict[str, float]:
    """A process's CPU seconds split: its main thread (the daemon's event loop) against
    the others (asyncio's worker threads: the writers' SQL), user against system time."""
    out = {"loop user": 0.0, "loop system": 0.0, "threads user": 0.0, "threads system": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            who = "loop" if task.name == str(pid) else "threads"
            out[f"{who} user"] += int(fields[11]) / TICK
            out[f"{who} system"] += int(fields[12]) / TICK
    return out


def config_text(work: Path, agents: int, agent_port: int, read_gather: float | None = None) -> str:
    """The TOML the daemon runs on; the lab is built from the same file."""
    gather = "" if read_gather is None else f"read_gather = {read_gather}\n"
    lines = [
        # The example's menu and group name its queues and agents: none here.
        "ivr = []\ngroups = []\n",
        '[server]\nid = "load"\n',
        f"[ami]\nuse_lab = true\n{gather}",
        f'[database]\nurl = "sqlite:///{work / "cc.db"}"\nspool_dir = "{work / "spool"}"\n',
        '[log]\nformat = "json"\nlevel = "info"\n',
        "[service]\nmanage_mode = false\n",
        # 600 calls in progress are 1,200 channels with RTP and RTCP each: the lab's
        # default range (1,000 ports) would run out.
        f'[lab]\nworkdir = "{work / "lab"}"\nrtp_start = 10000\nrtp_end = 30000\n',
        "[http]\nport = 0\n",
        "[pbx_record]\nenabled = false\n",
        # A fresh database has no report for last month: the daemon would make it (PDF and
        # all, seconds of CPU) shortly after start, inside the first rate's window.
        "[reports]\narchive = false\n",
        f'[[queues]]\nname = "{QUEUE}"\nnumber = "{NUMBER}"\nstrategy = "rrmemory"\n'
        "timeout = 15\nretry = 1\n",
    ]
    for i in range(1, agents + 1):
        aid = f"a{i:04d}"
        lines.append(
            f'[[agents]]\nid = "{aid}"\nname = "Agent {i}"\nqueues = ["{QUEUE}"]\n'
            f'contact = "sip:{aid}@127.0.0.1:{agent_port}"\n'
        )
    return "\n".join(lines)


def last_stat(path: Path) -> dict[str, str]:
    """The last row of a sipp ``-trace_stat`` file (``;``-separated, cumulative ``(C)``)."""
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def stat_column(path: Path, name: str) -> list[int]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if not rows or name not in rows[0]:
        return []
    i = rows[0].index(name)
    return [int(r[i]) for r in rows[1:] if len(r) > i and r[i].isdigit()]


def count(stat: dict[str, str], name: str) -> int:
    value = stat.get(name, "0")
    return int(value) if value.isdigit() else 0


@dataclass
class RateResult:
    rate: float
    talk_s: float
    window_s: float
    placed: int = 0
    sipp_ok: int = 0
    sipp_failed: int = 0
    agents_answered: int = 0
    recorded: int = 0
    recorded_answered: int = 0
    incidents: int = 0
    lost: int = 0
    lost_by_daemon: int = 0
    lost_answered: int = 0
    peak_sipp_calls: int = 0
    peak_asterisk_calls: int = 0
    seconds: float = 0.0
    daemon_cpu_s: float = 0.0
    asterisk_cpu_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    # The daemon's CPU seconds over the window: its main thread (the event loop) and the
    # others (the writers' SQL in asyncio's worker threads), user and system time. Threads
    # that ended during the window are missing (asyncio keeps its workers).
    daemon_threads: dict[str, float] = field(default_factory=dict)
    # Each process's CPU with no call at all (% of a core), measured before the first rate:
    # the daemon's pings, timers and writers' polls, Asterisk's own housekeeping.
    daemon_idle_pct: float = 0.0
    asterisk_idle_pct: float = 0.0

    def net(self, cpu_s: float, idle_pct: float) -> float:
        return max(0.0, cpu_s - idle_pct / 100 * self.seconds)

    @property
    def clean(self) -> bool:
        return self.sipp_failed == 0 and self.lost == 0 and self.lost_answered == 0

    def figures(self) -> dict[str, Any]:
        d = asdict(self)
        calls = max(self.placed, 1)
        d.update(
            clean=self.clean,
            daemon_core_pct=100 * self.daemon_cpu_s / self.seconds if self.seconds else 0.0,
            asterisk_core_pct=100 * self.asterisk_cpu_s / self.seconds if self.seconds else 0.0,
            daemon_ms_per_call=1000 * self.daemon_cpu_s / calls,
            asterisk_ms_per_call=1000 * self.asterisk_cpu_s / calls,
            daemon_over_asterisk=(
                self.daemon_cpu_s / self.asterisk_cpu_s if self.asterisk_cpu_s else None
            ),
            # The same less what each would have spent idle over the window: the calls' own.
            daemon_net_ms_per_call=1000 * self.net(self.daemon_cpu_s, self.daemon_idle_pct) / calls,
            asterisk_net_ms_per_call=(
                1000 * self.net(self.asterisk_cpu_s, self.asterisk_idle_pct) / calls
            ),
        )
        return d


class Bench:
    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.args = args
        self.rates = [float(r) for r in args.rates.split(",")]
        # Every call in progress at the highest rate holds an agent from its answer to its
        # end; a margin for the ring and for uneven arrivals.
        longest = max(self.rates) * (args.talk + 2)
        self.agents = math.ceil(longest * 1.25) + 5
        self.agent_port = free_udp_port()
        self.config = work / "callcenter.toml"
        text = config_text(work, self.agents, self.agent_port, self.args.read_gather)
        self.config.write_text(text, encoding="utf-8")
        self.cfg = load_config(self.config)
        self.lab = Lab(self.cfg)
        self.state: LabState | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.daemon_log = work / "daemon.log"

    # -- the lab and the daemon -----------------------------------------------------------

    def up(self) -> None:
        self.state = self.lab.up(timeout=60)
        if self.args.overload_trigger:
            # Asterisk 16's PJSIP ignores every new request while any task processor of
            # the PBX is over its high-water mark (500 queued: "global", the default);
            # "pjsip_only" looks at PJSIP's own only, "none" never. Not a lab setting: the
            # bench's own knob, set in the rendered file and reloaded.
            conf = Path(self.state.config_file).parent / "pjsip.conf"
            text = conf.read_text(encoding="utf-8").replace(
                "type = global\n",
                f"type = global\ntaskprocessor_overload_trigger = {self.args.overload_trigger}\n",
                1,
            )
            conf.write_text(text, encoding="utf-8")
            self.lab.cli("module reload res_pjsip.so")
            shown = self.lab.cli("pjsip show settings", check=False)
            wanted = f"taskprocessor_overload_trigger : {self.args.overload_trigger}"
            if wanted not in " ".join(shown.split()):
                print("warning: the trigger did not show in pjsip show settings", file=sys.stderr)
        until = int(time.time()) + 86400
        self.lab.cli("database put callcenter mode open")
        self.lab.cli(f"database put callcenter mode_until {until}")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-m", "callcenter", "run", "--config", str(self.config)]
        if self.args.profile:
            code = "import sys, bench.pbx_load as b; sys.exit(b.profiled_daemon(*sys.argv[1:]))"
            cmd = [sys.executable, "-c", code, str(self.args.profile), str(self.config)]
        with self.daemon_log.open("wb") as out:
            self.daemon = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.work,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited {self.daemon.returncode}: {self.tail()}")
            if b'"daemon.started"' in self.daemon_log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the daemon did not start in 60 s: {self.tail()}")

    def tail(self) -> str:
        return self.daemon_log.read_bytes()[-2000:].decode(errors="replace")

    def down(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.lab.down()

    # -- one rate ---------------------------------------------------------------------------

    def sipp(self, scenario: str, work: Path, args: list[str]) -> subprocess.Popen[bytes]:
        assert self.state is not None
        cmd = ["sipp", "-sf", str(SCENARIOS / scenario), *args, "-nostdin",
               "-trace_stat", "-fd", "1", "-stf", str(work / "stat.csv"),
               "-trace_err", "-error_file", str(work / "errors.log"),
               f"127.0.0.1:{self.state.sip_port}"]  # fmt: skip
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(work / "stderr.log").open("wb"), cwd=work,
        )  # fmt: skip

    def recorded(self, prefix: str) -> tuple[int, int, dict[str, int]]:
        with contextlib.closing(sqlite3.connect(self.work / "cc.db", timeout=10)) as db:
            rows = db.execute(
                "SELECT outcome, answered_at IS NOT NULL AND agent IS NOT NULL, count(*) "
                "FROM calls WHERE caller_num LIKE ? GROUP BY 1, 2",
                (prefix + "%",),
            ).fetchall()
        outcomes: dict[str, int] = {}
        answered = 0
        for outcome, by_agent, n in rows:
            outcomes[outcome] = outcomes.get(outcome, 0) + n
            answered += n if by_agent else 0
        return sum(outcomes.values()), answered, outcomes

    def incidents(self) -> int:
        with contextlib.closing(sqlite3.connect(self.work / "cc.db", timeout=10)) as db:
            return int(db.execute("SELECT count(*) FROM incidents").fetchone()[0])

    def idle(self, seconds: float) -> tuple[float, float]:
        """% of a core the daemon and Asterisk use with no call."""
        assert self.state is not None
        assert self.daemon is not None
        t0 = time.monotonic()
        d0, a0 = cpu_seconds(self.daemon.pid), cpu_seconds(self.state.pid)
        time.sleep(seconds)
        wall = time.monotonic() - t0
        return (
            100 * (cpu_seconds(self.daemon.pid) - d0) / wall,
            100 * (cpu_seconds(self.state.pid) - a0) / wall,
        )

    def run_rate(self, index: int, rate: float) -> RateResult:
        assert self.state is not None
        assert self.daemon is not None
        args = self.args
        res = RateResult(rate=rate, talk_s=args.talk, window_s=args.window)
        calls = max(1, round(rate * args.window))
        prefix = f"9{index}"
        folder = self.work / f"rate-{index}"
        (folder / "agents").mkdir(parents=True)
        (folder / "callers").mkdir()
        inf = folder / "callers" / "callers.csv"
        inf.write_text(
            "SEQUENTIAL\n" + "".join(f"{prefix}{i:07d};Load {i}\n" for i in range(calls)),
            encoding="utf-8",
        )
        # Calls in progress at once, with room: sipp stops placing calls at its limit.
        limit = int(rate * (args.talk + 20) * 2) + 10
        agents = self.sipp(
            "agent.xml",
            folder / "agents",
            ["-i", "127.0.0.1", "-p", str(self.agent_port), "-mp", str(free_udp_port()),
             "-d", str(args.ring)],
        )  # fmt: skip
        time.sleep(1.0)
        incidents0 = self.incidents()
        peak = [0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(2.0):
                out = self.lab.cli("core show channels count", timeout=5, check=False)
                for line in out.splitlines():
                    if "active call" in line:
                        with contextlib.suppress(ValueError):
                            peak[0] = max(peak[0], int(line.split()[0]))

        sampler = threading.Thread(target=sample, daemon=True)
        t0 = time.monotonic()
        d0, a0 = cpu_seconds(self.daemon.pid), cpu_seconds(self.state.pid)
        threads0 = thread_seconds(self.daemon.pid)
        sampler.start()
        caller = self.sipp(
            "caller.xml",
            folder / "callers",
            ["-inf", str(inf), "-i", TRUNK, "-p", str(free_udp_port()),
             "-mp", str(free_udp_port()), "-s", NUMBER, "-d", str(int(args.talk * 1000)),
             "-m", str(calls), "-r", str(rate), "-l", str(limit),
             "-timeout", f"{int(args.window + args.talk + 120)}s"],
        )  # fmt: skip
        try:
            caller.wait(args.window + args.talk + 180)
        except subprocess.TimeoutExpired:
            caller.kill()
            caller.wait()
        # The daemon writes each call when it ends (its writer batches): wait for the rate's
        # count to stay put.
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = self.recorded(prefix)[0]
            if n != last:
                last, stable_since = n, time.monotonic()
            elif n >= calls or time.monotonic() - stable_since > 3:
                break
            time.sleep(0.25)
        res.seconds = time.monotonic() - t0
        res.daemon_cpu_s = cpu_seconds(self.daemon.pid) - d0
        res.asterisk_cpu_s = cpu_seconds(self.state.pid) - a0
        threads = thread_seconds(self.daemon.pid)
        res.daemon_threads = {k: round(v - threads0.get(k, 0.0), 2) for k, v in threads.items()}
        sampling.set()
        sampler.join()
        time.sleep(1.5)  # the agents' last stat line
        agents.send_signal(signal.SIGINT)
        try:
            agents.wait(10)
        except subprocess.TimeoutExpired:
            agents.kill()
            agents.wait()
        callers_stat = last_stat(folder / "callers" / "stat.csv")
        res.placed = count(callers_stat, "OutgoingCall(C)")
        res.sipp_ok = count(callers_stat, "SuccessfulCall(C)")
        res.sipp_failed = count(callers_stat, "FailedCall(C)")
        res.agents_answered = count(last_stat(folder / "agents" / "stat.csv"), "SuccessfulCall(C)")
        res.peak_sipp_calls = max(stat_column(folder / "callers" / "stat.csv", "CurrentCall"),
                                  default=0)  # fmt: skip
        res.peak_asterisk_calls = peak[0]
        res.recorded, res.recorded_answered, res.outcomes = self.recorded(prefix)
        res.incidents = self.incidents() - incidents0
        res.lost = max(0, res.placed - res.recorded)
        res.lost_by_daemon = max(0, res.sipp_ok - res.recorded)
        res.lost_answered = max(0, res.agents_answered - res.recorded_answered)
        # Anything left hanging (a failed caller's channel) must not burden the next rate.
        self.lab.cli("channel request hangup all", check=False)
        time.sleep(2.0)
        return res


def profiled_daemon(out: str, config: str) -> int:
    """``callcenter run`` under cProfile in every thread: the main thread's stats to
    ``out``, the other threads' (the writers) merged to ``out.threads``."""
    import cProfile
    import pstats

    from callcenter.cli import main

    profiles: list[cProfile.Profile] = []
    thread_run = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()
        try:
            thread_run(self)
        finally:
            prof.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    loop = cProfile.Profile()
    loop.enable()
    try:
        return main(["run", "--config", config])
    finally:
        loop.disable()
        loop.dump_stats(out)
        if profiles:
            stats = pstats.Stats(profiles[0])
            for prof in profiles[1:]:
                stats.add(prof)
            stats.dump_stats(out + ".threads")


def print_report(doc: dict[str, Any]) -> None:
    print(
        f"Lab Asterisk (pid {doc['asterisk_pid']}), daemon (pid {doc['daemon_pid']}), "
        f"{doc['agents']} agents on one sipp UAS, queue {QUEUE} (rrmemory), "
        f"talk {doc['talk_s']:g} s, window {doc['window_s']:g} s, ring {doc['ring_ms']} ms, "
        f"PJSIP taskprocessor_overload_trigger {doc['overload_trigger']}"
    )
    print()
    head = ("| calls/s | placed | sipp ok | sipp failed | answered (agents) | recorded | "
            "recorded answered | incidents | lost | lost by the daemon | lost answered | "
            "peak calls sipp | "
            "peak calls Asterisk | daemon % core | Asterisk % core | daemon ms/call | "
            "Asterisk ms/call | daemon / Asterisk | daemon net ms/call | "
            "Asterisk net ms/call |")  # fmt: skip
    print(head)
    print("|" + "---:|" * (head.count("|") - 1))
    for r in doc["rates"]:
        ratio = r["daemon_over_asterisk"]
        print(
            f"| {r['rate']:g} | {r['placed']} | {r['sipp_ok']} | {r['sipp_failed']} | "
            f"{r['agents_answered']} | {r['recorded']} | {r['recorded_answered']} | "
            f"{r['incidents']} | {r['lost']} | {r['lost_by_daemon']} | {r['lost_answered']} | "
            f"{r['peak_sipp_calls']} | "
            f"{r['peak_asterisk_calls']} | {r['daemon_core_pct']:.1f} | "
            f"{r['asterisk_core_pct']:.1f} | {r['daemon_ms_per_call']:.2f} | "
            f"{r['asterisk_ms_per_call']:.2f} | "
            + (f"{ratio:.3f} |" if ratio is not None else "- |")
            + f" {r['daemon_net_ms_per_call']:.2f} | {r['asterisk_net_ms_per_call']:.2f} |"
        )
    print()
    print(
        f"idle ({doc['idle_s']:g} s, no call), % of a core: daemon {doc['daemon_idle_pct']:.2f}, "
        f"Asterisk {doc['asterisk_idle_pct']:.2f}; net ms/call: the window's CPU less idle"
    )
    best = doc["highest_clean_rate"]
    print(
        "highest rate with nothing lost: "
        + (f"{best:g} calls/s" if best is not None else "none of the rates tried")
    )
    for r in doc["rates"]:
        print(f"  {r['rate']:g}/s outcomes recorded: {r['outcomes']}")
        print(f"  {r['rate']:g}/s the daemon's CPU s by thread: {r['daemon_threads']}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="pbx-load-")
    work = Path(tmp)
    bench = Bench(work, args)
    results: list[RateResult] = []
    idle = (0.0, 0.0)
    try:
        bench.up()
        assert bench.state is not None
        assert bench.daemon is not None
        time.sleep(5)  # the daemon's start-up snapshot and first writes
        idle = bench.idle(args.idle)
        print(f"idle, % of a core: daemon {idle[0]:.2f}, Asterisk {idle[1]:.2f}", file=sys.stderr)
        for i, rate in enumerate(bench.rates):
            print(f"rate {rate:g}/s ...", file=sys.stderr, flush=True)
            results.append(bench.run_rate(i, rate))
            results[-1].daemon_idle_pct, results[-1].asterisk_idle_pct = idle
            print(f"  {results[-1].figures()}", file=sys.stderr, flush=True)
        pids = {"asterisk_pid": bench.state.pid, "daemon_pid": bench.daemon.pid}
    finally:
        bench.down()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)
    clean = [r.rate for r in results if r.clean]
    # The highest rate below which every rate tried was clean too.
    best = None
    for r in results:
        if not r.clean:
            break
        best = r.rate
    return {
        **pids,
        "agents": bench.agents,
        "talk_s": args.talk,
        "window_s": args.window,
        "ring_ms": args.ring,
        "read_gather": args.read_gather,
        "overload_trigger": args.overload_trigger or "global (default)",
        "idle_s": args.idle,
        "daemon_idle_pct": idle[0],
        "asterisk_idle_pct": idle[1],
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "rates": [r.figures() for r in results],
        "clean_rates": clean,
        "highest_clean_rate": best,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rates", default="2,5,10,20", help="calls a second, comma-separated")
    ap.add_argument("--talk", type=float, default=30.0, help="seconds from answer to hang-up")
    ap.add_argument("--window", type=float, default=60.0, help="seconds of arrivals per rate")
    ap.add_argument("--ring", type=int, default=500, help="ms an agent's phone rings")
    ap.add_argument("--idle", type=float, default=20.0, help="seconds of no calls measured")
    ap.add_argument("--quick", action="store_true", help="rates 2,5, talk 5 s, window 20 s")
    ap.add_argument(
        "--profile",
        type=Path,
        help="run the daemon under cProfile (its main thread; slower) and write the stats here",
    )
    ap.add_argument(
        "--overload-trigger",
        choices=("global", "pjsip_only", "none"),
        help="PJSIP's taskprocessor_overload_trigger for the lab (Asterisk's default: global)",
    )
    ap.add_argument(
        "--read-gather",
        type=float,
        help="the daemon's [ami] read_gather (default: the daemon's own, 0.01 s)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rates, args.talk, args.window, args.idle = "2,5", 5.0, 20.0, 10.0
    doc = run(args)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_report(doc)
    # Asterisk refusing calls is its capacity (speed): reported, not an error. The daemon
    # missing a call Asterisk completed is.
    daemon_ok = all(r["lost_by_daemon"] == 0 and r["lost_answered"] == 0 for r in doc["rates"])
    return 0 if daemon_ok else 1


if __name__ == "__main__":
    sys.exit(main())
