"""The calls in progress, the parked ones and the transfer targets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from callcenter.web.api.types import Time
from callcenter.web.views import CallState

Seconds = float | None  # elapsed at the answer's (or message's) time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Call(_Model):
    linkedid: str
    caller_num: str
    caller_name: str
    queue: str | None
    state: CallState
    agent_id: str | None
    agent: str | None
    since: Time | None
    seconds: Seconds


class Calls(_Model):
    calls: list[Call]


class ParkedCall(_Model):
    model_config = ConfigDict(title="Parked")

    slot: str
    lot: str
    caller_num: str
    caller_name: str
    parker: str = Field(description="the agent id that parked it")
    linkedid: str
    since: Time | None
    parked_seconds: float
    timeout: int = Field(description="seconds before it rings back")


class ParkedList(_Model):
    parked: list[ParkedCall]


class OneParked(_Model):
    parked: ParkedCall


class TransferTarget(_Model):
    name: str
    number: str
    label: str


class TransferTargets(_Model):
    targets: list[TransferTarget]
