"""The one date parser (日期解析) and calendar-month arithmetic (SPEC §2, §3).

``today`` is always injected; nothing here reads the clock.
"""

from __future__ import annotations

import calendar
from datetime import date

import pytest

from domain.dates import PartialDate, add_months, parse_date
from domain.errors import InvalidInput

TODAY = date(2024, 6, 10)


def _fullwidth(text: str) -> str:
    return text.translate(str.maketrans("0123456789/.-", "０１２３４５６７８９／．－"))


# --- accepted forms ---


@pytest.mark.parametrize(
    "text",
    [
        "2016-03-18",
        "2016-3-18",
        "2016.3.18",
        "2016.03.18",
        "2016/3/18",
        "2016/03/18",
        "2016年3月18日",
        "2016年03月18日",
        "2016年3月18",
        "20160318",
        "  2016-03-18  ",
        "2016 年 3 月 18 日",
    ],
)
def test_every_accepted_form_means_the_same_day(text: str):
    # Act
    parsed = parse_date(text, today=TODAY)

    # Assert
    assert parsed == PartialDate(2016, 3, 18)
    assert parsed.first_day() == date(2016, 3, 18)


@pytest.mark.parametrize(
    "text",
    [
        "２０１６-０３-１８",
        "２０１６．３．１８",
        "２０１６／３／１８",
        "２０１６年３月１８日",
        "２０１６０３１８",
    ],
)
def test_fullwidth_digits_and_separators_are_accepted(text: str):
    # Act
    parsed = parse_date(text, today=TODAY)

    # Assert
    assert parsed == PartialDate(2016, 3, 18)


def test_fullwidth_helper_round_trip_is_accepted():
    # Arrange
    text = _fullwidth("2016/3/18")

    # Act
    parsed = parse_date(text, today=TODAY)

    # Assert
    assert parsed.iso() == "2016-03-18"


@pytest.mark.parametrize(
    "text",
    [
        "2016-03",
        "2016-3",
        "2016.3",
        "2016/3",
        "2016年3月",
        "2016年03月",
        "201603",
        "２０１６年３月",
    ],
)
def test_year_and_month_alone_are_accepted_where_the_field_allows_it(text: str):
    # Act
    parsed = parse_date(text, today=TODAY, allow_month=True)

    # Assert
    assert parsed == PartialDate(2016, 3)
    assert parsed.is_month
    assert parsed.iso() == "2016-03"


@pytest.mark.parametrize("text", ["2016-03", "2016.3", "2016年3月", "201603"])
def test_year_and_month_alone_are_refused_where_a_day_is_needed(text: str):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY)

    # Assert
    assert "需要具体到日" in str(refused.value)


def test_a_full_date_is_still_kept_whole_where_month_is_allowed():
    # Act
    parsed = parse_date("2016-03-18", today=TODAY, allow_month=True)

    # Assert
    assert parsed == PartialDate(2016, 3, 18)
    assert not parsed.is_month


# --- refused forms ---


@pytest.mark.parametrize(
    "text", ["", "   ", "昨天", "18/03/2016", "16-3-18", "2016318", "2016-03-18-01", "March 2016"]
)
def test_unreadable_text_is_refused_with_the_accepted_forms_shown(text: str):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY, allow_month=True)

    # Assert
    assert "日期格式看不懂" in str(refused.value)
    assert "2016-03-18" in str(refused.value)


def test_unreadable_text_is_quoted_back_shortened():
    # Arrange
    text = "x" * 100

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY)

    # Assert
    assert refused.value.params == {"text": "x" * 40}


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("2023-02-29", {"year": 2023, "month": 2, "day": 29}),
        ("2016-04-31", {"year": 2016, "month": 4, "day": 31}),
        ("2016-02-30", {"year": 2016, "month": 2, "day": 30}),
        ("2016-03-00", {"year": 2016, "month": 3, "day": 0}),
        ("2016年6月31日", {"year": 2016, "month": 6, "day": 31}),
        ("20230229", {"year": 2023, "month": 2, "day": 29}),
    ],
)
def test_impossible_day_is_refused_and_the_message_names_it(text: str, params: dict[str, int]):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY)

    # Assert
    assert refused.value.params == params
    assert f"{params['year']}年{params['month']}月没有{params['day']}日" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "month"), [("2016-13-01", 13), ("2016-00-10", 0), ("20161301", 13)]
)
def test_impossible_month_is_refused_and_the_message_names_it(text: str, month: int):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY)

    # Assert
    assert refused.value.params == {"month": month}
    assert f"没有{month}月" in str(refused.value)


def test_impossible_month_is_refused_in_year_month_form_too():
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date("2016年13月", today=TODAY, allow_month=True)

    # Assert
    assert refused.value.params == {"month": 13}


def test_leap_day_is_accepted_in_a_leap_year():
    # Act
    parsed = parse_date("2024-02-29", today=TODAY)

    # Assert
    assert parsed.first_day() == date(2024, 2, 29)


def test_leap_day_is_refused_in_a_century_year_that_is_not_leap():
    # Act / Assert
    with pytest.raises(InvalidInput):
        parse_date("1900-02-29", today=TODAY)


# --- future and too-early dates ---


def test_a_date_after_today_is_refused():
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date("2024-06-11", today=date(2024, 6, 10))

    # Assert
    assert refused.value.params == {"date": "2024年6月11日"}
    assert "今天之后" in str(refused.value)


def test_today_itself_is_not_in_the_future():
    # Act
    parsed = parse_date("2024-06-10", today=date(2024, 6, 10))

    # Assert
    assert parsed.first_day() == date(2024, 6, 10)


def test_the_current_month_is_not_in_the_future():
    # Act
    parsed = parse_date("2024-06", today=date(2024, 6, 1), allow_month=True)

    # Assert
    assert parsed == PartialDate(2024, 6)


def test_next_month_is_in_the_future():
    # Act / Assert
    with pytest.raises(InvalidInput):
        parse_date("2024-07", today=date(2024, 6, 30), allow_month=True)


def test_the_same_text_is_judged_against_the_injected_today():
    # Arrange
    text = "2024-06-11"

    # Act
    accepted = parse_date(text, today=date(2024, 6, 11))

    # Assert
    assert accepted.first_day() == date(2024, 6, 11)
    with pytest.raises(InvalidInput):
        parse_date(text, today=date(2024, 6, 10))


def test_a_future_date_is_accepted_where_the_field_allows_it():
    # Act
    parsed = parse_date("2030-01-01", today=TODAY, allow_future=True)

    # Assert
    assert parsed.first_day() == date(2030, 1, 1)


@pytest.mark.parametrize("text", ["1899-12-31", "1899-12", "0001-01-01", "18990101"])
def test_a_date_before_the_earliest_is_refused(text: str):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY, allow_month=True)

    # Assert
    assert "太早" in str(refused.value)


@pytest.mark.parametrize("text", ["0000-01-01", "0000-01", "00000101"])
def test_year_zero_is_refused_as_too_early_not_a_crash(text: str):
    """Regression: year 0000 has no ``date``; it used to escape as a bare ValueError."""
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date(text, today=TODAY, allow_month=True)

    # Assert
    assert "太早" in str(refused.value)


def test_the_earliest_day_itself_is_accepted():
    # Act
    parsed = parse_date("1900-01-01", today=TODAY)

    # Assert
    assert parsed.first_day() == date(1900, 1, 1)


def test_the_earliest_limit_can_be_raised_by_the_caller():
    # Arrange
    earliest = date(2007, 1, 1)  # e.g. transfers since the 回执 system began (SPEC §2a)

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_date("2006-12-31", today=TODAY, earliest=earliest)

    # Assert
    assert refused.value.params == {"date": "2006年12月31日"}


# --- PartialDate ---


def test_partial_date_round_trips_through_iso():
    # Arrange
    values = [PartialDate(1985, 6), PartialDate(1985, 6, 5)]

    # Act
    back = [PartialDate.from_iso(v.iso()) for v in values]

    # Assert
    assert back == values


def test_partial_date_shows_in_chinese_without_leading_zeros():
    # Act / Assert
    assert PartialDate(2016, 3).zh() == "2016年3月"
    assert PartialDate(2016, 3, 8).zh() == "2016年3月8日"


def test_partial_date_of_a_month_starts_on_its_first_day():
    # Act / Assert
    assert PartialDate(2016, 3).first_day() == date(2016, 3, 1)
    assert PartialDate.of(date(2016, 3, 18)) == PartialDate(2016, 3, 18)


# --- add_months: calendar months, clamped to the month's end ---


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2016, 3, 18), 6, date(2016, 9, 18)),
        (date(2016, 3, 18), 0, date(2016, 3, 18)),
        (date(2016, 10, 15), 6, date(2017, 4, 15)),  # across the year end
        (date(2016, 12, 31), 1, date(2017, 1, 31)),
        (date(2016, 1, 31), 1, date(2016, 2, 29)),  # leap February
        (date(2016, 3, 18), 24, date(2018, 3, 18)),
    ],
)
def test_add_months_moves_by_calendar_months(start: date, months: int, expected: date):
    # Act / Assert
    assert add_months(start, months) == expected


def test_31_may_plus_six_months_is_30_november_R_LOST_6M():
    """SPEC R-LOST-6M: adding months clamps to the month's end."""
    # Act / Assert
    assert add_months(date(2023, 5, 31), 6) == date(2023, 11, 30)


def test_31_august_plus_six_months_is_28_february_in_a_common_year_R_LOST_6M():
    # Act / Assert
    assert add_months(date(2022, 8, 31), 6) == date(2023, 2, 28)


def test_31_august_plus_six_months_is_29_february_in_a_leap_year_R_LOST_6M():
    # Act / Assert
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


def test_29_february_plus_twelve_months_is_28_february():
    # Act / Assert
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_29_february_plus_48_months_is_29_february_again():
    # Act / Assert
    assert add_months(date(2024, 2, 29), 48) == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2023, 11, 30), -6, date(2023, 5, 30)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2023, 3, 31), -1, date(2023, 2, 28)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2024, 2, 29), -12, date(2023, 2, 28)),
        (date(2024, 6, 10), -30, date(2021, 12, 10)),
    ],
)
def test_add_months_goes_backwards_with_negative_months(start: date, months: int, expected: date):
    # Act / Assert
    assert add_months(start, months) == expected


def test_six_months_after_last_contact_is_the_last_day_not_yet_lost_R_LOST_6M():
    """R-LOST-6M says "more than 6 months": exactly six calendar months is not yet lost.

    Only the arithmetic the rule stands on is checked here: the boundary day is
    ``add_months(last_contact, 6)``, and the next day is the first one past it.
    """
    # Arrange
    last_contact = date(2023, 5, 31)

    # Act
    boundary = add_months(last_contact, 6)

    # Assert
    assert boundary == date(2023, 11, 30)
    assert date(2023, 11, 30) <= boundary  # exactly six months: not more than six
    assert date(2023, 12, 1) > boundary  # the first day that is more than six


@pytest.mark.parametrize(
    "last_contact",
    [
        date(2023, 1, 31),
        date(2023, 8, 31),
        date(2023, 12, 31),
        date(2024, 2, 29),
        date(2024, 6, 15),
    ],
)
def test_six_month_boundary_is_the_same_day_or_the_month_end_R_LOST_6M(last_contact: date):
    # Act
    boundary = add_months(last_contact, 6)

    # Assert: six calendar months on; same day, or clamped to that month's last day
    months_apart = (boundary.year - last_contact.year) * 12 + boundary.month - last_contact.month
    month_end = calendar.monthrange(boundary.year, boundary.month)[1]
    assert months_apart == 6
    assert boundary.day == min(last_contact.day, month_end)
