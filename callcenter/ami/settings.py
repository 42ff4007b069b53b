"""[ami]: where and how the daemon reaches the Asterisk Manager Interface."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from callcenter.ami.protocol import DEFAULT_MAX_FRAME_BYTES
from callcenter.settings_base import Hint, Problem, Settings

Port = Annotated[int, Field(ge=1, le=65535), Hint("not a TCP/UDP port: {input}")]
Seconds = Annotated[float, Field(gt=0)]


class AMIConfig(Settings):
    use_lab: bool = True  # take host, port and credentials from `callcenter lab up`
    host: str = "127.0.0.1"
    port: Port = 5038
    username: str = "callcenter"
    secret: str = Field(default="", repr=False)
    secret_env: str = "CALLCENTER_AMI_SECRET"  # noqa: S105 (a variable name, not a secret)
    connect_timeout: Seconds = 5.0
    action_timeout: Seconds = 10.0
    ping_interval: Seconds = 15.0
    reconnect_min: Seconds = 0.5
    reconnect_max: Seconds = 30.0
    max_frame_bytes: Annotated[int, Field(ge=4096)] = DEFAULT_MAX_FRAME_BYTES
    # At most one socket read per this many seconds: under load the events of several
    # calls then come in one read instead of two or three each (at 20 calls a second
    # the daemon's event loop used a fifth less CPU, bench/pbx_load). An event waits
    # this long at most, and only when it follows another closely. 0: read at once.
    read_gather: Annotated[float, Field(ge=0, le=0.2)] = 0.01

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env, "") or self.secret

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if self.reconnect_max < self.reconnect_min:
            yield Problem(("reconnect_max",), "must not be below ami.reconnect_min")


@dataclass(frozen=True)
class AMITarget:
    """The manager one client talks to (the running lab's, or the configured one)."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
