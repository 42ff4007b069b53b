"""The shared backoff: bounded exponent, always finite, always within [min, max]."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.backoff import backoff


def test_doubles_from_the_minimum_up_to_the_cap() -> None:
    delays = [backoff(n, 0.2, 5.0) for n in range(8)]
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_the_1025th_failure_does_not_overflow() -> None:
    # retry_min * 2**1025 is an OverflowError as a float: the old loops died here.
    assert backoff(1025, 0.2, 5.0) == 5.0
    assert backoff(10**18, 0.2, 5.0, random.random) <= 5.0


def test_jitter_stays_in_the_upper_half_and_above_the_minimum() -> None:
    assert backoff(0, 1.0, 300.0, lambda: 0.0) == 1.0
    assert backoff(3, 1.0, 300.0, lambda: 0.0) == 4.0
    assert backoff(3, 1.0, 300.0, lambda: 1.0) == 8.0


@settings(database=None, max_examples=300)
@given(
    attempt=st.integers(min_value=0, max_value=10**6),
    low=st.floats(min_value=0.001, max_value=60.0),
    factor=st.floats(min_value=1.0, max_value=10_000.0),
    rand=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
)
def test_any_attempt_gives_a_finite_delay_within_bounds(
    attempt: int, low: float, factor: float, rand: float | None
) -> None:
    high = low * factor
    delay = backoff(attempt, low, high, None if rand is None else (lambda: rand))
    assert math.isfinite(delay)
    assert low <= delay <= high


def test_nonsense_bounds_still_give_a_finite_delay() -> None:
    assert backoff(5, float("nan"), float("inf")) == 0.0
    assert backoff(5, 2.0, 1.0) == 2.0  # max below min: the minimum
    assert backoff(-3, 0.5, 10.0) == 0.5
