"""[metrics]: the contract's definitions (docs/metrics.md) and targets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from callcenter.settings_base import Hint, Settings

Fraction = Annotated[
    float, Field(ge=0, le=1), Hint("a fraction between 0 and 1 (e.g. 0.10 for 10%)")
]


class MetricsConfig(Settings):
    # hang-ups sooner than this after arrival: one-ring
    short_abandon_seconds: Annotated[float, Field(ge=0)] = 5.0
    service_level_seconds: Annotated[float, Field(gt=0)] = 20.0  # "answered within N seconds"
    abandonment_rate_target: Fraction = 0.10  # met when the rate is below this
    busy_rate_target: Fraction = 0.05  # met when the rate is below this
    service_level_target: Fraction = 0.80  # met when the level is at or above this
