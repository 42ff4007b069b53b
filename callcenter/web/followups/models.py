"""The follow-up list's models: what each route takes and answers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.followups.desk import CallBack as DomainCallBack
from callcenter.followups.figures import RecallFigures
from callcenter.followups.store import Attempt as DomainAttempt
from callcenter.followups.store import Followup as DomainFollowup
from callcenter.web.api.types import Day, Omittable, Text, Time

Reason = Literal["abandoned", "after_hours", "voicemail", "callback"]
Status = Literal["open", "reached", "wrong_number"]
AttemptResult = Literal["reached", "no_answer", "wrong_number", "cancelled", "agent_missed"]
ClosedBy = Literal["callback", "call_again", "agent"]
PAGE_MAX = 500


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FollowupQuery(_Model):
    status: list[Status] = Field(default=["open"], description="one or more; default open")
    queue: Omittable[Annotated[str, Text(64)]] = None
    reason: list[Reason] = Field(default=[], description="one or more reasons")
    caller: Omittable[Annotated[str, Text(64)]] = Field(
        default=None, description="the caller's number"
    )
    limit: int = Field(default=100, ge=1, le=PAGE_MAX)
    offset: int = Field(default=0, ge=0, le=10**9)


class Attempt(_Model):
    model_config = ConfigDict(title="FollowupAttempt")

    id: int
    agent_id: str
    started_at: Time
    result: AttemptResult | None = Field(description="None while it rings")
    result_at: Time | None
    detail: str = Field(description="Dial's status on the caller's leg, or why it failed")
    set_by: str = Field(description="pbx, or who set the result")

    @classmethod
    def of(cls, a: DomainAttempt) -> Attempt:
        return cls(
            id=a.id,
            agent_id=a.agent_id,
            started_at=a.started_at,
            result=a.result.value if a.result else None,
            result_at=a.result_at,
            detail=a.detail,
            set_by=a.set_by,
        )


class Followup(_Model):
    id: int
    caller_num: str
    caller_name: str
    status: Status
    reason: Reason = Field(description="the latest unanswered call's outcome")
    queue: str | None
    opened_at: Time = Field(description="the first unanswered call's arrival")
    last_call_at: Time
    calls: int = Field(description="the unanswered calls it stands for")
    attempts: int = Field(description="call-backs started")
    last_result: AttemptResult | None
    last_attempt_at: Time | None
    closed_at: Time | None = Field(description="when reached, or found a wrong number")
    closed_by: ClosedBy | None
    pending: Attempt | None = Field(description="a call-back ringing now")

    @classmethod
    def of(cls, f: DomainFollowup) -> Followup:
        e = f.entry
        return cls(
            id=f.id,
            caller_num=e.caller_num,
            caller_name=e.caller_name,
            status=e.status.value,
            reason=e.reason.value,
            queue=e.queue,
            opened_at=e.opened_at,
            last_call_at=e.last_call_at,
            calls=e.calls,
            attempts=e.attempts,
            last_result=e.last_result.value if e.last_result else None,
            last_attempt_at=e.last_attempt_at,
            closed_at=e.closed_at,
            closed_by=e.closed_by.value if e.closed_by else None,
            pending=Attempt.of(f.pending) if f.pending else None,
        )


class Followups(_Model):
    followups: list[Followup]
    total: int
    limit: int
    offset: int


class OneFollowup(_Model):
    followup: Followup
    attempts: list[Attempt]


class CallBackIn(_Model):
    agent_id: Omittable[Annotated[str, Text(40)]] = Field(
        default=None,
        description="whose phone rings first: an agent's own (default); staff must name one",
    )


class CallBack(_Model):
    followup: Followup
    attempt_id: int
    agent_id: str

    @classmethod
    def of(cls, c: DomainCallBack) -> CallBack:
        return cls(followup=Followup.of(c.followup), attempt_id=c.attempt_id, agent_id=c.agent_id)


class ResultIn(_Model):
    result: Literal["reached", "no_answer", "wrong_number"]


class RecallQuery(_Model):
    from_: Day = Field(alias="from", description="the first local day")
    to: Day = Field(description="the day after the last")


class Recall(_Model):
    """The callers put on the list in the period, and how many the desk reached."""

    from_: Day = Field(alias="from")
    to: Day
    opened: int
    reached: int
    by_callback: int
    by_call_again: int
    wrong_number: int
    still_open: int
    share_reached: float | None = Field(description="reached / opened; null when none")
    mean_seconds_to_reach: float | None = Field(
        description="from the first unanswered call to reached, over the reached"
    )

    @classmethod
    def of(cls, day_from: date, day_to: date, f: RecallFigures) -> Recall:
        return cls.model_validate(
            {"from": day_from.isoformat(), "to": day_to.isoformat(), **f.to_dict()}
        )
