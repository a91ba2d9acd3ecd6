"""Situations and clocks (SPEC §3): lost (R-LOST-6M), mobile (R-MOBILE-6M) and
pocket (R-POCKET), computed from stored dates every time, never typed.

``today`` is always passed in (STYLE 7); months are calendar months clamped to
the month's end (``add_months``: 31 May + 6 months = 30 November).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from domain.codes import CodeList
from domain.dates import add_months

LOST_AFTER_MONTHS = 6
# No seed fixes the 回执 period; committees may set their own (R-POCKET).
DEFAULT_POCKET_DAYS = 90
# Seed 003 一: 连续6个月未能线下参加本支部活动.
MOBILE_AFTER_MONTHS = 6


def _latest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


def last_contact(last_org_life: date | None, last_dues: date | None) -> date | None:
    """The later of 最近一次参加组织生活 and 最近一次交纳党费 (SPEC §2, R-LOST-6M)."""
    return _latest(last_org_life, last_dues)


def lost_from(last_contact: date) -> date:
    """The first day the member counts as lost: “超过6个月” is strict, so the day
    exactly six calendar months after the last contact is not yet lost (R-LOST-6M)."""
    return add_months(last_contact, LOST_AFTER_MONTHS) + timedelta(days=1)


def is_lost(last_contact: date | None, today: date) -> bool:
    """R-LOST-6M. No date at all is not lost: the sweep lists the member 待完善 (§2a)."""
    return last_contact is not None and today >= lost_from(last_contact)


@dataclass(frozen=True, order=True)
class Span:
    """A length of time in calendar months and the days left over.

    ``months`` is the whole count (14, not 1 year and 2); ``zh`` splits years out.
    """

    months: int
    days: int

    @property
    def total_months(self) -> int:
        return self.months

    @property
    def years(self) -> int:
        return self.months // 12

    def zh(self) -> str:
        """As the forms write it: 1年3个月又5天, 7个月, 20天."""
        years, months = divmod(self.months, 12)
        text = (f"{years}年" if years else "") + (f"{months}个月" if months else "")
        if self.days:
            text += f"又{self.days}天" if text else f"{self.days}天"
        return text or "0天"


def lost_duration(last_contact: date, end: date) -> Span:
    """与党组织失去联系时间: from the last contact to the end of the search, or today
    while it goes on (seed 001 附件3 note 2, 附件5/6 note 3). Whole calendar months
    first, then the days left."""
    if end < last_contact:
        raise ValueError("the end of the search is before the last contact")
    months = (end.year - last_contact.year) * 12 + end.month - last_contact.month
    if add_months(last_contact, months) > end:
        months -= 1
    return Span(months, (end - add_months(last_contact, months)).days)


def _pocket_clock(
    letter_date: date | None, receipt_date: date | None, today: date, period_days: int
) -> int | None:
    """Days since the letter when it makes a pocket member, else None."""
    if period_days < 0:
        raise ValueError("the receipt period cannot be negative")
    if letter_date is None or receipt_date is not None:
        return None
    since = (today - letter_date).days
    return since if since > period_days else None


def is_pocket(
    letter_date: date | None,
    receipt_date: date | None,
    today: date,
    period_days: int = DEFAULT_POCKET_DAYS,
) -> bool:
    """R-POCKET 口袋党员: 介绍信 issued, no 回执 back, and more than ``period_days``
    since the letter (on the last day of the period the receipt may still come)."""
    return _pocket_clock(letter_date, receipt_date, today, period_days) is not None


def pocket_overdue_days(
    letter_date: date | None,
    receipt_date: date | None,
    today: date,
    period_days: int = DEFAULT_POCKET_DAYS,
) -> int | None:
    """How many days past the receipt period (1 on the first pocket day); None
    when the member is not a pocket member."""
    since = _pocket_clock(letter_date, receipt_date, today, period_days)
    return None if since is None else since - period_days


def mobile_from(last_offline_activity: date) -> date:
    """The day six consecutive months without offline activity are complete."""
    return add_months(last_offline_activity, MOBILE_AFTER_MONTHS)


def mobile_suspected(last_offline_activity: date | None, today: date) -> bool:
    """R-MOBILE-6M: 连续6个月未能线下参加本支部活动 (seed 003 一) → suggest registering
    the member as mobile. Only a suggestion: the branch decides, and may also
    register a member who attends rarely. Unlike R-LOST-6M (“超过”), six full
    months are enough. No date known: nothing to suggest."""
    return last_offline_activity is not None and today >= mobile_from(last_offline_activity)


class Standing(CodeList):
    """A member's one standing (SPEC §3)."""

    NORMAL = ("normal", "正常")
    LOST = ("lost", "失联")
    MOBILE = ("mobile", "流动")
    POCKET = ("pocket", "口袋")
    UNKNOWN = ("unknown", "待完善")


@dataclass(frozen=True)
class MemberFacts:
    """The stored dates a situation is computed from."""

    last_org_life: date | None = None
    last_dues: date | None = None
    transfer_letter_date: date | None = None
    transfer_receipt_date: date | None = None
    is_mobile_registered: bool = False
    relation_transferred: bool = False
    # The day a search reached the member (经查找取得联系): contact like any other.
    found_on: date | None = None

    @property
    def last_contact(self) -> date | None:
        return _latest(self.last_org_life, self.last_dues, self.found_on)


@dataclass(frozen=True)
class Situation:
    """``lost_for`` is set when the contact clock has run out (LOST, or a POCKET
    member also out of contact), never for MOBILE; ``pocket_days`` is the days
    since the 介绍信, set only for POCKET."""

    standing: Standing
    last_contact: date | None
    lost_for: Span | None
    pocket_days: int | None


def situation(facts: MemberFacts, today: date, pocket_days: int = DEFAULT_POCKET_DAYS) -> Situation:
    """The member's standing today; ``pocket_days`` is the receipt period."""
    contact = facts.last_contact
    lost_for = lost_duration(contact, today) if contact and is_lost(contact, today) else None
    since_letter = _pocket_clock(
        facts.transfer_letter_date, facts.transfer_receipt_date, today, pocket_days
    )
    if since_letter is not None:
        # Seed 001 step 2: the search starts with the receiving organisation.
        return Situation(Standing.POCKET, contact, lost_for, since_letter)
    if facts.is_mobile_registered and not facts.relation_transferred:
        # Seed 001 附件4 note 6: a mobile member is not a lost-contact member.
        return Situation(Standing.MOBILE, contact, None, None)
    if lost_for is not None:
        return Situation(Standing.LOST, contact, lost_for, None)
    if contact is None:
        return Situation(Standing.UNKNOWN, None, None, None)
    return Situation(Standing.NORMAL, contact, None, None)
