"""The call detail's query and rows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.metrics.figures import EXCLUDED, OUTCOMES
from callcenter.web.api.types import Day, Omittable, Text, Time

Outcome = Literal[
    "after_hours",
    "answered",
    "transferred_out",
    "voicemail",
    "callback",
    "failed",
    "unknown",
    "short_abandoned",
    "abandoned",
]
assert set(Outcome.__args__) == set(OUTCOMES)  # type: ignore[attr-defined]
PAGE_MAX = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallQuery(_Model):
    from_: Day = Field(alias="from", description="the first local day")
    to: Day = Field(description="the day after the last")
    queue: Omittable[Annotated[str, Text(64)]] = None
    agent: Omittable[Annotated[str, Text(80)]] = Field(default=None, description="its name")
    outcome: list[Outcome] = Field(default=[], description="one or more outcomes")
    caller: Omittable[Annotated[str, Text(64)]] = Field(
        default=None, description="the caller's number, exactly"
    )
    server: Omittable[Annotated[str, Text(40)]] = Field(
        default=None, description="one daemon's (server.id)"
    )
    limit: int = Field(default=100, ge=1, le=PAGE_MAX)
    offset: int = Field(default=0, ge=0, le=10**9)


class ExportQuery(_Model):
    from_: Day = Field(alias="from", description="the first local day")
    to: Day = Field(description="the day after the last")
    queue: Omittable[Annotated[str, Text(64)]] = None
    agent: Omittable[Annotated[str, Text(80)]] = None
    outcome: list[Outcome] = []
    caller: Omittable[Annotated[str, Text(64)]] = None
    server: Omittable[Annotated[str, Text(40)]] = None


class CallRow(_Model):
    """One finished call, and what it counts for in the figures."""

    model_config = ConfigDict(title="CallRow")

    linkedid: str
    server_id: str
    local_day: str
    local_hour: int
    arrived_at: Time
    caller_num: str
    caller_name: str
    dnis: str
    queue: str | None
    agent: str | None
    outcome: Outcome
    abandon_stage: str | None
    heard_busy: bool
    queued_at: Time | None
    answered_at: Time | None
    ended_at: Time
    wait_seconds: float | None
    handle_seconds: float | None
    talk_seconds: float | None
    hold_seconds: float
    park_seconds: float
    estimated: bool = Field(description="times estimated (the link was down at the end)")
    source: str = Field(description="ami (seen live or rebuilt) or pbx (the PBX record)")
    incoming: bool = Field(
        description=f"in the rates' denominator (every outcome but {', '.join(EXCLUDED)})"
    )
    abandoned: bool = Field(description="in the abandonment rate's numerator")
    busy: bool = Field(description="in the busy rate's numerator (answered after busy)")
    within_sl: bool = Field(description="in the service level's numerator")


class CallRows(_Model):
    calls: list[CallRow]
    total: int = Field(description="calls matching the filters, on every page")
    limit: int
    offset: int
    service_level_seconds: float
    short_abandon_seconds: float
