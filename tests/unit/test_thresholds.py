"""The clocks' crossing dates and their inverse windows (issue 14's daily scan)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from domain.clocks import is_lost, is_pocket, mobile_suspected
from domain.thresholds import (
    Window,
    iso_text_range,
    lost_before,
    lost_crossing,
    lost_window,
    mobile_crossing,
    mobile_window,
    pocket_crossing,
    pocket_window,
    probation_crossing,
    probation_start,
    probation_window,
)

DAYS = st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31))
GAPS = st.integers(min_value=1, max_value=45)
PERIODS = st.integers(min_value=0, max_value=400)
# Month ends and leap days, where add_months clamps.
EDGES = [
    date(2026, 5, 31),
    date(2026, 8, 31),
    date(2024, 2, 29),
    date(2025, 2, 28),
    date(2026, 11, 30),
    date(2027, 3, 1),
    date(2028, 2, 29),
    date(2024, 3, 1),
]


def _members_around(window: Window, crossing, since: date, today: date) -> None:  # type: ignore[no-untyped-def]
    """Every start near the window is inside it exactly when it crosses in (since, today]."""
    lo = min(window.first, window.last) - timedelta(days=10)
    hi = max(window.first, window.last) + timedelta(days=10)
    day = lo
    while day <= hi:
        assert (day in window) == (since < crossing(day) <= today), (day, crossing(day))
        day += timedelta(days=1)


def test_lost_crossing_is_strictly_after_six_months_R_LOST_6M() -> None:
    assert lost_crossing(date(2026, 5, 31)) == date(2026, 12, 1)  # 30 Nov + 1
    assert lost_crossing(date(2026, 1, 15)) == date(2026, 7, 16)


def test_mobile_crossing_is_six_full_months_R_MOBILE_6M() -> None:
    assert mobile_crossing(date(2026, 5, 31)) == date(2026, 11, 30)
    assert mobile_suspected(date(2026, 5, 31), date(2026, 11, 30))


def test_pocket_crossing_is_the_first_day_past_the_period_R_POCKET() -> None:
    letter = date(2026, 1, 1)
    assert pocket_crossing(letter, 90) == date(2026, 4, 2)  # 1 April is day 90
    assert not is_pocket(letter, None, date(2026, 4, 1), 90)
    assert is_pocket(letter, None, date(2026, 4, 2), 90)


def test_probation_ends_a_year_after_joining_month_only_counts_from_the_first_R_PROBATION() -> None:
    assert probation_start("2025-03") == date(2025, 3, 1)
    assert probation_crossing(probation_start("2025-03-18")) == date(2026, 3, 18)
    assert probation_crossing(date(2024, 2, 29)) == date(2025, 2, 28)


def test_lost_window_keeps_every_clamped_start_R_LOST_6M() -> None:
    # 28–31 August all reach 28 February + 1 day = 1 March 2027.
    w = lost_window(date(2027, 2, 28), date(2027, 3, 1))
    assert (w.first, w.last) == (date(2026, 8, 28), date(2026, 8, 31))


@given(today=DAYS, gap=GAPS)
@example(today=date(2026, 11, 30), gap=1)
@example(today=date(2027, 3, 1), gap=1)
@example(today=date(2025, 3, 1), gap=2)
def test_lost_window_is_the_inverse_of_the_crossing_R_LOST_6M(today: date, gap: int) -> None:
    since = today - timedelta(days=gap)
    window = lost_window(since, today)
    _members_around(window, lost_crossing, since, today)


@given(today=st.one_of(DAYS, st.sampled_from(EDGES)))
def test_lost_before_agrees_with_is_lost_R_LOST_6M(today: date) -> None:
    last = lost_before(today)
    assert is_lost(last, today)
    assert not is_lost(last + timedelta(days=1), today)


@given(today=st.one_of(DAYS, st.sampled_from(EDGES)), gap=GAPS)
@example(today=date(2026, 11, 30), gap=1)
@example(today=date(2027, 2, 28), gap=1)
@example(today=date(2028, 2, 29), gap=3)
def test_mobile_window_is_the_inverse_of_the_crossing_R_MOBILE_6M(today: date, gap: int) -> None:
    since = today - timedelta(days=gap)
    _members_around(mobile_window(since, today), mobile_crossing, since, today)


@given(today=DAYS, gap=GAPS, period=PERIODS)
def test_pocket_window_is_the_inverse_of_the_crossing_R_POCKET(
    today: date, gap: int, period: int
) -> None:
    since = today - timedelta(days=gap)
    window = pocket_window(since, today, period)
    _members_around(window, lambda d: pocket_crossing(d, period), since, today)


@given(today=st.one_of(DAYS, st.sampled_from(EDGES)), gap=GAPS)
@example(today=date(2025, 2, 28), gap=1)  # 29 Feb 2024 and 28 Feb 2024 both end here
@example(today=date(2028, 2, 29), gap=1)
def test_probation_window_is_the_inverse_of_the_crossing_R_PROBATION(today: date, gap: int) -> None:
    since = today - timedelta(days=gap)
    _members_around(probation_window(since, today), probation_crossing, since, today)


@given(today=DAYS, gap=GAPS, start=DAYS)
def test_probation_text_range_treats_a_month_as_its_first_day_R_PROBATION(
    today: date, gap: int, start: date
) -> None:
    window = probation_window(today - timedelta(days=gap), today)
    low, high = iso_text_range(window)
    for text in (start.isoformat(), start.isoformat()[:7]):
        assert (low <= text <= high) == (probation_start(text) in window), text


def test_empty_window_for_an_empty_interval_R_LOST_6M() -> None:
    assert lost_window(date(2026, 3, 1), date(2026, 3, 1)).empty
