"""[pbx_record]: where the daemon reads Asterisk's own record of every call."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from callcenter.settings_base import Hint, Settings

DEFAULT_CEL_FILE = "/var/log/asterisk/cel-custom/callcenter.csv"
DEFAULT_QUEUE_LOG = "/var/log/asterisk/queue_log"

Interval = Annotated[
    float, Field(gt=0, le=3600), Hint("must be between 0 and 3600 seconds, got {input}")
]


def _sweep_time(text: str) -> str:
    # Exactly HH:MM: the sweep compares it with the local time as text.
    h, sep, m = text.partition(":")
    ok = sep and len(h) == len(m) == 2 and h.isdigit() and m.isdigit()
    if text and not (ok and int(h) < 24 and int(m) < 60):
        raise ValueError(f'{text!r} is not HH:MM (or "")')
    return text


class PbxRecordSettings(Settings):
    enabled: bool = True
    # The CSV that cel_custom writes (callcenter-cel-custom.conf). Empty: the lab's file
    # with ami.use_lab, else Asterisk's default log folder.
    cel_file: str = ""
    poll_interval: Interval = 2.0  # seconds between reads of the file
    # A call is checked against the calls table this long after its caller hung up in
    # the record: the live path writes it well within that when it saw the call.
    settle_seconds: Interval = 10.0
    # Each night at this local time the previous day is re-checked whole against the
    # record (as `callcenter reconcile --day` does); "" for never.
    nightly_sweep: Annotated[str, AfterValidator(_sweep_time)] = "03:00"
    # Asterisk's queue_log, the agents' record while the daemon does not see the PBX
    # (docs/decisions/0016). Empty: the lab's with ami.use_lab, else the default path.
    queue_log: bool = True
    queue_log_file: str = ""
