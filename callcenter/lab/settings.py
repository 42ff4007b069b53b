"""[lab]: the private Asterisk on loopback (`callcenter lab up`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from callcenter.settings_base import Hint, Settings

# 0: a free port chosen at start.
PortOrZero = Annotated[int, Field(ge=0, le=65535), Hint("not a TCP/UDP port: {input}")]


def _loopback(address: str) -> str:
    if not address.startswith("127."):
        raise ValueError("the lab only uses loopback addresses (127.x.x.x)")
    return address


class LabConfig(Settings):
    workdir: str = "var/lab"
    sip_port: PortOrZero = 0  # 0: a free port chosen at start
    ami_port: PortOrZero = 0
    rtp_start: int = 20000
    rtp_end: int = 20999
    # calls from this loopback address come in as the trunk
    trunk_address: Annotated[str, AfterValidator(_loopback)] = "127.0.0.2"
    # calls out through the trunk (call-backs) reach the callers' phones at this port
    trunk_port: Annotated[int, Field(ge=1, le=65535), Hint("not a UDP port: {input}")] = 5090
