"""The reports' queries and answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.web.api.types import Time

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
