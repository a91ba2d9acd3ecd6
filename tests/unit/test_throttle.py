"""Flood control's token bucket (bot/throttle.py, issue 17 point 6) on a fake
clock: a burst passes, then the refill rate; the first update over the limit
is told, the rest of the flood dropped; buckets are per user and forgotten
once full again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.throttle import TokenBuckets, Verdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def buckets(burst: int = 10, rate: float = 3.0, **kwargs) -> tuple[TokenBuckets, FakeClock]:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    return TokenBuckets(burst, rate, clock=clock, **kwargs), clock


def test_a_burst_passes_then_one_warning_then_silence():
    tb, _ = buckets()
    verdicts = [tb.take(1) for _ in range(1000)]  # 1,000 at one instant
    assert verdicts[:10] == [Verdict.PASS] * 10
    assert verdicts[10] is Verdict.WARN
    assert set(verdicts[11:]) == {Verdict.DROP}


def test_the_rate_refills_and_a_person_is_never_slowed():
    tb, clock = buckets()
    # One tap a second for ten minutes, two quick taps every 5 s on top.
    for second in range(600):
        assert tb.take(1) is Verdict.PASS
        if second % 5 == 0:
            assert tb.take(1) is Verdict.PASS
        clock.now += 1.0
    # 3 a second sustained, after the burst, passes too.
    for _ in range(300):
        assert tb.take(1) is Verdict.PASS
        clock.now += 1 / 3


def test_a_sustained_flood_passes_at_the_rate_and_is_told_once():
    tb, clock = buckets()
    verdicts = []
    for _ in range(100 * 60):  # 100 a second for a minute
        verdicts.append(tb.take(1))
        clock.now += 0.01
    passed = verdicts.count(Verdict.PASS)
    assert 10 + 3 * 60 - 2 <= passed <= 10 + 3 * 60 + 1
    assert verdicts.count(Verdict.WARN) == 1


def test_after_a_pause_the_user_is_fresh_and_a_new_flood_is_told_again():
    tb, clock = buckets()
    for _ in range(20):
        tb.take(1)
    clock.now += 10 / 3 + 0.01  # full again
    assert [tb.take(1) for _ in range(11)] == [Verdict.PASS] * 10 + [Verdict.WARN]
    # A short pause gives a token back but is the same flood: no second notice.
    clock.now += 0.5
    assert tb.take(1) is Verdict.PASS
    assert tb.take(1) is Verdict.DROP


def test_one_users_flood_leaves_another_untouched():
    tb, _ = buckets()
    for _ in range(1000):
        tb.take(1)
    assert [tb.take(2) for _ in range(10)] == [Verdict.PASS] * 10


def test_buckets_full_again_are_forgotten_and_memory_is_capped():
    tb, clock = buckets()
    for user in range(1000):
        tb.take(user)
    assert len(tb) == 1000
    clock.now += 10 / 3  # all full again
    tb.take(5000)
    assert len(tb) == 1
    # A crowd beyond the cap: the least recent are dropped, never more kept.
    capped, _ = buckets(max_users=100)
    for user in range(1000):
        capped.take(user)
        assert len(capped) <= 100


def test_a_clock_going_backwards_gives_nothing_back():
    tb, clock = buckets()
    for _ in range(11):
        tb.take(1)
    clock.now -= 100
    assert tb.take(1) is Verdict.DROP


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        TokenBuckets(0, 3.0)
    with pytest.raises(ValueError):
        TokenBuckets(10, 0)


@given(st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=300))
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float]):
    tb, clock = buckets()
    start = clock.now
    passed = 0
    for gap in gaps:
        clock.now += gap
        passed += tb.take(7) is Verdict.PASS
        assert passed <= 10 + 3 * (clock.now - start) + 1e-9
