"""[cluster]: several daemons (one per PBX) on one PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from callcenter.settings_base import Hint, Settings

Seconds = Annotated[float, Field(gt=0, le=3600), Hint("seconds, above 0: {input}")]


class ClusterSettings(Settings):
    # Share the live state with the other daemons of the database (PostgreSQL only: its
    # LISTEN/NOTIFY wakes them; on SQLite there is one daemon and nothing to share).
    live: bool = True
    # A queue name that repeats across servers: shown and reported apart, as
    # name@server, or merged into one virtual queue.
    same_name_queues: Literal["apart", "merged"] = "apart"
    # At most one publication of this daemon's live state per interval (a burst of
    # events costs one); and one at least every heartbeat, so the others know it lives.
    publish_interval: Annotated[float, Field(ge=0.005, le=5)] = 0.01
    heartbeat: Seconds = 5.0
    # A server not heard of for this long is shown as stale, without its callers and
    # agents: its daemon is down or cut off, and what it last said is no longer true.
    stale_after: Seconds = 15.0
    # Two daemons for one PBX, one active (it holds a lease) and one standing by, which
    # takes over when the lease runs out (callcenter.standby).
    standby: bool = False
    # How long a dead active daemon's lease lasts: the standby acts within this and a
    # third of it. Far above the clock skew between the two machines.
    failover_seconds: Annotated[float, Field(ge=1, le=60)] = 3.0
