"""When each clock of SPEC §3 runs out (阈值), and its inverse for the daily scan.

Every clock the records hold is a non-decreasing function of one stored start
date: the crossing date. The daily digest (issue 14) asks the opposite
question — which members crossed in (since, today] — and because the function
never goes backwards the answer is one closed window of start dates. The scan
is then a range on an indexed date column, not a Python loop over every member.

- R-LOST-6M: start = last contact (the later of 组织生活, 党费, or a search that
  found the member); crossing = ``clocks.lost_from`` (“超过6个月” is strict).
- R-MOBILE-6M: start = 最近一次参加组织生活 (offline activity); crossing =
  ``clocks.mobile_from`` (six full months are enough).
- R-POCKET: start = 介绍信开出日期; crossing = the first day past the 回执 period
  (``clocks.is_pocket``: on the period's last day the receipt may still come).
- R-PROBATION: start = 入党时间 of a 预备党员; crossing = one year later, the day the
  probation ends (SPEC §2).

The clocks a disposition starts (SPEC §5: R-SUSPEND-2Y, R-DEADLINE-CORRECT, an
extended probation under R-PROBATION, R-ABROAD-RETAIN) are stored already
worked out, as the disposition's ``ends_on``: the crossing is that day (or,
for the warning before a suspension's two years are up,
``SUSPENSION_WARNING_DAYS`` before it), and ``ends_window`` inverts it.

``add_months`` clamps to the month's end (31 May + 6 months = 30 November), so
several start dates can share one crossing date; the window keeps all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.clocks import lost_from, mobile_from
from domain.dates import PartialDate, add_months

PROBATION_MONTHS = 12
_DAY = timedelta(days=1)


class Clock(StrEnum):
    """The clocks the digest reports, in the order it lists them."""

    LOST = "lost"  # R-LOST-6M
    MOBILE = "mobile"  # R-MOBILE-6M
    POCKET = "pocket"  # R-POCKET
    PROBATION = "probation"  # R-PROBATION
    # The clocks a disposition starts (its ``ends_on``):
    SUSPENSION = "suspension"  # R-SUSPEND-2Y: two years up, 自行脱党除名 by procedure
    SUSPENSION_SOON = "suspension_soon"  # R-SUSPEND-2Y: the warning before
    CORRECTION = "correction"  # R-DEADLINE-CORRECT: the deadline reached, 期满评定
    EXTENDED_PROBATION = "extended_probation"  # R-PROBATION: the extension ends
    RETENTION = "retention"  # R-ABROAD-RETAIN: 保留组织关系 ends


# How long before a suspension's two years are up the digest warns (R-SUSPEND-2Y:
# "the bot tells the secretary before and when it runs out").
SUSPENSION_WARNING_DAYS = 30

# Each disposition clock: how many days before ``ends_on`` it crosses.
AHEAD_DAYS = {
    Clock.SUSPENSION: 0,
    Clock.SUSPENSION_SOON: SUSPENSION_WARNING_DAYS,
    Clock.CORRECTION: 0,
    Clock.EXTENDED_PROBATION: 0,
    Clock.RETENTION: 0,
}


@dataclass(frozen=True)
class Window:
    """Start dates ``first`` … ``last`` (both included); empty when first > last."""

    first: date
    last: date

    @property
    def empty(self) -> bool:
        return self.first > self.last

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def lost_crossing(last_contact: date) -> date:
    """R-LOST-6M: the first day the member counts as lost."""
    return lost_from(last_contact)


def mobile_crossing(last_org_life: date) -> date:
    """R-MOBILE-6M: the day six consecutive months without offline activity are complete."""
    return mobile_from(last_org_life)


def pocket_crossing(letter_date: date, period_days: int) -> date:
    """R-POCKET: the first day past the receipt period (``clocks.is_pocket`` is
    ``days since the letter > period``)."""
    if period_days < 0:
        raise ValueError("the receipt period cannot be negative")
    return letter_date + timedelta(days=period_days + 1)


def probation_start(joined: str) -> date:
    """入党时间 as a day. A month-only value ("2025-03") counts from the month's
    first day: the probation then ends on the earliest day it can, so the
    secretary is told at the start of the month it ends in, never after the
    end has passed (telling a few days early costs nothing; late, a missed
    转正 discussion)."""
    return PartialDate.from_iso(joined).first_day()


def probation_crossing(joined: date) -> date:
    """R-PROBATION: the one-year probation of a 预备党员 ends (SPEC §2)."""
    return add_months(joined, PROBATION_MONTHS)


def _window(crossing: Callable[[date], date], months: int, since: date, today: date) -> Window:
    """Start dates whose ``crossing`` falls in (since, today].

    ``crossing`` is non-decreasing and equals ``add_months(start, months)`` plus
    a few days at most, so a guess one calendar step back lands within days of
    each bound; the loops settle it exactly (clamping makes up to four starts
    share a crossing, e.g. 28–31 August → 28 February)."""

    def last_at_or_before(day: date) -> date:
        """The greatest start whose crossing is on or before ``day``."""
        start = add_months(day, -months)
        while crossing(start) > day:
            start -= _DAY
        while crossing(start + _DAY) <= day:
            start += _DAY
        return start

    return Window(last_at_or_before(since) + _DAY, last_at_or_before(today))


def lost_window(since: date, today: date) -> Window:
    """R-LOST-6M: last-contact dates that became lost in (since, today]."""
    return _window(lost_crossing, 6, since, today)


def lost_before(today: date) -> date:
    """R-LOST-6M: the latest last contact that is lost today (lost ⇔ contact ≤ this)."""
    return _window(lost_crossing, 6, today, today).last


def mobile_window(since: date, today: date) -> Window:
    """R-MOBILE-6M: 组织生活 dates whose six months completed in (since, today]."""
    return _window(mobile_crossing, 6, since, today)


def pocket_window(since: date, today: date, period_days: int) -> Window:
    """R-POCKET: letter dates whose receipt period ran out in (since, today]."""
    shift = timedelta(days=period_days + 1)
    if period_days < 0:
        raise ValueError("the receipt period cannot be negative")
    return Window(since - shift + _DAY, today - shift)


def pocket_before(today: date, period_days: int) -> date:
    """R-POCKET: the latest letter date whose period has run out today (with no
    回执, the member is pocket ⇔ letter ≤ this)."""
    return pocket_window(today, today, period_days).last


def probation_window(since: date, today: date) -> Window:
    """R-PROBATION: 入党 days whose one-year probation ended in (since, today]."""
    return _window(probation_crossing, PROBATION_MONTHS, since, today)


def ends_crossing(ends_on: date, ahead_days: int = 0) -> date:
    """A disposition's clock (``AHEAD_DAYS``): the day it crosses, ``ahead_days``
    before the stored end."""
    return ends_on - timedelta(days=ahead_days)


def ends_window(since: date, today: date, ahead_days: int = 0) -> Window:
    """End dates whose ``ends_crossing`` falls in (since, today]."""
    shift = timedelta(days=ahead_days)
    return Window(since + shift + _DAY, today + shift)


def iso_text_range(window: Window) -> tuple[str, str]:
    """The same window over ISO text that may hold month-only values ("2025-03"),
    as stored in ``member.joined``: text sorts like dates, and "2025-03" sorts
    just before "2025-03-01". A month-only value counts as its first day
    (``probation_start``), so it is inside exactly when its first day is:
    the lower bound is the bare month when the window starts on a 1st."""
    low = window.first.isoformat()
    if window.first.day == 1:
        low = low[:7]
    return low, window.last.isoformat()
