"""A finished call as its row in the calls table (written by ``callcenter.store.calls``).

The mapping lives with the call record, above the store: the store holds the table and
writes rows, and imports nothing from the domains.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.telephony.calls import CallRecord


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def call_row(call: CallRecord, tz: ZoneInfo, source: str = "ami") -> dict[str, Any]:
    if call.outcome is None or call.ended_at is None:
        raise ValueError(f"call {call.linkedid} is not finished")
    local = datetime.fromtimestamp(call.arrived_at, tz)
    return {
        "server_id": call.server_id,
        "linkedid": call.linkedid,
        "arrived_at": _ts(call.arrived_at),
        "local_day": local.strftime("%Y-%m-%d"),
        "local_hour": local.hour,
        "caller_num": call.caller_num[:64],
        "caller_name": call.caller_name[:128],
        "dnis": call.dnis[:64],
        "queue": call.queue,
        "ivr_path": list(call.ivr_path),
        "busy_at": _ts(call.busy_at),
        "queued_at": _ts(call.queued_at),
        "answered_at": _ts(call.answered_at),
        "ended_at": _ts(call.ended_at),
        "agent": call.agent,
        "agent_interface": call.agent_interface,
        "wait_seconds": call.wait_seconds,
        "handle_seconds": call.handle_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "park_seconds": call.park_seconds,
        "parks": call.parks,
        "transfers": [asdict(t) for t in call.transfers],
        "heard_busy": call.heard_busy,
        "outcome": call.outcome.value,
        "abandon_stage": call.abandon_stage.value if call.abandon_stage else None,
        "system_end": call.system_end,
        "estimated": call.estimated,
        "source": source,
        "definitions": call.definitions or None,
    }
