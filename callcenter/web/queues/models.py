"""A queue as the wallboard sees it: waiting callers, members, today's figures."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from callcenter.web.api.types import Time
from callcenter.web.figures.models import CallFiguresJson
from callcenter.web.views import MemberState

Seconds = float | None  # elapsed at the answer's (or message's) time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Waiting(_Model):
    uniqueid: str
    caller_num: str
    caller_name: str
    position: int = Field(ge=1)
    since: Time | None
    wait_seconds: Seconds


class Caller(_Model):
    caller_num: str
    caller_name: str


class Member(_Model):
    agent_id: str | None
    name: str
    state: MemberState
    state_since: Time | None = Field(
        description="since when it is in this state (its call's start when on a call; the "
        "PBX's last change of its membership, pause or device; logged out: when it left "
        "its last queue); null when not known"
    )
    state_seconds: Seconds
    paused: bool
    paused_reason: str
    in_call_with: Caller | None
    call_seconds: Seconds


class Queue(_Model):
    name: str
    number: str
    waiting: list[Waiting]
    waiting_count: int
    longest_wait_seconds: float
    members: list[Member] = Field(
        description="every agent configured for the queue (logged_out when not a member), "
        "then any other member"
    )
    today: CallFiguresJson


class Queues(_Model):
    queues: list[Queue]


class OneQueue(_Model):
    queue: Queue
