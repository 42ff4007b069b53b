"""One backoff for every retry loop: exponential, capped, optionally jittered.

Every loop that retries after a failure (the event log, the calls writer, the incident
desk, the webhook sender, the AMI reconnect, the migration at start) waits
``backoff(attempt, ...)`` seconds. The exponent is bounded: a plain
``retry_min * 2**attempt`` raises OverflowError at the 1,025th failure, i.e. after a few
hours of outage, which would kill the very task that was waiting for the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# 2**62 times any sane retry_min is far past any sane retry_max: the cap has long won.
MAX_EXPONENT = 62


def backoff(
    attempt: int,
    retry_min: float,
    retry_max: float,
    rng: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait after ``attempt`` earlier failures (0 -> ``retry_min``).

    The step doubles with each attempt up to ``retry_max``. With ``rng`` (a uniform
    [0, 1) source, e.g. ``random.random``) the delay is drawn from the upper half of the
    step, never below ``retry_min``: many clients that failed together then do not all
    come back at the same instant. The result is always finite and within
    [retry_min, retry_max], whatever ``attempt`` is.
    """
    low = retry_min if math.isfinite(retry_min) and retry_min > 0 else 0.0
    high = retry_max if math.isfinite(retry_max) and retry_max > low else low
    exponent = min(max(attempt, 0), MAX_EXPONENT)
    step = min(high, low * 2.0**exponent)
    if rng is not None:
        step = step / 2 + step / 2 * rng()
    return max(low, min(high, step))
