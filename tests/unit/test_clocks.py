"""Situations and clocks (SPEC §3): R-LOST-6M, R-MOBILE-6M, R-POCKET.

Dates are invented; ``today`` is always passed in.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.clocks import (
    DEFAULT_POCKET_DAYS,
    LOST_AFTER_MONTHS,
    MemberFacts,
    Span,
    Standing,
    is_lost,
    is_pocket,
    last_contact,
    lost_duration,
    lost_from,
    mobile_suspected,
    pocket_overdue_days,
    situation,
)

TODAY = date(2026, 3, 18)
DAY = timedelta(days=1)


# --- R-LOST-6M: last contact ---


def test_last_contact_is_the_later_of_org_life_and_dues_R_LOST_6M():
    # Arrange
    org_life, dues = date(2025, 4, 10), date(2025, 9, 2)

    # Act / Assert
    assert last_contact(org_life, dues) == dues
    assert last_contact(dues, org_life) == dues


def test_last_contact_with_one_date_is_that_date_R_LOST_6M():
    assert last_contact(date(2025, 4, 10), None) == date(2025, 4, 10)
    assert last_contact(None, date(2025, 4, 10)) == date(2025, 4, 10)


def test_last_contact_with_no_date_is_unknown_R_LOST_6M():
    assert last_contact(None, None) is None


# --- R-LOST-6M: the boundary ---


def test_six_months_is_the_threshold_R_LOST_6M():
    assert LOST_AFTER_MONTHS == 6


def test_exactly_six_calendar_months_is_not_yet_lost_R_LOST_6M():
    # Arrange
    contact = date(2025, 3, 15)

    # Act
    lost = is_lost(contact, date(2025, 9, 15))

    # Assert
    assert lost is False


def test_the_day_after_six_calendar_months_is_lost_R_LOST_6M():
    # Arrange
    contact = date(2025, 3, 15)

    # Act
    lost = is_lost(contact, date(2025, 9, 16))

    # Assert
    assert lost is True
    assert lost_from(contact) == date(2025, 9, 16)


@pytest.mark.parametrize(
    ("contact", "first_lost_day"),
    [
        # 31 Aug 2023 + 6 months clamps to 29 Feb 2024 (leap year).
        (date(2023, 8, 31), date(2024, 3, 1)),
        # 31 Aug 2022 + 6 months clamps to 28 Feb 2023.
        (date(2022, 8, 31), date(2023, 3, 1)),
        # 31 May + 6 months = 30 November (SPEC §3).
        (date(2025, 5, 31), date(2025, 12, 1)),
        # A leap day as the last contact: + 6 months = 29 August.
        (date(2024, 2, 29), date(2024, 8, 30)),
        # Across the year end.
        (date(2025, 7, 20), date(2026, 1, 21)),
    ],
)
def test_month_ends_clamp_before_the_strict_day_after_R_LOST_6M(
    contact: date, first_lost_day: date
):
    # Act
    start = lost_from(contact)

    # Assert
    assert start == first_lost_day
    assert is_lost(contact, first_lost_day - DAY) is False
    assert is_lost(contact, first_lost_day) is True


def test_thirty_first_august_is_not_lost_on_leap_day_R_LOST_6M():
    assert is_lost(date(2023, 8, 31), date(2024, 2, 29)) is False
    assert is_lost(date(2023, 8, 31), date(2024, 3, 1)) is True


def test_no_contact_date_is_never_lost_R_LOST_6M():
    assert is_lost(None, TODAY) is False


def test_the_later_date_decides_whether_lost_R_LOST_6M():
    # Arrange: dues paid long ago, organisation life recently.
    facts = MemberFacts(last_org_life=date(2026, 1, 10), last_dues=date(2024, 5, 1))

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.NORMAL
    assert result.last_contact == date(2026, 1, 10)


# --- R-LOST-6M: duration of lost contact (seed 001 附件3 note 2) ---


@pytest.mark.parametrize(
    ("contact", "end", "span"),
    [
        (date(2025, 3, 15), date(2025, 10, 15), Span(7, 0)),
        (date(2025, 3, 15), date(2025, 10, 20), Span(7, 5)),
        (date(2024, 12, 13), date(2026, 3, 18), Span(15, 5)),
        (date(2025, 3, 15), date(2025, 4, 4), Span(0, 20)),
        # From 31 January: 28 February 2025 is one month, 30 March is 1 month 30 days.
        (date(2025, 1, 31), date(2025, 2, 28), Span(1, 0)),
        (date(2025, 1, 31), date(2025, 3, 30), Span(1, 30)),
        (date(2025, 1, 31), date(2025, 3, 31), Span(2, 0)),
        (date(2024, 2, 29), date(2025, 2, 28), Span(12, 0)),
        (date(2025, 3, 15), date(2025, 3, 15), Span(0, 0)),
    ],
)
def test_lost_duration_counts_calendar_months_then_days_R_LOST_6M(
    contact: date, end: date, span: Span
):
    assert lost_duration(contact, end) == span


def test_lost_duration_cannot_end_before_the_last_contact_R_LOST_6M():
    with pytest.raises(ValueError):
        lost_duration(date(2025, 3, 15), date(2025, 3, 14))


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (Span(15, 5), "1年3个月又5天"),
        (Span(7, 0), "7个月"),
        (Span(0, 20), "20天"),
        (Span(24, 0), "2年"),
        (Span(12, 3), "1年又3天"),
        (Span(7, 1), "7个月又1天"),
        (Span(0, 0), "0天"),
    ],
)
def test_span_reads_as_the_forms_write_it(span: Span, text: str):
    assert span.zh() == text


def test_span_total_months_counts_years_in_R_LOST_6M():
    # Act
    span = lost_duration(date(2024, 12, 13), date(2026, 3, 18))

    # Assert
    assert span.total_months == 15
    assert span.years == 1


def test_lost_member_has_a_lost_for_span_to_today_R_LOST_6M():
    # Arrange
    facts = MemberFacts(last_org_life=date(2025, 5, 10), last_dues=date(2025, 7, 12))

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.LOST
    assert result.last_contact == date(2025, 7, 12)
    assert result.lost_for == Span(8, 6)
    assert result.pocket_days is None


def test_member_not_yet_lost_is_normal_without_a_span_R_LOST_6M():
    # Arrange: exactly six months before TODAY.
    facts = MemberFacts(last_dues=date(2025, 9, 18))

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.NORMAL
    assert result.lost_for is None


def test_member_without_contact_dates_is_unknown_not_lost_R_LOST_6M():
    # Act
    result = situation(MemberFacts(), TODAY)

    # Assert
    assert result.standing is Standing.UNKNOWN
    assert result.standing.label == "待完善"
    assert result.last_contact is None
    assert result.lost_for is None


def test_being_found_by_the_search_counts_as_contact_R_LOST_6M():
    # Arrange: old dates, but the search reached the member two months ago.
    facts = MemberFacts(
        last_org_life=date(2023, 1, 5), last_dues=date(2023, 2, 5), found_on=date(2026, 1, 20)
    )

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.NORMAL
    assert result.last_contact == date(2026, 1, 20)


def test_found_member_is_lost_again_after_six_more_months_R_LOST_6M():
    # Arrange
    facts = MemberFacts(found_on=date(2025, 8, 1))

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.LOST
    assert result.lost_for == Span(7, 17)


# --- R-POCKET ---


def test_default_receipt_period_is_ninety_days_R_POCKET():
    assert DEFAULT_POCKET_DAYS == 90


def test_exactly_ninety_days_after_the_letter_is_not_yet_pocket_R_POCKET():
    # Arrange
    letter = TODAY - timedelta(days=90)

    # Act / Assert
    assert is_pocket(letter, None, TODAY) is False
    assert pocket_overdue_days(letter, None, TODAY) is None


def test_ninety_one_days_without_receipt_is_pocket_R_POCKET():
    # Arrange
    letter = TODAY - timedelta(days=91)

    # Act / Assert
    assert is_pocket(letter, None, TODAY) is True
    assert pocket_overdue_days(letter, None, TODAY) == 1


def test_a_receipt_cancels_pocket_R_POCKET():
    # Arrange
    letter = date(2024, 1, 10)

    # Act / Assert
    assert is_pocket(letter, date(2025, 11, 2), TODAY) is False
    assert pocket_overdue_days(letter, date(2025, 11, 2), TODAY) is None


def test_no_letter_is_never_pocket_R_POCKET():
    assert is_pocket(None, None, TODAY) is False


def test_receipt_period_is_configurable_R_POCKET():
    # Arrange
    letter = TODAY - timedelta(days=40)

    # Act / Assert
    assert is_pocket(letter, None, TODAY, period_days=30) is True
    assert pocket_overdue_days(letter, None, TODAY, period_days=30) == 10
    assert is_pocket(letter, None, TODAY, period_days=40) is False
    assert is_pocket(letter, None, TODAY) is False


def test_pocket_member_standing_counts_days_since_the_letter_R_POCKET():
    # Arrange
    facts = MemberFacts(
        last_org_life=date(2025, 12, 1), transfer_letter_date=TODAY - timedelta(days=100)
    )

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.POCKET
    assert result.pocket_days == 100
    assert result.lost_for is None


def test_pocket_comes_before_lost_and_keeps_the_lost_span_R_POCKET():
    # Arrange: letter long overdue and no contact for over a year.
    facts = MemberFacts(last_dues=date(2024, 12, 13), transfer_letter_date=date(2024, 12, 13))

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.POCKET
    assert result.lost_for == Span(15, 5)


def test_situation_uses_the_given_receipt_period_R_POCKET():
    # Arrange
    facts = MemberFacts(
        last_org_life=date(2026, 2, 1), transfer_letter_date=TODAY - timedelta(days=40)
    )

    # Act / Assert
    assert situation(facts, TODAY).standing is Standing.NORMAL
    assert situation(facts, TODAY, pocket_days=30).standing is Standing.POCKET


def test_pocket_comes_before_mobile_R_POCKET():
    # Arrange
    facts = MemberFacts(transfer_letter_date=date(2025, 6, 1), is_mobile_registered=True)

    # Act / Assert
    assert situation(facts, TODAY).standing is Standing.POCKET


# --- R-MOBILE-6M ---


def test_registered_mobile_member_is_never_lost_R_MOBILE_6M():
    # Arrange: seed 001 附件4 note 6 — a mobile member is not a lost-contact member.
    facts = MemberFacts(
        last_org_life=date(2022, 3, 1), last_dues=date(2022, 4, 1), is_mobile_registered=True
    )

    # Act
    result = situation(facts, TODAY)

    # Assert
    assert result.standing is Standing.MOBILE
    assert result.lost_for is None
    assert result.last_contact == date(2022, 4, 1)


def test_registered_mobile_member_without_dates_is_mobile_R_MOBILE_6M():
    assert situation(MemberFacts(is_mobile_registered=True), TODAY).standing is Standing.MOBILE


def test_member_who_transferred_the_relation_is_not_mobile_R_MOBILE_6M():
    # Arrange
    recent = MemberFacts(
        last_dues=date(2026, 2, 1), is_mobile_registered=True, relation_transferred=True
    )
    old = MemberFacts(
        last_dues=date(2024, 2, 1), is_mobile_registered=True, relation_transferred=True
    )

    # Act / Assert
    assert situation(recent, TODAY).standing is Standing.NORMAL
    assert situation(old, TODAY).standing is Standing.LOST


def test_six_consecutive_months_offline_suggests_mobile_R_MOBILE_6M():
    # Arrange
    last_offline = date(2025, 9, 18)

    # Act / Assert: six full months are enough (连续6个月), unlike “超过6个月”.
    assert mobile_suspected(last_offline, TODAY - DAY) is False
    assert mobile_suspected(last_offline, TODAY) is True


def test_mobile_suggestion_clamps_at_month_end_R_MOBILE_6M():
    assert mobile_suspected(date(2025, 5, 31), date(2025, 11, 29)) is False
    assert mobile_suspected(date(2025, 5, 31), date(2025, 11, 30)) is True


def test_no_offline_activity_date_suggests_nothing_R_MOBILE_6M():
    assert mobile_suspected(None, TODAY) is False


# --- Standing ---


def test_standings_carry_their_chinese_labels():
    assert [(s.value, s.label) for s in Standing] == [
        ("normal", "正常"),
        ("lost", "失联"),
        ("mobile", "流动"),
        ("pocket", "口袋"),
        ("unknown", "待完善"),
    ]
    assert Standing.by_label("失联") is Standing.LOST
