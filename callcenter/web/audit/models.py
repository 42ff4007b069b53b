"""The audit trail's query and rows."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from callcenter.web.api.types import Instant, Omittable, Text, Time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuditQuery(_Model):
    actor: Omittable[Annotated[str, Text(128)]] = Field(default=None, description="who")
    action: Omittable[Annotated[str, Text(80)]] = Field(
        default=None, description="e.g. agents.pause, service-mode.set_mode, token.create"
    )
    from_: Omittable[Instant] = Field(default=None, alias="from", description="at or after")
    to: Omittable[Instant] = Field(default=None, description="before")
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class AuditEntryJson(_Model):
    model_config = ConfigDict(title="AuditEntry")

    at: Time
    actor: str
    role: str
    action: str
    target: str = Field(description="what it acted on (the path's ids)")
    result: int = Field(description="the HTTP status it got (the command line: 0, done)")
    via: str = Field(description="api, page or cli")
    detail: dict[str, Any] = Field(description="what it was asked with, as validated")
    server_id: str


class AuditEntries(_Model):
    entries: list[AuditEntryJson]
    total: int
    limit: int
    offset: int
