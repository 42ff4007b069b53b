"""[metrics]: the contract's definitions (docs/metrics.md) and targets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricsConfig:
    short_abandon_seconds: float = 5.0  # hang-ups sooner than this after arrival: one-ring
    service_level_seconds: float = 20.0  # "answered within N seconds"
    abandonment_rate_target: float = 0.10  # met when the rate is below this
    busy_rate_target: float = 0.05  # met when the rate is below this
    service_level_target: float = 0.80  # met when the level is at or above this

    def problems(self, prefix: str = "metrics") -> list[str]:
        out: list[str] = []
        if self.short_abandon_seconds < 0:
            out.append(f"{prefix}.short_abandon_seconds: must not be negative")
        if self.service_level_seconds <= 0:
            out.append(
                f"{prefix}.service_level_seconds: must be greater than 0, "
                f"got {self.service_level_seconds}"
            )
        for k in ("abandonment_rate_target", "busy_rate_target", "service_level_target"):
            if not 0 <= getattr(self, k) <= 1:
                out.append(f"{prefix}.{k}: a fraction between 0 and 1 (e.g. 0.10 for 10%)")
        return out
