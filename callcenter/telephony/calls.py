"""Call records and their outcomes (definitions: docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    AFTER_HOURS = "after_hours"  # heard the after-hours message
    ANSWERED = "answered"  # an agent answered, whatever happened next
    TRANSFERRED_OUT = "transferred_out"  # sent to an outside number before any answer
    VOICEMAIL = "voicemail"  # left for voicemail
    CALLBACK = "callback"  # asked to be called back
    FAILED = "failed"  # the system ended it unanswered (dialplan gave up, PBX restart)
    UNKNOWN = "unknown"  # ended unanswered while the daemon was disconnected
    SHORT_ABANDONED = "short_abandoned"  # caller hung up unanswered under the threshold
    ABANDONED = "abandoned"  # caller hung up unanswered at or after the threshold


class AbandonStage(StrEnum):
    IVR = "ivr"  # before joining any queue
    QUEUE = "queue"  # waiting in a queue
    BUSY = "busy"  # after the busy announcement had started


@dataclass
class Transfer:
    kind: str  # "blind" or "attended" (by an agent), "routed" (by the dialplan)
    at: float
    target: str  # extension or party the call went to
    by: str  # channel that transferred


@dataclass
class CallRecord:
    server_id: str
    linkedid: str
    arrived_at: float
    caller_num: str = ""
    caller_name: str = ""
    dnis: str = ""
    queue: str | None = None
    ivr_path: list[str] = field(default_factory=list)
    busy_at: float | None = None
    queued_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    agent: str | None = None
    agent_interface: str | None = None
    hold_seconds: float = 0.0
    park_seconds: float = 0.0
    parks: int = 0
    transfers: list[Transfer] = field(default_factory=list)
    # Set from dialplan stages.
    after_hours: bool = False
    system_end: str | None = None  # why the dialplan or PBX ended it unanswered
    routed: str | None = None  # transfer_out / voicemail / callback
    disconnected_end: bool = False  # ended while the daemon was not connected
    estimated: bool = False  # some times come from a resync, not from events
    outcome: Outcome | None = None
    abandon_stage: AbandonStage | None = None
    # The definitions that classified it (definitions_key): kept with the stored call.
    definitions: str = ""

    @property
    def wait_seconds(self) -> float | None:
        start = self.queued_at if self.queued_at is not None else self.arrived_at
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else max(0.0, end - start)

    @property
    def handle_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.answered_at)

    @property
    def talk_seconds(self) -> float | None:
        h = self.handle_seconds
        return None if h is None else max(0.0, h - self.park_seconds)

    @property
    def heard_busy(self) -> bool:
        return self.busy_at is not None


def definitions_key(short_abandon_seconds: float, service_level_seconds: float) -> str:
    """The contract definitions a call was classified with, as one comparable string.

    Stored with every call, so a period classified under two thresholds says so, and a
    rebuild under a new one shows what moved (docs/metrics.md, "Definitions").
    """
    return (
        f"short_abandon_seconds={short_abandon_seconds:g};"
        f"service_level_seconds={service_level_seconds:g}"
    )


def parse_definitions(key: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in key.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


def classify(call: CallRecord, short_abandon_seconds: float) -> tuple[Outcome, AbandonStage | None]:
    """The one outcome of an ended call, in the order docs/metrics.md gives."""
    if call.after_hours:
        return Outcome.AFTER_HOURS, None
    if call.answered_at is not None:
        return Outcome.ANSWERED, None
    if call.routed is not None:
        return Outcome(call.routed), None
    if call.system_end is not None:
        return Outcome.FAILED, None
    if call.disconnected_end:
        return Outcome.UNKNOWN, None
    if call.busy_at is not None:
        stage = AbandonStage.BUSY
    elif call.queued_at is not None:
        stage = AbandonStage.QUEUE
    else:
        stage = AbandonStage.IVR
    end = call.ended_at if call.ended_at is not None else call.arrived_at
    if end - call.arrived_at < short_abandon_seconds:
        return Outcome.SHORT_ABANDONED, stage
    return Outcome.ABANDONED, stage
