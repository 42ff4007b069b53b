"""[followups]: the follow-up list and the agents' call-backs."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from callcenter.settings_base import Hint, Settings

# TECH/resource with the caller's number in it, e.g. PJSIP/{number}@trunk.
_DIAL = re.compile(r"[A-Za-z0-9_]+/[^,()|&\s]*\{number\}[^,()|&\s]*")


def _dial(dial: str) -> str:
    if not _DIAL.fullmatch(dial):
        raise ValueError(
            f"{dial!r} is not a Dial() string with the caller's number in it "
            "(TECH/resource holding {number}, e.g. PJSIP/{number}@trunk)"
        )
    return dial


Seconds = Annotated[int, Field(ge=5, le=120), Hint("between 5 and 120 seconds")]


class FollowupsConfig(Settings):
    enabled: bool = True
    # How the desk dials a caller back: a Dial() string; {number} is the caller's number
    # as it came in (digits, perhaps a leading +). The lab's trunk is a PJSIP endpoint.
    dial: Annotated[str, AfterValidator(_dial)] = "PJSIP/{number}@trunk"
    agent_ring_seconds: Seconds = 30  # the agent's phone rings first, this long at most
    ring_seconds: Seconds = 30  # then the caller's
