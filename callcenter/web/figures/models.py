"""The call figures' models: today's live ones and a period's from the database, with
the keys of ``callcenter metrics --json`` (docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from callcenter.metrics.figures import Grouping
from callcenter.web.api.types import Day, Omittable, Text, Time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateTarget(_Model):
    target: float
    met: bool | None
    at_risk: bool = Field(
        default=False,
        description="the rate has used 80% of its allowance or more (ceilings: the target; "
        "service level: 1 - target); false without incoming calls",
    )


class RateTargets(_Model):
    abandonment_rate: RateTarget
    busy_rate: RateTarget
    service_level: RateTarget


class CallFiguresJson(_Model):
    """The keys of `callcenter metrics --json` (docs/metrics.md)."""

    model_config = ConfigDict(title="CallFigures")

    calls: int
    total_incoming: int
    after_hours: int
    answered: int
    transferred_out: int
    voicemail: int
    callback: int
    failed: int
    unknown: int
    short_abandoned: int
    abandoned: int
    busy: int
    answered_within_sl: int
    abandonment_rate: float
    busy_rate: float
    service_level: float
    service_level_seconds: float
    short_abandon_seconds: float
    asa_seconds: float | None
    aht_seconds: float | None
    max_wait_seconds: float | None
    targets: RateTargets


class Interval(_Model):
    model_config = ConfigDict(populate_by_name=True)

    from_: Time = Field(alias="from")
    to: Time


class Coverage(_Model):
    """Whether today so far is complete: every moment seen through AMI or the PBX record
    (docs/metrics.md, Coverage); ``uncovered`` names each interval no source covered."""

    complete: bool
    uncovered: list[Interval]


class Today(_Model):
    all: CallFiguresJson
    by_queue: dict[str, CallFiguresJson]
    coverage: Coverage | None = Field(description="null until the daemon has measured it")


class QueueToday(CallFiguresJson):
    model_config = ConfigDict(title="QueueToday")

    queue: str


class TodayQuery(_Model):
    queue: Omittable[Annotated[str, Text(64)]] = Field(
        default=None, description="a configured queue"
    )


class PeriodQuery(_Model):
    from_: Day = Field(alias="from", description="the first day")
    to: Day = Field(description="the day after the last")
    queue: Omittable[Annotated[str, Text(64)]] = Field(
        default=None, description="one queue's calls"
    )
    by: Omittable[Grouping] = Field(default=None, description="one grouping")
    server: Omittable[Annotated[str, Text(40)]] = Field(
        default=None, description="one daemon's (server.id)"
    )


class PeriodFigures(CallFiguresJson):
    """A period's figures: [from, to) in local days, for a queue or server if given."""

    model_config = ConfigDict(title="PeriodFigures", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    queue: str | None
    server_id: str | None


class GroupedFigures(_Model):
    """The grouped form: a figure set per group, and their total."""

    model_config = ConfigDict(title="GroupedFigures", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    queue: str | None
    server_id: str | None
    by: Grouping
    groups: dict[str, CallFiguresJson]
    total: CallFiguresJson


def validated(model: type[_Model], doc: dict[str, Any]) -> Any:
    """A view's dict as ``model`` (the views feed the websocket too; the REST answer is
    checked against, and written by, its model)."""
    return model.model_validate(doc)
