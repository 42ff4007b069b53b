"""AMI ingest benchmark: our framer against panoramisk, asterisk-ami and pyst2.

Every library gets the same bytes (a raw capture of a lab Asterisk's AMI socket,
``tests/fixtures/ami/lab_traffic.raw``), cut into the same chunks, and is driven
through its own reading and parsing code, as its socket reader would drive it:

* ours: ``AMIFramer.feed(chunk)`` (what ``AMIClient._read_loop`` does).
* panoramisk 1.4: ``AMIProtocol.data_received(chunk)`` with a real ``Manager`` as its
  factory, set up the way ``Manager.connection_made`` does (encoding ``utf8``, the
  Manager default), and one ``register_event('*', ...)`` callback.
* asterisk-ami 0.1.7: ``AMIClient.listen()`` (its ``_next_pack`` generator,
  ``fire_recv_pack``, ``Event.read``/``Response.read``) over a stand-in socket whose
  ``recv(n)`` hands out the chunks, at most ``n`` bytes at a time, like a real one.
* pyst2 0.5.1: its reader is ``Manager._receive_data``, which iterates lines over
  ``socket.makefile('rwb', buffering=0)``: an unbuffered file, so each line is read one
  byte per ``recv`` call. Measured twice: the real path (a socketpair fed by a
  separate writer process, ``message_loop`` with the reader thread pyst2 starts
  itself), on a ~1 MB prefix because it is slow; and its parser alone, reading lines
  from an in-memory ``BytesIO`` with no thread, which is faster than pyst2 can ever be
  on a socket (an upper bound, not its real speed).

Also measured: parsed-and-stored, i.e. our framer + ``event_row`` + ``write_rows`` in
batches of 1000 into a fresh, migrated SQLite file, in one thread.

The process pins itself to one CPU. Figures are the median of several repetitions.
Prints figures only; nothing is asserted about speed.

Usage: .venv/bin/python -m bench.ami_ingest [--stream PATH] [--reps 5] [--json]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import io
import itertools
import json
import logging
import os
import platform
import secrets
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.ami.protocol import AMIFramer, FrameError, Message
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import Row, event_row, insert_statement, write_rows

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STREAM = REPO / "tests" / "fixtures" / "ami" / "lab_traffic.raw"
BIG = 64 * 1024
SMALL = 1400
PYST2_SOCKET_PREFIX = 1_000_000  # bytes of the stream fed to pyst2's byte-at-a-time reader
STORE_BATCH = 1000

Sink = Callable[[Any], None]
Runner = Callable[[list[bytes], Sink], int]  # returns frame errors seen (ours only)


# -- the stream and what it should yield -------------------------------------------------


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@dataclass(frozen=True)
class Truth:
    """What the stream holds, read frame by frame from the bytes (no library involved)."""

    events: int
    names: Counter[str]  # non-ASCII CallerIDName values of events -> how many events

    @property
    def name_events(self) -> int:
        return sum(self.names.values())


def ground_truth(data: bytes) -> Truth:
    events = 0
    names: Counter[str] = Counter()
    for raw in data.split(b"\r\n\r\n"):
        frame = raw.lstrip(b"\r\n")
        if not frame.startswith(b"Event:"):
            continue
        events += 1
        for line in frame.split(b"\r\n"):
            if line.startswith(b"CallerIDName: "):
                value = line[len(b"CallerIDName: ") :].decode("utf-8")
                if not value.isascii():
                    names[value] += 1
    return Truth(events, names)


def cut_inside_names(data: bytes) -> list[bytes]:
    """Chunks cut one byte into every non-ASCII CallerIDName: the worst case for a reader
    that decodes each read on its own (TCP may cut anywhere; this cuts where it hurts)."""
    key = b"CallerIDName: "
    cuts = []
    i = data.find(key)
    while i >= 0:
        value = i + len(key)
        if value < len(data) and data[value] >= 0x80:
            cuts.append(value + 1)
        i = data.find(key, value)
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def prefix(data: bytes, size: int) -> bytes:
    """The stream's first ``size`` bytes or so, ending at a frame boundary."""
    end = data.find(b"\r\n\r\n", size)
    return data if end < 0 else data[: end + 4]


# -- ours ---------------------------------------------------------------------------------


def run_ours(chunks: list[bytes], sink: Sink) -> int:
    framer = AMIFramer()
    errors = 0
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, FrameError):
                errors += 1
            elif "Event" in item:
                sink(item)
    return errors


def ours_name(ev: Message) -> str | None:
    return ev.get("CallerIDName")


# -- panoramisk -------------------------------------------------------------------------


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def run_panoramisk(chunks: list[bytes], sink: Sink) -> int:
    from panoramisk.ami_protocol import AMIProtocol
    from panoramisk.manager import Manager

    manager = Manager()
    # Drop the built-in FullyBooted hook (it schedules a coroutine on a running loop);
    # keep the dispatch path itself: one catch-all pattern, as an application would.
    manager.patterns.clear()
    manager.callbacks.clear()
    manager.register_event("*", lambda _mgr, event: sink(event))
    proto = AMIProtocol()
    proto.connection_made(_NullTransport())
    # What Manager.connection_made does once the connection is up:
    proto.queue = deque()
    proto.factory = manager
    proto.log = manager.log
    proto.config = manager.config
    proto.encoding = manager.encoding = manager.config["encoding"]
    proto.responses = manager.responses = {}
    for chunk in chunks:
        proto.data_received(chunk)
    return 0


def panoramisk_name(ev: Any) -> str | None:
    name = ev.get("CallerIDName")
    return name if isinstance(name, str) else None


# -- asterisk-ami -------------------------------------------------------------------------


class _ChunkSocket:
    """Stands in for the socket: ``recv(n)`` returns the next chunk, n bytes at most."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)
        self._cur = b""
        self._off = 0

    def recv(self, n: int) -> bytes:
        if self._off >= len(self._cur):
            self._cur = next(self._chunks, b"")
            self._off = 0
        out = self._cur[self._off : self._off + n]
        self._off += len(out)
        return out

    def close(self) -> None:
        pass


def make_asterisk_ami_runner(buffer_size: int | None) -> Runner:
    """buffer_size None: recv() as large as the chunk; else the client's own buffer_size."""

    def run(chunks: list[bytes], sink: Sink) -> int:
        from asterisk.ami import AMIClient

        size = buffer_size or max(len(c) for c in chunks)
        client = AMIClient(buffer_size=size)
        client.add_event_listener(lambda event, source: sink(event))
        client._socket = _ChunkSocket(chunks)
        client.finished = threading.Event()  # an Event object only; no thread is started
        client.listen()  # returns when recv() gives b"" (end of stream)
        return 0

    return run


def asterisk_ami_name(ev: Any) -> str | None:
    name = ev.keys.get("CallerIDName")
    return name if isinstance(name, str) else None


# -- pyst2 --------------------------------------------------------------------------------


def _pyst2_manager() -> Any:
    from asterisk.manager import Manager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # setDaemon() in __init__
        return Manager()


class _EventSink:
    """Takes the place of pyst2's ``_event_queue`` (normally drained by its dispatch thread)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def put(self, event: Any) -> None:
        if event is not None:
            self.sink(event)


class _InlineMessages:
    """Takes the place of ``_message_queue``: runs ``message_loop``'s body on each message."""

    def __init__(self, sink: Sink) -> None:
        from asterisk.manager import Event, ManagerMsg

        self._msg = ManagerMsg
        self._event = Event
        self.sink = sink

    def put(self, lines: list[str] | None) -> None:
        if not lines:
            return
        message = self._msg(lines)
        if message.has_header("Event"):
            self.sink(self._event(message))


def _finish_pyst2(manager: Any) -> None:
    manager._running.clear()  # so Manager.__del__ does not try to log off
    manager._connected.clear()


def run_pyst2_parser(chunks: list[bytes], sink: Sink) -> int:
    """pyst2's reader and parser on lines from memory, in this thread (an upper bound)."""
    manager = _pyst2_manager()
    manager._sock = io.BytesIO(b"".join(chunks))
    manager._connected.set()
    manager._running.set()
    manager._message_queue = _InlineMessages(sink)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Event.isSet(), per line
        manager._receive_data()
    _finish_pyst2(manager)
    return 0


_WRITER = """
import os, sys
cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
others = cpus - {int(sys.argv[3])}
if others:
    os.sched_setaffinity(0, others)
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
for i in range(0, len(data), n):
    view = memoryview(data)[i : i + n]
    while view:
        view = view[os.write(1, view):]
"""


@dataclass
class _SocketFeed:
    path: Path
    chunk: int
    cpu: int


def make_pyst2_socket_runner(feed: _SocketFeed) -> Callable[[Sink], float]:
    """The real pyst2 path; returns its own elapsed time (the writer's start is excluded)."""

    def run(sink: Sink) -> float:
        ours, theirs = socket.socketpair()
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(feed.path), str(feed.chunk), str(feed.cpu)],
            stdout=theirs.fileno(),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        manager = _pyst2_manager()
        manager._sock = ours.makefile(mode="rwb", buffering=0)
        ours.close()  # the file object keeps the socket open
        manager._connected.set()
        manager._running.set()
        manager._event_queue = _EventSink(sink)
        select.select([manager._sock], [], [], 10)  # the writer is up and sending
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            manager.message_loop()  # starts pyst2's own reader thread, joins it at EOF
        elapsed = time.perf_counter() - t0
        writer.wait(10)
        _finish_pyst2(manager)
        manager._sock.close()
        return elapsed

    return run


def pyst2_name(ev: Any) -> str | None:
    name = ev.headers.get("CallerIDName")
    return name if isinstance(name, str) else None


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    library: str
    feed: str
    events: int  # events in the bytes fed
    delivered: int  # events the library handed to its callback
    median_s: float
    events_per_s: float
    ref: str  # our row it is compared with (the same chunking)
    vs_ours: float | None = None
    runs_s: list[float] = field(default_factory=list)
    note: str = ""


@dataclass
class Utf8Check:
    library: str
    feed: str
    events: int
    expected_events: int
    names_intact: int
    names_expected: int
    names_mangled: int
    frame_errors: int


class Counter1:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, _event: Any) -> None:
        self.n += 1


def time_runner(runner: Runner, chunks: list[bytes], reps: int) -> tuple[int, list[float]]:
    times: list[float] = []
    events = 0
    for _ in range(reps):
        gc.collect()
        count = Counter1()
        t0 = time.perf_counter()
        runner(chunks, count)
        times.append(time.perf_counter() - t0)
        events = count.n
    return events, times


def check_runner(
    library: str,
    feed: str,
    runner: Runner,
    name_of: Callable[[Any], str | None],
    chunks: list[bytes],
    truth: Truth,
) -> Utf8Check:
    events: list[Any] = []
    errors = runner(chunks, events.append)
    return summarise(library, feed, events, name_of, truth, errors)


def summarise(
    library: str,
    feed: str,
    events: list[Any],
    name_of: Callable[[Any], str | None],
    truth: Truth,
    errors: int,
) -> Utf8Check:
    """Count events whose CallerIDName is a Japanese name byte-exact, and damaged ones."""
    # A name decoded as ASCII with errors ignored keeps only its ASCII part (the space).
    stripped = {"".join(c for c in n if c.isascii()) for n in truth.names}
    intact = mangled = 0
    for ev in events:
        name = name_of(ev)
        if name is None:
            continue
        if name in truth.names:
            intact += 1
        elif not name.isascii() or name in stripped:
            mangled += 1
    return Utf8Check(
        library, feed, len(events), truth.events, intact, truth.name_events, mangled, errors
    )


def time_store(data: bytes, reps: int, workdir: Path) -> tuple[int, list[float]]:
    times: list[float] = []
    events = 0
    chunks = chunked(data, BIG)
    for rep in range(reps):
        engine = make_engine(f"sqlite:///{workdir / f'store-{rep}.db'}")
        migrate(engine)
        stmt = insert_statement(engine)
        run_id = secrets.token_hex(8)
        gc.collect()
        t0 = time.perf_counter()
        framer = AMIFramer()
        rows: list[Row] = []
        seq = 0
        for chunk in chunks:
            received = time.time()
            for item in framer.feed(chunk):
                if isinstance(item, Message) and "Event" in item:
                    seq += 1
                    rows.append(event_row(item, received, "bench", run_id, seq))
                    if len(rows) >= STORE_BATCH:
                        write_rows(engine, rows, stmt)
                        rows = []
        if rows:
            write_rows(engine, rows, stmt)
        times.append(time.perf_counter() - t0)
        events = seq
        engine.dispose()
    return events, times


def pin_one_cpu() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("panoramisk", "asterisk-ami", "pyst2"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def package_clash() -> str | None:
    """asterisk-ami and pyst2 both ship ``asterisk/__init__.py``; say so if both are here."""
    owners = []
    for dist in ("asterisk-ami", "pyst2"):
        try:
            files = importlib.metadata.files(dist) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        if any(str(f) == "asterisk/__init__.py" for f in files):
            owners.append(dist)
    if len(owners) < 2:
        return None
    try:
        import asterisk

        on_disk = f"asterisk.__version__ = {getattr(asterisk, '__version__', '?')}"
    except ImportError:
        on_disk = "asterisk not importable"
    return (
        "asterisk-ami and pyst2 both install asterisk/__init__.py (one overwrites the other; "
        f"{on_disk}); their modules asterisk.ami and asterisk.manager do not collide and "
        "both import from the same tree"
    )


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run(stream: Path, reps: int) -> dict[str, Any]:
    data = stream.read_bytes()
    truth = ground_truth(data)
    cpu = pin_one_cpu()
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    feeds = {"64 KiB": chunked(data, BIG), "1400 B": chunked(data, SMALL)}
    rows: list[Result] = []
    checks: list[Utf8Check] = []
    ours_rate: dict[str, float] = {}

    def measure(
        lib: str, feed: str, ref: str, runner: Runner, chunks: list[bytes], note: str = ""
    ) -> None:
        # events/s counts the events in the bytes fed, whatever the library delivered,
        # so a library that drops frames is not credited or penalised for it.
        delivered, times = time_runner(runner, chunks, reps)
        med = statistics.median(times)
        rows.append(
            Result(
                lib,
                feed,
                truth.events,
                delivered,
                med,
                truth.events / med,
                ref,
                runs_s=times,
                note=note,
            )
        )

    libs: list[tuple[str, Runner, Callable[[Any], str | None], str]] = [
        ("callcenter AMIFramer", run_ours, ours_name, "callcenter.ami"),
        ("panoramisk 1.4", run_panoramisk, panoramisk_name, "panoramisk"),
        ("asterisk-ami 0.1.7", make_asterisk_ami_runner(None), asterisk_ami_name, "asterisk.ami"),
    ]
    for feed, chunks in feeds.items():
        for lib, runner, name_of, module in libs:
            if not available(module):
                continue
            label = feed + (" (recv = chunk)" if module == "asterisk.ami" else "")
            measure(lib, label, feed, runner, chunks)
            if module == "callcenter.ami":
                ours_rate[feed] = rows[-1].events_per_s
            checks.append(check_runner(lib, feed, runner, name_of, chunks, truth))
        if feed == "64 KiB" and available("asterisk.ami"):
            # Its own default: recv(1024), whatever the network delivered.
            measure(
                "asterisk-ami 0.1.7",
                "64 KiB (recv(1024), its default)",
                feed,
                make_asterisk_ami_runner(1024),
                chunks,
                note="its default buffer_size: a real socket never hands it more",
            )

    cut = cut_inside_names(data)
    for lib, runner, name_of, module in libs:
        if available(module):
            checks.append(check_runner(lib, "cut in every JP name", runner, name_of, cut, truth))

    if available("asterisk.manager"):
        # Parser only: lines from memory, no socket, no thread. Chunking plays no part.
        measure(
            "pyst2 0.5.1",
            "lines from BytesIO (parser only)",
            "64 KiB",
            run_pyst2_parser,
            feeds["64 KiB"],
            note="upper bound, not reachable on a socket",
        )
        checks.append(
            check_runner(
                "pyst2 0.5.1", "BytesIO lines", run_pyst2_parser, pyst2_name, feeds["64 KiB"], truth
            )
        )
        # The real reader: socket file, unbuffered, one recv() per byte, on a prefix.
        head = prefix(data, PYST2_SOCKET_PREFIX)
        head_truth = ground_truth(head)
        feed = f"socket, first {len(head) / 1e6:.1f} MB"
        with tempfile.TemporaryDirectory(prefix="ami-bench-") as tmp:
            path = Path(tmp) / "prefix.raw"
            path.write_bytes(head)
            sock_runner = make_pyst2_socket_runner(_SocketFeed(path, SMALL, cpu or 0))
            times: list[float] = []
            count = Counter1()
            for _ in range(min(reps, 3)):
                gc.collect()
                count = Counter1()
                times.append(sock_runner(count))
            med = statistics.median(times)
            rows.append(
                Result(
                    "pyst2 0.5.1",
                    feed,
                    head_truth.events,
                    count.n,
                    med,
                    head_truth.events / med,
                    "1400 B",
                    runs_s=times,
                    note="its real path: 1-byte recv() calls, its own reader thread;"
                    " sent in 1400 B pieces by another process",
                )
            )
            collected: list[Any] = []
            sock_runner(collected.append)
            checks.append(summarise("pyst2 0.5.1", feed, collected, pyst2_name, head_truth, 0))

    with tempfile.TemporaryDirectory(prefix="ami-bench-store-") as tmp:
        stored, times = time_store(data, reps, Path(tmp))
        med = statistics.median(times)
        rows.append(
            Result(
                "callcenter + event_row + write_rows",
                "64 KiB -> SQLite, batches of 1000",
                truth.events,
                stored,
                med,
                truth.events / med,
                "64 KiB",
                runs_s=times,
                note="parsed and stored, one thread",
            )
        )

    for row in rows:
        rate = ours_rate.get(row.ref)
        row.vs_ours = row.events_per_s / rate if rate else None

    return {
        "stream": {
            "path": str(stream),
            "bytes": len(data),
            "events": truth.events,
            "japanese_name_events": truth.name_events,
        },
        "pinned_cpu": cpu,
        "repetitions": reps,
        "versions": versions(),
        "package_clash": package_clash(),
        "results": [asdict(r) for r in rows],
        "utf8": [asdict(c) for c in checks],
    }


def print_report(report: dict[str, Any]) -> None:
    s = report["stream"]
    v = report["versions"]
    print(
        f"stream: {s['path']} ({s['bytes']:,} bytes, {s['events']:,} events, "
        f"{s['japanese_name_events']:,} of them with a Japanese CallerIDName)"
    )
    print(
        f"python {v['python']}, panoramisk {v['panoramisk']}, asterisk-ami {v['asterisk-ami']}, "
        f"pyst2 {v['pyst2']}; pinned to CPU {report['pinned_cpu']}; "
        f"median of {report['repetitions']} runs (pyst2 socket: of 3)"
    )
    print()
    head = (
        f"{'library':<36} {'feed':<34} {'events':>7} {'median s':>9} {'events/s':>9} {'vs ours':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in report["results"]:
        ratio = f"{r['vs_ours']:.3f}" if r["vs_ours"] is not None else "-"
        print(
            f"{r['library']:<36} {r['feed']:<34} {r['events']:>7} {r['median_s']:>9.3f} "
            f"{r['events_per_s']:>9,.0f} {ratio:>8}"
        )
    print()
    print("events: events in the bytes fed (events/s uses it, whatever the library delivered).")
    print(
        "vs ours: the row's events/s / our AMIFramer's events/s on the same chunking "
        "(pyst2: BytesIO vs 64 KiB, socket vs 1400 B)."
    )
    for r in report["results"]:
        if r["note"]:
            print(f"  {r['library']}, {r['feed']}: {r['note']}")
    print()
    print(
        "UTF-8 and framing: events delivered, and events whose CallerIDName is a Japanese "
        "name, byte-exact"
    )
    head = (
        f"{'library':<22} {'feed':<22} {'events delivered':>17} {'names intact':>13} "
        f"{'mangled':>8} {'frame errors':>13}"
    )
    print(head)
    print("-" * len(head))
    for c in report["utf8"]:
        ev = f"{c['events']}/{c['expected_events']}"
        names = f"{c['names_intact']}/{c['names_expected']}"
        print(
            f"{c['library']:<22} {c['feed']:<22} {ev:>17} {names:>13} {c['names_mangled']:>8} "
            f"{c['frame_errors']:>13}"
        )
    if report["package_clash"]:
        print()
        print(f"note: {report['package_clash']}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="AMI ingest benchmark")
    ap.add_argument("--stream", type=Path, default=DEFAULT_STREAM, help="raw AMI capture")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per measurement")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    report = run(args.stream, max(1, args.reps))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
