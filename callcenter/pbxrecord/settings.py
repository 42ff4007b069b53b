"""[pbx_record]: where the daemon reads Asterisk's own record of every call."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CEL_FILE = "/var/log/asterisk/cel-custom/callcenter.csv"


@dataclass(frozen=True)
class PbxRecordSettings:
    enabled: bool = True
    # The CSV that cel_custom writes (callcenter-cel-custom.conf). Empty: the lab's file
    # with ami.use_lab, else Asterisk's default log folder.
    cel_file: str = ""
    poll_interval: float = 2.0  # seconds between reads of the file
    # A call is checked against the calls table this long after its caller hung up in
    # the record: the live path writes it well within that when it saw the call.
    settle_seconds: float = 10.0
    # Each night at this local time the previous day is re-checked whole against the
    # record (as `callcenter reconcile --day` does); "" for never.
    nightly_sweep: str = "03:00"

    def problems(self, prefix: str = "pbx_record") -> list[str]:
        out = []
        for key in ("poll_interval", "settle_seconds"):
            value = getattr(self, key)
            if not 0 < value <= 3600:
                out.append(f"{prefix}.{key}: must be between 0 and 3600 seconds, got {value}")
        if self.nightly_sweep and not _hhmm(self.nightly_sweep):
            out.append(f'{prefix}.nightly_sweep: {self.nightly_sweep!r} is not HH:MM (or "")')
        return out


def _hhmm(text: str) -> bool:
    # Exactly HH:MM: the sweep compares it with the local time as text.
    h, sep, m = text.partition(":")
    ok = sep and len(h) == len(m) == 2 and h.isdigit() and m.isdigit()
    return bool(ok) and int(h) < 24 and int(m) < 60
