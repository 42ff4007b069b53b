"""Today's figures in the daemon: stored calls of today + calls finished since start."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.config import Config
from callcenter.daemon import AMITarget, Daemon
from callcenter.metrics import compute_figures
from callcenter.store.calls import write_calls
from callcenter.store.db import migrate
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome

TZ = ZoneInfo("Asia/Tokyo")


def record(
    linkedid: str, arrived: datetime, outcome: Outcome, queue: str = "support"
) -> CallRecord:
    t = arrived.timestamp()
    rec = CallRecord(
        server_id="lab",
        linkedid=linkedid,
        arrived_at=t,
        queue=queue,
        queued_at=t + 1,
        ended_at=t + 60,
    )
    if outcome is Outcome.ANSWERED:
        rec.answered_at = t + 5
    rec.outcome = outcome
    return rec


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"), base_dir=tmp_path)
    d = Daemon(cfg, AMITarget("127.0.0.1", 1, "u", "s3cret-xyz"))
    migrate(d.engine)
    return d


def test_today_is_stored_calls_plus_calls_finished_since(daemon: Daemon) -> None:
    now = datetime.now(TZ)
    earlier = now - timedelta(seconds=30)
    yesterday = now - timedelta(days=1)
    write_calls(
        daemon.engine,
        [
            call_row(record("a", earlier, Outcome.ANSWERED), TZ),
            call_row(record("b", earlier, Outcome.ABANDONED, queue="sales"), TZ),
            call_row(record("old", yesterday, Outcome.ABANDONED), TZ),
        ],
    )
    daemon.today.load()
    daemon.router.call_finished(record("c", now, Outcome.ANSWERED))
    daemon.router.call_finished(record("d", yesterday, Outcome.ANSWERED))  # finished past midnight
    f = daemon.today_figures()
    assert (f.answered, f.abandoned, f.total_incoming) == (2, 1, 3)
    assert f.abandonment_rate == pytest.approx(1 / 3)
    s = daemon.today_figures("support")
    assert (s.answered, s.abandoned) == (2, 0)
    assert daemon.today_figures("sales").abandoned == 1
    daemon.engine.dispose()


def test_a_new_day_starts_from_nothing(daemon: Daemon) -> None:
    now = datetime.now(TZ)
    daemon.today.load()
    daemon.router.call_finished(record("x", now - timedelta(days=1), Outcome.ABANDONED))
    # As if the day had turned since the base was loaded: its calls are yesterday's.
    stale = compute_figures(
        [record("y", now - timedelta(days=1), Outcome.ANSWERED)], daemon.cfg.metrics
    )
    assert stale.answered == 1
    daemon.today.day, daemon.today.base = "1999-01-01", {"support": stale}
    assert daemon.today_figures().calls == 0
    assert not daemon.recent_calls
    daemon.engine.dispose()


def test_a_call_completed_from_the_pbx_record_is_counted_once(daemon: Daemon) -> None:
    from callcenter.pbxrecord.reconcile import PassResult

    now = datetime.now(TZ)
    daemon.today.load()
    # Open in the live tracker when the link dropped; the PBX record then saw it end.
    open_call = record("gap", now, Outcome.ANSWERED)
    open_call.outcome, open_call.ended_at = None, None
    daemon.tracker.calls["gap"] = open_call
    real = record("gap", now, Outcome.ANSWERED)
    daemon.router.from_record(PassResult(checked=1, written=[real], added={"gap"}))
    assert "gap" not in daemon.tracker.calls  # the resync will not finish it again
    assert daemon.today_figures().answered == 1
    # Had the estimate come anyway (a resumed call), it is written (the store keeps the
    # real times) but not counted twice.
    estimate = record("gap", now, Outcome.UNKNOWN)
    estimate.estimated = True
    daemon.router.call_finished(estimate)
    f = daemon.today_figures()
    assert (f.answered, f.calls) == (1, 1)


def test_an_estimate_replaced_from_the_pbx_record_moves_in_todays_figures(
    daemon: Daemon,
) -> None:
    from callcenter.pbxrecord.reconcile import PassResult

    now = datetime.now(TZ)
    daemon.today.load()
    estimate = record("cut", now, Outcome.UNKNOWN)
    estimate.estimated = True
    daemon.router.call_finished(estimate)
    assert daemon.today_figures().unknown == 1
    real = record("cut", now, Outcome.ABANDONED)
    daemon.router.from_record(PassResult(checked=1, written=[real], added=set()))
    f = daemon.today_figures()
    assert (f.unknown, f.abandoned, f.calls) == (0, 1, 1)
    daemon.engine.dispose()
