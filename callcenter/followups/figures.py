"""The recall figures of a period: of the callers put on the list in it, the share the
desk reached, and how long reaching them took. Pure: the monthly report (and the API)
pass the entries in.

Counted by the entry's first call: an entry opened in the period counts there however
late it was reached. Reached means ``reached`` (a call-back answered or the caller
called again and was answered); a wrong number and an entry still open are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from callcenter.followups.rules import ClosedBy, Entry, Status


@dataclass(frozen=True)
class RecallFigures:
    opened: int  # callers put on the list in the period
    reached: int
    by_callback: int  # of the reached: by a call-back
    by_call_again: int  # of the reached: they called again and were answered
    wrong_number: int
    still_open: int
    share_reached: float | None  # reached / opened; None with nobody on the list
    mean_seconds_to_reach: float | None  # first call to reached, over the reached

    def to_dict(self) -> dict[str, object]:
        return {
            "opened": self.opened,
            "reached": self.reached,
            "by_callback": self.by_callback,
            "by_call_again": self.by_call_again,
            "wrong_number": self.wrong_number,
            "still_open": self.still_open,
            "share_reached": self.share_reached,
            "mean_seconds_to_reach": self.mean_seconds_to_reach,
        }


def recall_figures(entries: Iterable[Entry], start: datetime, end: datetime) -> RecallFigures:
    """Over the entries opened in [start, end)."""
    opened = reached = callback = again = wrong = still = 0
    waits: list[float] = []
    for e in entries:
        if not start <= e.opened_at < end:
            continue
        opened += 1
        if e.status is Status.REACHED and e.closed_at is not None:
            reached += 1
            waits.append(max(0.0, (e.closed_at - e.opened_at).total_seconds()))
            if e.closed_by is ClosedBy.CALL_AGAIN:
                again += 1
            else:
                callback += 1
        elif e.status is Status.WRONG_NUMBER:
            wrong += 1
        else:
            still += 1
    return RecallFigures(
        opened=opened,
        reached=reached,
        by_callback=callback,
        by_call_again=again,
        wrong_number=wrong,
        still_open=still,
        share_reached=reached / opened if opened else None,
        mean_seconds_to_reach=sum(waits) / len(waits) if waits else None,
    )
