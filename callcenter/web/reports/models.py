"""The reports' queries and answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.reports.actions import ActionStatus
from callcenter.web.api.types import Blankable, Month, Omittable, Text, Time

Format = Literal["xlsx", "pdf", "html", "csv", "json"]
Lang = Literal["ja", "en"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormQuery(_Model):
    format: Format = Field(default="html", description="the form")
    lang: Lang = "ja"


class StoredQuery(_Model):
    lang: Lang = "ja"


class StoredForm(_Model):
    period: str = Field(description="YYYY-MM")
    format: Format
    lang: Lang
    size: int = Field(description="bytes")
    sha256: str
    made_at: Time
    url: str = Field(description="where to download it")


class Archive(_Model):
    reports: list[StoredForm]


class ActionIn(_Model):
    """An improvement action (改善施策) for the month."""

    title: Annotated[str, Text(200)]
    body: Annotated[str, Blankable(20000)] = ""
    owner: Annotated[str, Blankable(120)] = ""
    status: ActionStatus = "planned"


class ActionChange(_Model):
    title: Omittable[Annotated[str, Text(200)]] = None
    body: Omittable[Annotated[str, Blankable(20000)]] = None
    owner: Omittable[Annotated[str, Blankable(120)]] = None
    status: Omittable[ActionStatus] = None


class Action(_Model):
    model_config = ConfigDict(title="ImprovementAction")

    id: int
    month: str
    title: str
    body: str
    owner: str
    status: ActionStatus
    author: str
    created_at: Time
    updated_at: Time


class Actions(_Model):
    actions: list[Action]


class OneAction(_Model):
    action: Action


class TrendQuery(_Model):
    to: Month = Field(description="the last month, YYYY-MM")
    months: int = Field(default=12, ge=1, le=36)


class TrendMonthJson(_Model):
    model_config = ConfigDict(title="TrendMonth")

    month: str
    calls: dict[str, Any] = Field(description="the keys of callcenter metrics --json")
    incidents: dict[str, Any]


class Trend(_Model):
    months: list[TrendMonthJson]
