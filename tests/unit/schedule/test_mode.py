"""The service mode: decisions, overrides, and the keeper's AstDB writes on a fake clock.

The boundary tests run the real APScheduler: the clock starts 0.2 s before a boundary
and moves on with the real time, so the switch must come from the scheduled job.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from callcenter.config import parse_config
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeDecision, ModeKeeper, Override, decide
from callcenter.schedule.settings import ServiceConfig

from .support import FakeAMI, FakeClock, jst

CAL = BusinessCalendar.from_config(ServiceConfig())
TUE = (2026, 11, 24)  # an ordinary Tuesday
WED = (2026, 11, 25)


# -- decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "mode", "reason", "valid_until"),
    [
        (jst(*TUE, 10), "open", "hours", jst(*TUE, 18, 15)),
        (jst(*TUE, 8, 30), "open", "hours", jst(*TUE, 18, 15)),
        (jst(*TUE, 18, 14, 59), "open", "hours", jst(*TUE, 18, 15)),
        (jst(*TUE, 18, 15), "closed", "hours", jst(*WED, 8, 30)),
        (jst(*TUE, 8, 29, 59), "closed", "hours", jst(*TUE, 8, 30)),
        (jst(2026, 11, 28, 10), "closed", "hours", jst(2026, 11, 30, 8, 30)),  # Saturday
        (jst(2026, 9, 22, 10), "closed", "holiday", jst(2026, 9, 24, 8, 30)),  # 国民の休日
        (jst(2026, 5, 6, 10), "closed", "holiday", jst(2026, 5, 7, 8, 30)),  # substitute
        (jst(2026, 12, 30, 10), "closed", "year_end", jst(2027, 1, 4, 8, 30)),
    ],
)
def test_decisions_from_the_calendar(
    at: datetime, mode: str, reason: str, valid_until: datetime
) -> None:
    d = decide(CAL, at)
    assert (d.mode, d.reason, d.valid_until) == (mode, reason, valid_until)
    assert bool(d.note) is (reason == "holiday")  # the holiday's name
    if reason == "holiday":
        assert d.note == CAL.holiday_name(at.date())


def test_an_extra_closed_day() -> None:
    cal = BusinessCalendar.from_config(
        parse_config({"service": {"closed_dates": ["2026-11-24"]}}).service
    )
    d = decide(cal, jst(*TUE, 10))
    assert (d.mode, d.reason, d.valid_until) == ("closed", "closed_day", jst(*WED, 8, 30))


def test_an_override_wins_until_it_ends() -> None:
    close = Override("closed", jst(*TUE, 12), note="power cut")
    assert decide(CAL, jst(*TUE, 10), close) == ModeDecision(
        "closed", "override", jst(*TUE, 12), "power cut"
    )
    assert decide(CAL, jst(*TUE, 11, 59, 59), close).reason == "override"
    assert decide(CAL, jst(*TUE, 12), close) == ModeDecision("open", "hours", jst(*TUE, 18, 15))
    open_on_holiday = Override("open", jst(2026, 9, 22, 17))
    d = decide(CAL, jst(2026, 9, 22, 9), open_on_holiday)
    assert (d.mode, d.reason) == ("open", "override")
    assert decide(CAL, jst(2026, 9, 22, 17), open_on_holiday).reason == "holiday"


# -- the keeper, writes only (a frozen clock) -------------------------------------------


def epoch(t: datetime) -> int:
    return int(t.timestamp())


@pytest.fixture
async def keeper_on() -> AsyncIterator[Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]]]:
    made: list[ModeKeeper] = []

    def make(start: datetime, **kw: object) -> tuple[ModeKeeper, FakeAMI, FakeClock]:
        clock = FakeClock(start)
        ami = FakeAMI(clock)
        # mode_until from the fake clock too, so it is exact.
        keeper = ModeKeeper(
            ami,
            CAL,
            clock=clock,
            wall=lambda: clock().timestamp(),
            **kw,  # type: ignore[arg-type]
        )
        made.append(keeper)
        return keeper, ami, clock

    yield make
    for k in made:
        await k.stop()


async def test_start_writes_mode_then_mode_until(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10), ttl=300)
    d = await keeper.start()
    assert (d.mode, d.reason) == ("open", "hours")
    assert [(p.key, p.value) for p in ami.puts] == [
        ("mode", "open"),
        ("mode_until", str(epoch(jst(*TUE, 10, 5)))),  # now + ttl: the boundary is later
    ]
    assert ami.db == {
        ("callcenter", "mode"): "open",
        ("callcenter", "mode_until"): str(epoch(jst(*TUE, 10, 5))),
    }
    assert keeper.written == d


@pytest.mark.parametrize(
    ("start", "mode", "until"),
    [
        # The boundary is nearer than ttl: vouch up to the second before it, never for it.
        (jst(*TUE, 18, 13), "open", jst(*TUE, 18, 14, 59)),
        (jst(*TUE, 18, 14, 59, 800000), "open", jst(*TUE, 18, 14, 59)),
        (jst(*TUE, 8, 29), "closed", jst(*TUE, 8, 29, 59)),
        (jst(2026, 9, 22, 10), "closed", jst(2026, 9, 22, 10, 5)),  # holiday: now + ttl
        (jst(*TUE, 18, 15), "closed", jst(*TUE, 18, 20)),
    ],
)
async def test_mode_until_is_the_nearer_of_boundary_and_ttl(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
    start: datetime,
    mode: str,
    until: datetime,
) -> None:
    keeper, ami, _ = keeper_on(start, ttl=300)
    await keeper.start()
    assert ami.db[("callcenter", "mode")] == mode
    assert ami.db[("callcenter", "mode_until")] == str(epoch(until))


async def test_overrides(keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]]) -> None:
    keeper, ami, clock = keeper_on(jst(*TUE, 10))
    await keeper.start()
    # An emergency close with no end: until the calendar's next boundary.
    d = await keeper.override("closed", note="system outage")
    assert d == ModeDecision("closed", "override", jst(*TUE, 18, 15), "system outage")
    assert keeper.current() == d
    assert ami.modes() == ["open", "closed"]
    d = await keeper.clear_override()
    assert (d.mode, d.reason) == ("open", "hours")
    assert ami.modes() == ["open", "closed", "open"]

    # An emergency open in the evening until 20:00; past it the calendar decides again.
    clock.set(jst(*TUE, 19))
    d = await keeper.override("open", until=jst(*TUE, 20))
    assert (d.mode, d.reason, d.valid_until) == ("open", "override", jst(*TUE, 20))
    assert ami.db[("callcenter", "mode_until")] == str(epoch(jst(*TUE, 19, 5)))
    clock.set(jst(*TUE, 20))
    assert keeper.override_active is None
    assert (keeper.current().mode, keeper.current().reason) == ("closed", "hours")
    await keeper.resync()
    assert ami.modes()[-1] == "closed"


async def test_bad_overrides_are_refused(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10))
    with pytest.raises(ValueError, match="mode: 'shut'"):
        await keeper.override("shut")
    with pytest.raises(ValueError, match="not in the future"):
        await keeper.override("closed", until=jst(*TUE, 9))
    with pytest.raises(ValueError, match="aware"):
        await keeper.override("closed", until=datetime(2026, 11, 24, 12))
    assert ami.puts == []
    assert keeper.override_active is None


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        ("停電\x00", "U+0000"),
        ("\x1b[31m停電", "U+001B"),
        ("停電\x7f", "U+007F"),
        ("停電\x9b", "U+009B"),  # C1
        ("停電\ud800", "U+D800"),  # a lone surrogate: no UTF-8
    ],
)
async def test_a_note_with_a_control_character_is_refused_before_any_write(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]], note: str, shown: str
) -> None:
    # Issue 11: a NUL in the note went into the DBPut (and the API blamed "mode").
    keeper, ami, _ = keeper_on(jst(*TUE, 10))
    with pytest.raises(ValueError, match=f"^note: .*{re.escape(shown)}"):
        await keeper.override("closed", until=jst(*TUE, 12), note=note)
    assert ami.puts == []
    assert ami.db == {}
    assert keeper.override_active is None


async def test_white_space_in_a_note_is_folded_not_refused(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10))
    await keeper.override("closed", until=jst(*TUE, 12), note="台風\tの\u2028ため\x1f臨時\x85閉庁")
    assert ami.db[("callcenter", "override")].endswith("|台風 の ため 臨時 閉庁")


async def test_a_failed_write_is_logged_and_the_next_one_mends_it(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(2026, 9, 22, 10))
    ami.down = True
    with capture_logs() as logs:
        d = await keeper.start()  # does not raise: the dialplan's time rule covers it
        ami.down = False
        await keeper.resync()  # what the daemon calls after the AMI reconnects
    assert d.mode == "closed"
    assert keeper.write_failures == 1
    assert ami.db[("callcenter", "mode")] == "closed"
    failed = [e for e in logs if e["event"] == "service.mode_write_failed"]
    assert len(failed) == 1
    assert "not connected" in failed[0]["error"]
    # The mode is logged once: it did not change between the two attempts.
    modes = [e for e in logs if e["event"] == "service.mode"]
    assert [(e["mode"], e["reason"], e["note"]) for e in modes] == [
        ("closed", "holiday", CAL.holiday_name(jst(2026, 9, 22).date()))
    ]


async def test_nothing_is_written_after_stop(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10))
    await keeper.start()
    await keeper.stop()
    await keeper.resync()
    assert len(ami.puts) == 2
    await keeper.stop()  # twice is fine


# -- the keeper with the real scheduler (a running clock) -------------------------------


async def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("boundary", "before", "after", "next_boundary"),
    [
        (jst(*TUE, 18, 15), "open", "closed", jst(*WED, 8, 30)),
        (jst(*TUE, 8, 30), "closed", "open", jst(*TUE, 18, 15)),
        (jst(2026, 11, 20, 18, 15), "open", "closed", jst(2026, 11, 24, 8, 30)),  # Fri
    ],
)
async def test_the_mode_switches_at_the_exact_boundary(
    boundary: datetime, before: str, after: str, next_boundary: datetime
) -> None:
    clock = FakeClock(boundary - timedelta(milliseconds=200), running=True)
    ami = FakeAMI(clock)
    keeper = ModeKeeper(ami, CAL, clock=clock, ttl=300)
    with capture_logs() as logs:
        try:
            await keeper.start()
            assert ami.modes() == [before]
            await wait_until(lambda: len(ami.modes()) == 2, 3, "the boundary's write")
        finally:
            await keeper.stop()
    assert ami.modes() == [before, after]
    switch = next(p for p in ami.puts if p.key == "mode" and p.value == after)
    assert boundary <= switch.at < boundary + timedelta(milliseconds=300)
    assert all(p.at < boundary for p in ami.puts if p.value == before)
    # Before: vouched up to the second before the boundary, in real epoch seconds.
    first_until = int(ami.puts[1].value)
    assert first_until == pytest.approx(ami.puts[1].real + 0.2 - 1, abs=1.01)
    # After: until now + ttl (the next boundary is further), and armed for it.
    until = int(ami.puts[3].value)
    assert until == pytest.approx(ami.puts[3].real + 300, abs=1.01)
    assert keeper.written is not None
    assert keeper.written.valid_until == next_boundary
    assert [(e["mode"], e["reason"]) for e in logs if e["event"] == "service.mode"] == [
        (before, "hours"),
        (after, "hours"),
    ]


async def test_an_override_ends_on_time_and_the_refresh_rewrites() -> None:
    clock = FakeClock(jst(*TUE, 10), running=True)
    ami = FakeAMI(clock)
    keeper = ModeKeeper(ami, CAL, clock=clock, ttl=60, refresh=0.15)
    try:
        await keeper.start()
        ends = clock() + timedelta(milliseconds=300)
        await keeper.override("closed", until=ends, note="drill")
        assert ami.modes() == ["open", "closed"]
        await wait_until(lambda: "open" in ami.modes()[2:], 3, "the override's end")
        reopened = next(p for p in ami.puts[4:] if p.key == "mode" and p.value == "open")
        assert reopened.at >= ends
        assert keeper.override_active is None
        # The refresh goes on rewriting (and renews mode_until) while nothing changes.
        n = len(ami.puts)
        await wait_until(lambda: len(ami.puts) >= n + 4, 3, "two refreshes")
        # Refreshes during the override rewrite "closed" (how many depends on load); from
        # the first reopening on, only "open" is written.
        modes = ami.modes()
        assert set(modes[modes.index("open", 1) :]) == {"open"}
        assert modes.count("open") >= 3
    finally:
        await keeper.stop()
    n = len(ami.puts)
    await asyncio.sleep(0.4)
    assert len(ami.puts) == n  # stopped: no more writes


async def test_a_timer_that_fires_before_the_clock_reaches_the_boundary_still_switches() -> None:
    # The clock stands still at 18:14:59.8 (as a clock running slow against the timer's
    # would): the boundary's job must still write the mode of the boundary, once.
    clock = FakeClock(jst(*TUE, 18, 14, 59, 800000))
    ami = FakeAMI(clock)
    keeper = ModeKeeper(ami, CAL, clock=clock, ttl=300)
    try:
        await keeper.start()
        await wait_until(lambda: len(ami.modes()) == 2, 3, "the boundary's write")
        await asyncio.sleep(0.3)
    finally:
        await keeper.stop()
    assert ami.modes() == ["open", "closed"]
    assert keeper.written is not None
    assert keeper.written.valid_until == jst(*WED, 8, 30)


# -- the override kept in AstDB ------------------------------------------------------------


def stored(ami: FakeAMI) -> str | None:
    return ami.db.get(("callcenter", "override"))


async def test_an_override_is_kept_in_astdb_and_outlives_the_daemon(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, clock = keeper_on(jst(*TUE, 10), ttl=300)
    await keeper.start()
    until = jst(*TUE, 12)
    await keeper.override("closed", until=until, note="台風\r\nのため 臨時閉庁")
    # One line (an AMI header value cannot break), the end in epoch seconds.
    assert stored(ami) == f"closed|{epoch(until)}|台風 のため 臨時閉庁"
    await keeper.stop()

    # A new daemon (same PBX, so the same AstDB) starts in the override, not the calendar.
    again = ModeKeeper(ami, CAL, clock=clock, wall=lambda: clock().timestamp(), ttl=300)
    try:
        d = await again.start()
        assert (d.mode, d.reason, d.valid_until, d.note) == (
            "closed",
            "override",
            until,
            "台風 のため 臨時閉庁",
        )
        assert ami.modes()[-1] == "closed"
        assert again.override_active == Override("closed", until, "台風 のため 臨時閉庁")
    finally:
        await again.stop()


async def test_an_override_set_elsewhere_is_followed_at_the_next_write(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10), ttl=300)
    await keeper.start()
    assert ami.modes() == ["open"]
    # `callcenter mode closed` (another process) stored it; the next write follows it.
    ami.db[("callcenter", "override")] = f"closed|{epoch(jst(*TUE, 11))}|drill"
    await keeper.resync()
    assert ami.modes() == ["open", "closed"]
    assert keeper.current().reason == "override"
    # And removed elsewhere: back to the calendar.
    del ami.db[("callcenter", "override")]
    await keeper.resync()
    assert ami.modes() == ["open", "closed", "open"]
    assert keeper.override_active is None


async def test_clearing_removes_the_stored_override(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 19), ttl=300)
    await keeper.start()
    await keeper.override("open", until=jst(*TUE, 20), note="overtime")
    assert ami.modes() == ["closed", "open"]
    assert stored(ami) is not None
    d = await keeper.clear_override()
    assert (d.mode, d.reason) == ("closed", "hours")
    assert stored(ami) is None
    await keeper.clear_override()  # nothing stored: not an error


async def test_an_expired_override_is_removed(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10), ttl=300)
    ami.db[("callcenter", "override")] = f"closed|{epoch(jst(*TUE, 9))}|yesterday's drill"
    d = await keeper.start()
    assert (d.mode, d.reason) == ("open", "hours")
    assert stored(ami) is None


@pytest.mark.parametrize("value", ["", "shut|123|x", "closed|soon|x", "closed"])
async def test_an_unreadable_override_is_ignored_and_logged(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]], value: str
) -> None:
    keeper, ami, _ = keeper_on(jst(*TUE, 10), ttl=300)
    ami.db[("callcenter", "override")] = value
    with capture_logs() as logs:
        d = await keeper.start()
    assert (d.mode, d.reason) == ("open", "hours")
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "service.override_unreadable"
    ]


async def test_an_override_that_cannot_be_stored_is_an_error(
    keeper_on: Callable[..., tuple[ModeKeeper, FakeAMI, FakeClock]],
) -> None:
    from callcenter.ami import AMIConnectionError

    keeper, ami, _ = keeper_on(jst(*TUE, 10), ttl=300)
    await keeper.start()
    ami.down = True
    with pytest.raises(AMIConnectionError):
        await keeper.override("closed", note="storm")
    assert keeper.override_active is None  # not half-applied
