"""[database]: where the record is kept, and how the event log writes it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from callcenter.settings_base import Settings

SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://")


def _database_url(url: str) -> str:
    if not url.startswith(SCHEMES):
        # Only the scheme is shown: the rest may hold a password.
        raise ValueError(
            f"must start with sqlite:// or postgresql:// (got {url.split(':', 1)[0]}://...)"
        )
    return url


class RetentionConfig(Settings):
    """[retention]: how long the raw AMI events are kept (store.partitions). Calls,
    incidents, reports, the audit trail and the PBX record are kept whatever this says."""

    # 0: kept forever. The default keeps a year and a month: last year's calls can still
    # be rebuilt from their events for the annual review.
    events_days: Annotated[int, Field(ge=0, le=36500)] = 400


class DatabaseConfig(Settings):
    url: Annotated[str, AfterValidator(_database_url)] = "sqlite:///var/callcenter.db"
    batch_size: Annotated[int, Field(gt=0)] = 1000
    flush_interval: Annotated[float, Field(gt=0)] = 0.2
    buffer_limit: Annotated[int, Field(gt=0)] = 200_000
    retry_min: Annotated[float, Field(gt=0)] = 0.2
    retry_max: Annotated[float, Field(gt=0)] = 5.0
    spool_dir: str = "var/spool"
