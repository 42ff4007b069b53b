"""[http]: the daemon's HTTP API and pages (a leaf: nothing of the web layer is imported)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from callcenter.settings_base import Hint, Settings


def _network(text: str) -> str:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None
    return text


class HttpConfig(Settings):
    """The daemon's HTTP API (and its pages)."""

    enabled: bool = True
    host: str = "127.0.0.1"  # loopback by default; put a TLS proxy in front for the LAN
    # 0: a free port (tests)
    port: Annotated[int, Field(ge=0, le=65535), Hint("not a TCP/UDP port: {input}")] = 8080
    # The TLS proxies in front (addresses or networks): a request from one of them with
    # X-Forwarded-Proto: https gets Secure cookies. From any other peer the header is
    # ignored. [] trusts none (cookies are then Secure only on a direct TLS connection).
    trusted_proxies: tuple[Annotated[str, AfterValidator(_network)], ...] = ("127.0.0.1", "::1")
