"""Agents: their state, and what they (or a supervisor for them) send to act."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.web.api.types import Day, Omittable, OneLine, Text, Time
from callcenter.web.calls.models import Seconds
from callcenter.web.views import MemberState

PARK_TIMEOUT_MAX = 3600  # an hour in a slot is a forgotten call, not a hold
QueueName = Annotated[str, Text(64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnCall(_Model):
    caller_num: str
    caller_name: str
    linkedid: str
    since: Time | None
    seconds: Seconds


class Agent(_Model):
    id: str
    name: str
    queues: list[str] = Field(description="logged in to")
    configured_queues: list[str]
    state: MemberState
    state_since: Time | None = Field(
        description="since when it is in this state (its call's start when on a call; the "
        "PBX's last change of its membership, pause or device; logged out: when it left "
        "its last queue); null when not known"
    )
    state_seconds: Seconds
    paused: bool = Field(description="in every queue it is in")
    paused_reason: str
    paused_queues: list[str]
    on_call: OnCall | None


class Agents(_Model):
    agents: list[Agent]


class OneAgent(_Model):
    agent: Agent


class Joined(_Model):
    joined: list[str]
    agent: Agent


class Left(_Model):
    left: list[str]
    agent: Agent


class Transfer(_Model):
    kind: Literal["blind", "attended"]
    agent_id: str
    target: str = Field(description="the number dialled")
    context: str


class OneTransfer(_Model):
    transfer: Transfer


# -- bodies --------------------------------------------------------------------------------


class QueuesIn(_Model):
    queues: Omittable[
        Annotated[list[QueueName], Field(min_length=1, max_length=100)] | QueueName
    ] = Field(
        default=None,
        description="queue names (one may be given as a string); default: the agent's "
        "configured queues (log-in), or every queue it is in (log-out)",
    )


class PauseIn(_Model):
    reason: Annotated[str, OneLine(200)] = Field(
        description="at most 79 bytes in UTF-8 (about 26 Japanese characters), no control "
        "characters"
    )
    queue: Omittable[QueueName] = Field(default=None, description="default: every queue")


class ResumeIn(_Model):
    queue: Omittable[QueueName] = Field(default=None, description="default: every queue")


class ParkIn(_Model):
    timeout_seconds: Omittable[Annotated[int, Field(ge=1, le=PARK_TIMEOUT_MAX)]] = Field(
        default=None, description="default: the lot's"
    )


class PickupIn(_Model):
    slot: Annotated[str, Field(pattern=r"^[0-9]{1,10}$")] = Field(description="the slot's number")


class TransferIn(_Model):
    kind: Literal["blind", "attended"]
    to: Annotated[str, OneLine(80)] = Field(
        description="a number, or a transfer target's name (GET /api/v1/transfer-targets)"
    )


# -- activity --------------------------------------------------------------------------------

MAX_ACTIVITY_DAYS = 366


class ActivityQuery(_Model):
    from_: Day = Field(alias="from", description="the first local day")
    to: Day = Field(description="the day after the last (at most 366 days after from)")


class ActivityInterval(_Model):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["logged_in", "paused", "talk", "wrapup", "unknown"]
    from_: Time = Field(alias="from")
    to: Time
    seconds: float
    reason: str | None = Field(description="paused: the pause's reason")
    queue: str | None = Field(description="talk and wrapup: the call's queue")


class Stretch(_Model):
    model_config = ConfigDict(populate_by_name=True)

    from_: Time = Field(alias="from")
    to: Time


class QueueActivity(_Model):
    login_seconds: float
    pause_seconds: float


class AgentDay(_Model):
    """One agent's local day (docs/decisions/0012-agent-activity.md)."""

    agent: str
    day: str = Field(description="YYYY-MM-DD in the service time zone")
    login_seconds: float = Field(description="logged in to at least one queue")
    pause_seconds: float = Field(description="paused in every queue it was in")
    pause_by_reason: dict[str, float]
    talk_seconds: float
    wrapup_seconds: float = Field(description="the queue's wrapuptime after each call")
    available_seconds: float = Field(description="login_seconds - pause_seconds")
    occupancy: float | None = Field(
        description="(talk + wrap-up) / (login - pause); null without available time"
    )
    calls: int = Field(description="queue calls that ended this day")
    queues: dict[str, QueueActivity]
    complete: bool = Field(description="false when a stretch of its day is not known")
    unknown: list[Stretch] = Field(
        description="when the daemon did not see the PBX while the agent was logged in: "
        "its state there is not known, and not counted"
    )
    intervals: list[ActivityInterval]


class Activity(_Model):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    agent: str | None = Field(description="the one agent asked for; null: every agent")
    days: list[AgentDay]
