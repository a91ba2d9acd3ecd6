"""身份证号 (SPEC §2) and masking in chat lists (R-CONFIDENTIAL).

All numbers here are invented: built from a made-up region and serial with
``check_digit``, except GB 11643's own published example 11010519491231002X.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.idcard import (
    IdNumber,
    check_digit,
    mask_id_number,
    mask_phone,
    normalise,
    parse_id_number,
)
from tests import factories

STANDARD_EXAMPLE = "11010519491231002X"  # the example printed in GB 11643-1999


def _valid(first17: str) -> str:
    return first17 + check_digit(first17)


def _wrong_check(first17: str) -> tuple[str, str]:
    """The number with a check digit that is not the right one, and the right one."""
    right = check_digit(first17)
    wrong = "0" if right != "0" else "1"
    return first17 + wrong, right


# --- the check digit (ISO 7064 MOD 11-2) ---


def test_check_digit_of_the_standard_example_is_x():
    # Arrange
    first17 = STANDARD_EXAMPLE[:17]

    # Act
    digit = check_digit(first17)

    # Assert
    assert digit == "X"


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        # Worked by hand: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2;
        # the check character is "10X98765432"[sum mod 11].
        ("00000000000000000", "1"),  # sum 0
        ("00000001000000000", "0"),  # weight 1 → sum 1
        ("00000000000000001", "X"),  # weight 2 → sum 2
        ("00000000000000010", "8"),  # weight 4 → sum 4
        ("10000000000000000", "5"),  # weight 7 → sum 7
        ("00000000000000100", "4"),  # weight 8 → sum 8
        ("01000000000000000", "3"),  # weight 9 → sum 9
        ("00100000000000000", "2"),  # weight 10 → sum 10
        ("11000000000000000", "7"),  # 7 + 9 = 16 ≡ 5 (mod 11)
    ],
)
def test_check_digit_follows_iso_7064_mod_11_2(first17: str, expected: str):
    # Act
    digit = check_digit(first17)

    # Assert
    assert digit == expected


def test_check_digit_needs_exactly_17_digits():
    # Arrange
    too_short = "1234567890123456"

    # Act / Assert
    with pytest.raises(ValueError):
        check_digit(too_short)


# --- valid 18-digit numbers ---


def test_valid_18_digit_number_is_accepted_with_birth_and_gender():
    # Arrange
    number = factories.id_number(date(1985, 6, 15), male=True)

    # Act
    parsed = parse_id_number(number)

    # Assert
    assert parsed == IdNumber(number, date(1985, 6, 15), "男", legacy=False)


def test_standard_example_with_x_check_digit_is_accepted():
    # Act
    parsed = parse_id_number(STANDARD_EXAMPLE)

    # Assert
    assert parsed.value == STANDARD_EXAMPLE
    assert parsed.birth == date(1949, 12, 31)
    assert parsed.gender == "女"  # 17th digit 2 is even
    assert parsed.legacy is False


def test_invented_number_with_x_check_digit_is_accepted():
    # Arrange: search an invented serial whose check digit is X
    first17 = next(
        f"410102198506150{n:02d}"
        for n in range(100)
        if check_digit(f"410102198506150{n:02d}") == "X"
    )
    number = first17 + "X"

    # Act
    parsed = parse_id_number(number)

    # Assert
    assert parsed.value.endswith("X")
    assert parsed.birth == date(1985, 6, 15)


@pytest.mark.parametrize(
    ("seventeenth", "gender"), [("1", "男"), ("3", "男"), ("0", "女"), ("8", "女")]
)
def test_gender_is_read_from_the_17th_digit_odd_for_men(seventeenth: str, gender: str):
    # Arrange
    number = _valid(f"4101021985061500{seventeenth}")

    # Act
    parsed = parse_id_number(number)

    # Assert
    assert parsed.gender == gender


def test_factory_numbers_carry_the_requested_gender_and_birth():
    # Arrange
    woman = factories.id_number(date(1992, 2, 29), male=False)

    # Act
    parsed = parse_id_number(woman)

    # Assert
    assert parsed.gender == "女"
    assert parsed.birth == date(1992, 2, 29)


# --- normalisation ---


def test_lowercase_x_is_normalised_to_capital_x():
    # Act
    parsed = parse_id_number(STANDARD_EXAMPLE.lower())

    # Assert
    assert parsed.value == STANDARD_EXAMPLE


def test_fullwidth_digits_and_fullwidth_x_are_normalised():
    # Arrange: what a Chinese input method in full-width mode types
    fullwidth = (
        STANDARD_EXAMPLE[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "ｘ"
    )

    # Act
    parsed = parse_id_number(fullwidth)

    # Assert
    assert parsed.value == STANDARD_EXAMPLE


def test_fullwidth_capital_x_is_normalised():
    # Act
    value = normalise(STANDARD_EXAMPLE[:17] + "Ｘ")

    # Assert
    assert value == STANDARD_EXAMPLE


def test_spaces_inside_and_around_the_number_are_removed():
    # Arrange
    typed = f"  {STANDARD_EXAMPLE[:6]} {STANDARD_EXAMPLE[6:14]} {STANDARD_EXAMPLE[14:]}  "

    # Act
    parsed = parse_id_number(typed)

    # Assert
    assert parsed.value == STANDARD_EXAMPLE


# --- refusals ---


@pytest.mark.parametrize("length", [0, 1, 14, 16, 17, 19, 20])
def test_wrong_length_is_refused_and_the_message_says_how_many_characters(length: int):
    # Arrange
    text = ("1" * 20)[:length]

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(text)

    # Assert
    assert refused.value.params == {"length": length}
    assert f"现在是{length}位" in str(refused.value)
    assert "18位" in str(refused.value)


def test_length_is_counted_after_spaces_are_removed():
    # Arrange: 17 digits padded with spaces to look long
    text = " 1101051949 1231002 "

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(text)

    # Assert
    assert refused.value.params["length"] == 17


@pytest.mark.parametrize(
    "text",
    [
        "1101051949123100AX",  # a letter among the first 17
        "X10105194912310027",  # X anywhere but last
        "11010519491231002Y",  # last character neither digit nor X
        "110105-9491231002X",  # punctuation
    ],
)
def test_wrong_characters_in_18_digit_number_are_refused(text: str):
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(text)

    # Assert
    assert "前17位只能是数字" in str(refused.value)


def test_wrong_check_digit_is_refused_and_the_message_gives_the_expected_one():
    # Arrange
    number, right = _wrong_check("41010219850615003")

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(number)

    # Assert
    assert refused.value.params == {"expected": right}
    assert f"最后一位应为{right}" in str(refused.value)


def test_a_digit_where_x_is_expected_is_refused():
    # Arrange
    number = STANDARD_EXAMPLE[:17] + "0"

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(number)

    # Assert
    assert refused.value.params == {"expected": "X"}


def test_a_swapped_pair_of_digits_is_caught_by_the_check_digit():
    # Arrange: MOD 11-2 catches transpositions of adjacent digits
    good = factories.id_number(date(1985, 6, 15))
    swapped = good[:6] + good[7] + good[6] + good[8:]
    assert swapped != good

    # Act / Assert
    with pytest.raises(InvalidInput):
        parse_id_number(swapped)


@pytest.mark.parametrize(
    ("ymd", "why"),
    [
        ("19850230", "30 February"),
        ("20230229", "29 February in a common year"),
        ("19851301", "month 13"),
        ("19850001", "month 0"),
        ("19850600", "day 0"),
        ("19850431", "31 April"),
        ("00000101", "year 0"),
    ],
)
def test_impossible_birth_date_inside_the_number_is_refused(ymd: str, why: str):
    # Arrange: a correct check digit, so only the date is wrong
    number = _valid(f"410102{ymd}001")

    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number(number)

    # Assert
    assert refused.value.params == {"ymd": ymd}, why
    assert "不存在" in str(refused.value)


def test_leap_day_birth_is_accepted_in_a_leap_year():
    # Arrange
    number = _valid("41010220000229001")

    # Act
    parsed = parse_id_number(number)

    # Assert
    assert parsed.birth == date(2000, 2, 29)


# --- 15-digit legacy numbers ---


def test_15_digit_legacy_number_is_accepted_and_flagged():
    # Arrange: region 410102, born 85-06-15, serial 003 (odd: a man)
    number = "410102850615003"

    # Act
    parsed = parse_id_number(number)

    # Assert
    assert parsed == IdNumber(number, date(1985, 6, 15), "男", legacy=True)


def test_15_digit_legacy_number_reads_gender_from_its_last_digit():
    # Act
    parsed = parse_id_number("410102850615004")

    # Assert
    assert parsed.gender == "女"


def test_15_digit_legacy_number_with_a_letter_is_refused():
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number("41010285061500X")

    # Assert
    assert "15位身份证号只能是数字" in str(refused.value)


def test_15_digit_legacy_number_with_impossible_birth_date_is_refused():
    # Act
    with pytest.raises(InvalidInput) as refused:
        parse_id_number("410102850230003")

    # Assert
    assert refused.value.params == {"ymd": "19850230"}


def test_18_digit_number_is_not_flagged_legacy():
    # Act
    parsed = parse_id_number(factories.id_number())

    # Assert
    assert parsed.legacy is False


# --- masking (R-CONFIDENTIAL) ---


def test_id_number_is_masked_in_lists_keeping_region_and_last_four_R_CONFIDENTIAL():
    # Arrange
    number = _valid("41010219850615123")

    # Act
    masked = mask_id_number(number)

    # Assert
    assert masked == "4101**********" + number[-4:]
    assert len(masked) == 18
    assert number[4:14] not in masked


def test_id_number_mask_matches_the_spec_example_shape_R_CONFIDENTIAL():
    # Arrange: the spec's shape (4101 … 123X), digits in between invented
    number = "4101" + "0" * 10 + "123X"

    # Act
    masked = mask_id_number(number)

    # Assert
    assert masked == "4101**********123X"


def test_parsed_id_number_offers_its_masked_form_R_CONFIDENTIAL():
    # Arrange
    parsed = parse_id_number(STANDARD_EXAMPLE)

    # Act
    masked = parsed.masked

    # Assert
    assert masked == "1101**********002X"


def test_legacy_15_digit_number_is_masked_too_R_CONFIDENTIAL():
    # Act
    masked = mask_id_number("410102850615003")

    # Assert
    assert masked == "4101*******5003"


@pytest.mark.parametrize("value", ["", None])
def test_missing_id_number_masks_to_empty(value: str | None):
    # Act / Assert
    assert mask_id_number(value) == ""


@pytest.mark.parametrize("value", ["1", "1234", "12345678"])
def test_short_id_text_is_masked_entirely_R_CONFIDENTIAL(value: str):
    # Act
    masked = mask_id_number(value)

    # Assert
    assert masked == "*" * len(value)


def test_mobile_phone_is_masked_keeping_prefix_and_last_four_R_CONFIDENTIAL():
    # Arrange
    phone = factories.phone(1234)  # 13900001234

    # Act
    masked = mask_phone(phone)

    # Assert
    assert masked == "139****1234"


def test_landline_with_area_code_is_masked_R_CONFIDENTIAL():
    # Act
    masked = mask_phone("0371-6000123")

    # Assert
    assert masked == "037*****0123"


@pytest.mark.parametrize(("phone", "masked"), [("1234567", "1******"), ("12", "1*"), ("8", "8")])
def test_short_phone_keeps_only_its_first_digit_R_CONFIDENTIAL(phone: str, masked: str):
    # Act / Assert
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("value", ["", None])
def test_missing_phone_masks_to_empty(value: str | None):
    # Act / Assert
    assert mask_phone(value) == ""
