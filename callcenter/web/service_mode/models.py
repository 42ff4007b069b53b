"""The service mode (open or closed), why, until when, and an override."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from callcenter.schedule.mode import NOTE_MAX, Mode, Reason
from callcenter.web.api.types import Instant, Omittable, OneLine, Time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Override(_Model):
    mode: Mode
    until: Time
    note: str


class ServiceMode(_Model):
    managed: bool = Field(description="false: this daemon does not write the mode (all else null)")
    mode: Mode | None
    reason: Reason | None
    until: Time | None
    note: str
    override: Override | None


class SetMode(_Model):
    mode: Mode
    until: Omittable[Instant] = Field(default=None, description="with its UTC offset, future")
    note: Omittable[Annotated[str, OneLine(NOTE_MAX)]] = Field(
        default=None, description="kept with who set it"
    )
