"""Finished calls as the tracker hands them over."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.telephony.calls import CallRecord, Outcome

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC).timestamp()  # 10:00 in Tokyo


def call(
    linkedid: str,
    number: str,
    outcome: Outcome,
    at: float = 0.0,
    *,
    answered_after: float | None = None,
    queue: str | None = "support",
    name: str = "山田 太郎",
    server: str = "pbx1",
) -> CallRecord:
    arrived = T0 + at
    answered = None if answered_after is None else arrived + answered_after
    return CallRecord(
        server_id=server,
        linkedid=linkedid,
        arrived_at=arrived,
        caller_num=number,
        caller_name=name,
        queue=queue,
        answered_at=answered,
        ended_at=arrived + 30,
        outcome=outcome,
    )
