"""[ami]: where and how the daemon reaches the Asterisk Manager Interface."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AMIConfig:
    use_lab: bool = True  # take host, port and credentials from `callcenter lab up`
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = field(default="", repr=False)
    secret_env: str = "CALLCENTER_AMI_SECRET"  # noqa: S105 (a variable name, not a secret)
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 15.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    max_frame_bytes: int = 1 << 20

    def resolved_secret(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env, "") or self.secret

    def problems(self, prefix: str = "ami") -> list[str]:
        """Every invalid value, each message naming its key."""
        out: list[str] = []
        if not 1 <= self.port <= 65535:
            out.append(f"{prefix}.port: not a TCP/UDP port: {self.port}")
        for k in ("connect_timeout", "action_timeout", "ping_interval", "reconnect_min",
                  "reconnect_max"):  # fmt: skip
            _positive(f"{prefix}.{k}", getattr(self, k), out)
        if self.reconnect_max < self.reconnect_min:
            out.append(f"{prefix}.reconnect_max: must not be below {prefix}.reconnect_min")
        if self.max_frame_bytes < 4096:
            out.append(f"{prefix}.max_frame_bytes: must be at least 4096")
        return out


def _positive(key: str, value: float, problems: list[str]) -> None:
    if value <= 0:
        problems.append(f"{key}: must be greater than 0, got {value}")
