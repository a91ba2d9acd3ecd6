"""When scheduled messages may go out (R-REMIND, issue 14): the 08:30 digest,
09:00 reminders, quiet hours 21:00–08:00 across midnight, month ends and leap
days. The clock is injected: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FixedClock, ShiftedClock
from domain.quiet_hours import SendHours, is_quiet

SH = ZoneInfo("Asia/Shanghai")
HOURS = SendHours()  # 08:30 digest, 09:00 reminders, quiet 21:00–08:00


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SH)


@pytest.mark.parametrize(
    ("wall", "quiet"),
    [
        (time(20, 59, 59), False),
        (time(21, 0), True),
        (time(23, 59, 59), True),
        (time(0, 0), True),
        (time(7, 59, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_span_midnight_R_REMIND(wall, quiet):
    assert is_quiet(wall, time(21, 0), time(8, 0)) is quiet


def test_quiet_hours_within_a_day_and_none_at_all_R_REMIND():
    assert is_quiet(time(12, 30), time(12, 0), time(14, 0))
    assert not is_quiet(time(14, 0), time(12, 0), time(14, 0))
    assert not is_quiet(time(11, 59), time(12, 0), time(14, 0))
    assert not is_quiet(time(3, 0), time(0, 0), time(0, 0))  # start == end: never quiet


def test_the_digest_opens_at_0830_and_reminders_at_0900_R_REMIND():
    day = date(2026, 11, 25)
    assert HOURS.due(at(day, 8, 29, 59)) == HOURS.due(at(day, 8, 0))
    before = HOURS.due(at(day, 8, 29, 59))
    assert (before.digest, before.reminders) == (False, False)
    digest = HOURS.due(at(day, 8, 30))
    assert (digest.digest, digest.reminders) == (True, False)
    assert HOURS.due(at(day, 8, 59, 59)).reminders is False
    both = HOURS.due(at(day, 9, 0))
    assert (both.digest, both.reminders, both.day) == (True, True, day)


def test_nothing_goes_out_in_quiet_hours_and_it_waits_for_the_morning_R_REMIND():
    day = date(2026, 11, 25)
    evening = HOURS.due(at(day, 20, 59))
    assert evening.digest and evening.reminders  # caught up all day until 21:00
    for late in (at(day, 21, 0), at(day, 23, 30), at(day + timedelta(days=1), 0, 10)):
        due = HOURS.due(late)
        assert not due.digest and not due.reminders
    morning = HOURS.due(at(day + timedelta(days=1), 8, 0))
    assert not morning.digest  # quiet hours ended; the digest's time has not come
    assert HOURS.due(at(day + timedelta(days=1), 8, 30)).digest


def test_a_time_set_inside_quiet_hours_goes_when_they_end_R_REMIND():
    hours = SendHours(digest_at=time(7, 0), remind_at=time(22, 0))
    day = date(2026, 11, 25)
    assert hours.opens(time(7, 0)) == time(8, 0)
    assert not hours.due(at(day, 7, 30)).digest
    due = hours.due(at(day, 8, 0))
    assert due.digest and due.reminders  # 22:00 is quiet: the morning instead


@pytest.mark.parametrize(
    ("local", "day"),
    [
        (datetime(2028, 2, 29, 8, 30), date(2028, 2, 29)),  # leap day
        (datetime(2027, 2, 28, 9, 0), date(2027, 2, 28)),  # last day of a short February
        (datetime(2026, 12, 31, 20, 59), date(2026, 12, 31)),  # year end
        (datetime(2026, 4, 30, 9, 0), date(2026, 4, 30)),  # a 30-day month's end
    ],
)
def test_month_ends_and_leap_days_are_that_local_day_R_REMIND(local, day):
    due = HOURS.due(FixedClock(SH, at=local).now())
    assert due.day == day and due.digest


def test_the_local_day_comes_from_the_deployments_timezone_not_utc_R_REMIND():
    # 2028-02-29 00:30 UTC is 08:30 in Shanghai: the leap day's digest is due.
    clock = FixedClock(SH, at=datetime(2028, 2, 29, 0, 30, tzinfo=UTC))
    due = HOURS.due(clock.now().astimezone(SH))
    assert due.day == date(2028, 2, 29) and due.digest and not due.reminders
    # 2028-02-29 16:30 UTC is 00:30 on 1 March in Shanghai: quiet, new month.
    late = FixedClock(SH, at=datetime(2028, 2, 29, 16, 30, tzinfo=UTC))
    due = HOURS.due(late.now().astimezone(SH))
    assert due.day == date(2028, 3, 1) and not due.digest


def test_a_shifted_clock_moves_across_midnight_month_end_and_leap_day_R_REMIND():
    clock = ShiftedClock(SH, base=FixedClock(SH, at=datetime(2028, 2, 28, 20, 0)))
    assert HOURS.due(clock.now()).reminders
    clock.shift(timedelta(hours=1))  # 21:00: quiet
    assert not HOURS.due(clock.now()).reminders
    clock.shift(timedelta(hours=12))  # 09:00 on the leap day
    due = HOURS.due(clock.now())
    assert due.day == date(2028, 2, 29) and due.digest and due.reminders
    clock.shift(timedelta(days=1))
    assert HOURS.due(clock.now()).day == date(2028, 3, 1)
    clock.set(datetime(2028, 3, 31, 8, 29))
    assert clock.now() == datetime(2028, 3, 31, 8, 29, tzinfo=SH)
    assert not HOURS.due(clock.now()).digest


def test_a_shifted_clock_runs_on_real_time_plus_its_offset():
    clock = ShiftedClock(SH)
    before = datetime.now(SH)
    moved = clock.shift(timedelta(days=7))
    assert timedelta(days=7) <= moved - before < timedelta(days=7, seconds=5)
    assert clock.offset == timedelta(days=7)
