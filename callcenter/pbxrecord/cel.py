"""CEL lines -> the events the call tracker already understands. Pure, no I/O.

One classifier for both sources: each CEL record is translated into the AMI event the
tracker would have seen (CHAN_START -> Newchannel, the dialplan's CELGenUserEvent ->
UserEvent, the Queue application's start -> QueueCallerJoin, the agent leg entering
the queue's bridge -> AgentConnect, HANGUP -> Hangup, parking and transfers), and
the same ``CallTracker`` classifies the call. So a call completed from the PBX record
gets exactly the outcome rules of a call seen live (docs/metrics.md).

What CEL does not carry: hold (no CEL event in Asterisk 16), so hold time is 0 for a
call known only from the record.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callcenter.pbxrecord.asterisk_conf import COLUMNS, EVENTS, FORMAT
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.tracker import CallTracker

# Standard CEL event types; anything else in the first column is a CELGenUserEvent name.
STANDARD = frozenset(EVENTS) | frozenset(
    {
        "PICKUP",
        "FORWARD",
        "LINKEDID_END",
        "LOCAL_OPTIMIZE",
        "CONF_ENTER",
        "CONF_EXIT",
        "CONF_START",
        "CONF_END",
        "3WAY_START",
        "3WAY_END",
        "HOOKFLASH",
        "TRANSFER",
    }
)
USER_EVENT = "CallCenter"
# Recorded for the audit trail, but nothing the classifier reads.
UNUSED = frozenset({"CHAN_END", "ANSWER", "APP_END", "BRIDGE_EXIT", "LINKEDID_END", "UNPARSED"})


class CelParseError(ValueError):
    """A line that is not a CEL record of the layout this version writes."""


@dataclass(frozen=True)
class CelRow:
    eventtype: str
    eventtime: float
    uniqueid: str
    linkedid: str
    fields: dict[str, str] = field(compare=False)

    def get(self, key: str) -> str:
        return self.fields.get(key, "")

    @property
    def is_user_event(self) -> bool:
        return self.eventtype not in STANDARD


def parse_line(line: str) -> CelRow:
    """One line of callcenter.csv (see asterisk_conf.cel_custom_conf)."""
    try:
        cells = next(csv.reader([line.rstrip("\r\n")]))
    except (csv.Error, StopIteration) as exc:
        raise CelParseError(f"not CSV: {exc}") from None
    if not cells or cells[0] != FORMAT:
        raise CelParseError(f"format tag {cells[0] if cells else ''!r}, expected {FORMAT!r}")
    if len(cells) != len(COLUMNS) + 1:
        raise CelParseError(f"{len(cells) - 1} columns, expected {len(COLUMNS)}")
    values = dict(zip(COLUMNS, cells[1:], strict=True))
    try:
        t = float(values["eventtime"])
    except ValueError:
        raise CelParseError(f"eventtime {values['eventtime']!r} is not epoch seconds") from None
    if not math.isfinite(t) or not 0 < t < 32503680000:  # before year 3000
        raise CelParseError(f"eventtime {values['eventtime']!r} out of range")
    if not values["eventtype"] or not values["uniqueid"]:
        raise CelParseError("empty eventtype or uniqueid")
    return CelRow(
        values["eventtype"], t, values["uniqueid"], values["linkedid"] or values["uniqueid"], values
    )


def _extra(row: CelRow) -> dict[str, object]:
    raw = row.get("extra")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"extra": raw}
    return value if isinstance(value, dict) else {"extra": value}


def _stage_headers(extra: str) -> dict[str, str]:
    """'Stage: entered|Queue: support' -> the UserEvent's headers."""
    out: dict[str, str] = {}
    for part in extra.split("|"):
        key, sep, value = part.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _endpoint(channel: str) -> str:
    """'PJSIP/agent1-0000002a' -> 'agent1'."""
    tech_rest = channel.split("/", 1)
    rest = tech_rest[1] if len(tech_rest) == 2 else channel
    return rest.rsplit("-", 1)[0] if "-" in rest else rest


def to_events(row: CelRow, agent_names: Mapping[str, str]) -> list[dict[str, str]]:
    """The AMI event(s) the tracker would have received for this CEL record."""
    base = {
        "Uniqueid": row.uniqueid,
        "Linkedid": row.linkedid,
        "Channel": row.get("channame"),
        "Timestamp": repr(row.eventtime),
    }
    kind = row.eventtype
    if kind == "CHAN_START":
        return [
            {
                **base,
                "Event": "Newchannel",
                "Context": row.get("context"),
                "Exten": row.get("exten"),
                "CallerIDNum": row.get("cid_num"),
                "CallerIDName": row.get("cid_name"),
            }
        ]
    if row.is_user_event:
        if kind != USER_EVENT:
            return []
        extra = _extra(row).get("extra", "")
        return [
            {**base, "Event": "UserEvent", "UserEvent": USER_EVENT, **_stage_headers(str(extra))}
        ]
    if kind == "APP_START" and row.get("appname").lower() == "queue":
        queue = row.get("appdata").split(",")[0]
        return [{**base, "Event": "QueueCallerJoin", "Queue": queue}]
    if kind == "BRIDGE_ENTER" and row.get("appname") == "AppQueue":
        # The agent's leg joins the caller in the queue's bridge: the queue answered.
        endpoint = _endpoint(row.get("channame"))
        return [
            {
                **base,
                "Event": "AgentConnect",
                "Queue": row.get("exten"),
                "Interface": f"PJSIP/{endpoint}",
                "MemberName": agent_names.get(endpoint, f"PJSIP/{endpoint}"),
            }
        ]
    if kind == "HANGUP":
        return [{**base, "Event": "Hangup"}]
    if kind == "PARK_START":
        return [
            {
                **base,
                "Event": "ParkedCall",
                "ParkeeUniqueid": row.uniqueid,
                "ParkeeLinkedid": row.linkedid,
            }
        ]
    if kind == "PARK_END":
        return [{**base, "Event": "UnParkedCall", "ParkeeUniqueid": row.uniqueid}]
    if kind == "BLINDTRANSFER":
        extra = _extra(row)
        return [
            {
                **base,
                "Event": "BlindTransfer",
                "TransfererLinkedid": row.linkedid,
                "TransfererChannel": row.get("channame"),
                "Extension": str(extra.get("extension", "")),
            }
        ]
    if kind == "ATTENDEDTRANSFER":
        extra = _extra(row)
        # The party the caller was transferred to (channel2 is the agent's own second leg).
        target = str(extra.get("transfer_target_channel_name") or "")
        if target == "N/A":
            target = ""
        return [
            {
                **base,
                "Event": "AttendedTransfer",
                "OrigTransfererLinkedid": row.linkedid,
                "OrigTransfererChannel": row.get("channame"),
                "SecondTransfererExten": _endpoint(target) if target else "",
            }
        ]
    return []


@dataclass
class Rebuilt:
    finished: list[CallRecord]
    still_open: list[CallRecord]


def build_calls(
    rows: Iterable[CelRow],
    server_id: str,
    *,
    short_abandon_seconds: float,
    agent_names: Mapping[str, str] | None = None,
    definitions: str = "",
) -> Rebuilt:
    """Classify every inbound call of ``rows`` (any order) with the live tracker's rules.

    Calls whose caller channel has not hung up in the record yet are returned open.
    """
    names = dict(agent_names or {})
    tracker = CallTracker(
        server_id,
        short_abandon_seconds=short_abandon_seconds,
        agent_names=names,
        definitions=definitions,
    )
    finished: list[CallRecord] = []
    # Asterisk's own times, in order; the file order breaks ties (same microsecond).
    ordered = sorted(enumerate(rows), key=lambda ir: (ir[1].eventtime, ir[0]))
    for _, row in ordered:
        for ev in to_events(row, names):
            done = tracker.feed(ev, row.eventtime)
            if done is not None:
                finished.append(done)
    return Rebuilt(finished, list(tracker.calls.values()))
