"""The recall figures: share reached and mean time to reach, by the entries' first call."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callcenter.followups.figures import recall_figures
from callcenter.followups.rules import ClosedBy, Entry, Reason, Status

JUNE = datetime(2026, 6, 1, tzinfo=UTC)
JULY = datetime(2026, 7, 1, tzinfo=UTC)


def entry(opened: datetime, status: Status = Status.OPEN, **kw: object) -> Entry:
    e = Entry(
        caller_num="0300000001",
        caller_name="",
        reason=Reason.ABANDONED,
        queue="support",
        server_id="pbx1",
        first_linkedid="x",
        opened_at=opened,
        last_call_at=opened,
    )
    return replace(e, status=status, **kw)  # type: ignore[arg-type]


def test_hand_counted_month() -> None:
    d = JUNE + timedelta(days=3)
    entries = [
        # reached by a call-back after 10 minutes
        entry(d, Status.REACHED, closed_at=d + timedelta(minutes=10), closed_by=ClosedBy.CALLBACK),
        # reached when they called again, 50 minutes later
        entry(
            d, Status.REACHED, closed_at=d + timedelta(minutes=50), closed_by=ClosedBy.CALL_AGAIN
        ),
        # an agent said reached, after 2 hours (in July: still June's entry)
        entry(
            JULY - timedelta(hours=1),
            Status.REACHED,
            closed_at=JULY + timedelta(hours=1),
            closed_by=ClosedBy.AGENT,
        ),
        entry(d, Status.WRONG_NUMBER, closed_at=d, closed_by=ClosedBy.AGENT),
        entry(d),  # still open
        entry(JUNE - timedelta(seconds=1), Status.REACHED, closed_at=JUNE),  # May's
        entry(JULY, Status.REACHED, closed_at=JULY + timedelta(minutes=1)),  # July's
    ]
    f = recall_figures(entries, JUNE, JULY)
    assert (f.opened, f.reached, f.by_callback, f.by_call_again) == (5, 3, 2, 1)
    assert (f.wrong_number, f.still_open) == (1, 1)
    assert f.share_reached == 3 / 5
    assert f.mean_seconds_to_reach == (600 + 3000 + 7200) / 3
    assert f.to_dict()["share_reached"] == 0.6


def test_nobody_on_the_list() -> None:
    f = recall_figures([entry(JULY)], JUNE, JULY)
    assert (f.opened, f.share_reached, f.mean_seconds_to_reach) == (0, None, None)
    f = recall_figures([entry(JUNE)], JUNE, JULY)
    assert (f.opened, f.share_reached, f.mean_seconds_to_reach) == (1, 0.0, None)
