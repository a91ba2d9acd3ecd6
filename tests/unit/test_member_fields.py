"""The member record's fields (SPEC §2): each kind's parse and display, and the
rules across fields that ``check_record`` applies (and the sweep's check 1 lists, §2a).
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.codes import Education, Gender, MaritalStatus, MemberType
from domain.errors import InvalidInput
from domain.idcard import check_digit
from domain.member_fields import (
    ADD_FIELDS,
    FIELD_BY_KEY,
    FIELDS,
    REQUIRED,
    FieldSpec,
    Kind,
    check_record,
)
from tests import factories

TODAY = date(2024, 6, 10)


def field(key: str) -> FieldSpec:
    return FIELD_BY_KEY[key]


def problems_of(values: dict[str, object]) -> list[str]:
    return [p.message for p in check_record(values)]


# --- the catalogue ---


def test_required_fields_on_creation_are_those_the_spec_names():
    """SPEC §2: 姓名, 性别, 出生年月, 入党时间, 党员类别 (the branch comes from context)."""
    # Act
    labels = {f.label for f in REQUIRED}

    # Assert
    assert labels == {"姓名", "性别", "出生年月", "入党时间", "党员类别"}


def test_field_keys_are_unique_and_indexed():
    # Act
    keys = [f.key for f in FIELDS]

    # Assert
    assert len(keys) == len(set(keys))
    assert all(FIELD_BY_KEY[k].key == k for k in keys)


def test_transfer_fields_are_not_asked_on_add():
    # Act
    asked = {f.key for f in ADD_FIELDS}

    # Assert
    assert {"transfer_letter_date", "transfer_receiver", "transfer_receipt_date"}.isdisjoint(asked)
    assert {f.key for f in REQUIRED} <= asked


def test_every_choice_field_names_its_code_list():
    # Act
    choice_fields = [f for f in FIELDS if f.kind is Kind.CHOICE]

    # Assert
    assert choice_fields
    assert all(f.choices is not None for f in choice_fields)


# --- TEXT ---


def test_text_is_stored_trimmed():
    # Act
    value = field("name").parse("  张测一  ", today=TODAY)

    # Assert
    assert value == "张测一"


def test_text_at_the_limit_is_accepted_whole():
    # Arrange
    spec = field("name")
    text = "测" * spec.max_len

    # Act
    value = spec.parse(text, today=TODAY)

    # Assert
    assert value == text


def test_text_too_long_is_refused_never_cut():
    # Arrange
    spec = field("name")  # 30 characters at most
    text = "测" * (spec.max_len + 1)

    # Act
    with pytest.raises(InvalidInput) as refused:
        spec.parse(text, today=TODAY)

    # Assert
    assert refused.value.params == {"label": "姓名", "max": 30, "length": 31}
    assert "最多30个字，现在是31个字" in str(refused.value)


@pytest.mark.parametrize("key", ["remarks", "work_unit", "phone", "id_number", "birth"])
def test_any_kind_of_field_refuses_text_longer_than_its_limit(key: str):
    # Arrange
    spec = field(key)
    text = "1" * (spec.max_len + 1)

    # Act
    with pytest.raises(InvalidInput) as refused:
        spec.parse(text, today=TODAY)

    # Assert
    assert refused.value.params["length"] == spec.max_len + 1


@pytest.mark.parametrize("key", [f.key for f in REQUIRED])
@pytest.mark.parametrize("text", ["", "   ", None])
def test_required_field_left_empty_is_refused(key: str, text: str | None):
    # Act
    with pytest.raises(InvalidInput) as refused:
        field(key).parse(text, today=TODAY)  # type: ignore[arg-type]

    # Assert
    assert refused.value.params == {"label": field(key).label}
    assert "必须填写" in str(refused.value)


@pytest.mark.parametrize(
    "key", ["ethnicity", "education", "phone", "id_number", "last_dues", "work_unit_has_org"]
)
def test_optional_field_left_empty_is_stored_as_nothing(key: str):
    # Act
    value = field(key).parse("  ", today=TODAY)

    # Assert
    assert value is None


# --- CHOICE ---


@pytest.mark.parametrize(
    ("key", "text", "stored"),
    [
        ("gender", "男", Gender.MALE),
        ("gender", "女", Gender.FEMALE),
        ("member_type", "正式党员", MemberType.FULL),  # by label
        ("member_type", "正式", MemberType.FULL),  # by code
        ("member_type", "预备党员", MemberType.PROBATIONARY),
        ("member_type", "预备", MemberType.PROBATIONARY),
        ("education", "本科及以上", Education.BACHELOR_OR_ABOVE),
        ("marital_status", "复婚", MaritalStatus.REMARRIED),
    ],
)
def test_choice_is_taken_by_label_or_by_code(key: str, text: str, stored: str):
    # Act
    value = field(key).parse(text, today=TODAY)

    # Assert
    assert value == stored.value


def test_choice_outside_the_list_is_refused_with_the_options_listed():
    # Act
    with pytest.raises(InvalidInput) as refused:
        field("member_type").parse("入党积极分子", today=TODAY)

    # Assert
    assert refused.value.params == {"label": "党员类别", "options": "正式党员、预备党员"}


def test_choice_displays_its_official_label():
    # Act / Assert
    assert field("member_type").display("预备") == "预备党员"
    assert field("gender").display("女") == "女"


# --- MONTH and DAY ---


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1985年6月", "1985-06"),
        ("1985.6", "1985-06"),
        ("1985-06-15", "1985-06-15"),
        ("19850615", "1985-06-15"),
    ],
)
def test_month_field_takes_year_month_or_a_full_date(text: str, stored: str):
    # Act
    value = field("birth").parse(text, today=TODAY)

    # Assert
    assert value == stored


def test_month_field_refuses_a_future_month():
    # Act / Assert
    with pytest.raises(InvalidInput):
        field("joined").parse("2024-07", today=TODAY)


def test_day_field_stores_a_date():
    # Act
    value = field("last_dues").parse("2024年5月31日", today=TODAY)

    # Assert
    assert value == date(2024, 5, 31)


def test_day_field_refuses_year_month_alone():
    # Act
    with pytest.raises(InvalidInput) as refused:
        field("last_org_life").parse("2024-05", today=TODAY)

    # Assert
    assert "需要具体到日" in str(refused.value)


def test_day_field_refuses_an_impossible_date():
    # Act / Assert
    with pytest.raises(InvalidInput):
        field("last_dues").parse("2023-02-29", today=TODAY)


def test_dates_display_in_chinese():
    # Act / Assert
    assert field("birth").display("1985-06") == "1985年6月"
    assert field("birth").display("1985-06-15") == "1985年6月15日"
    assert field("last_dues").display(date(2024, 5, 31)) == "2024年5月31日"


# --- ID_NUMBER ---


def test_id_number_field_stores_the_normalised_number():
    # Arrange
    number = factories.id_number(date(1985, 6, 15))
    typed = number[:6] + " " + number[6:14] + " " + number[14:].lower()

    # Act
    value = field("id_number").parse(typed, today=TODAY)

    # Assert
    assert value == number


def test_id_number_field_refuses_a_wrong_check_digit():
    # Arrange
    first17 = "41010219850615003"
    wrong = "0" if check_digit(first17) != "0" else "1"

    # Act / Assert
    with pytest.raises(InvalidInput):
        field("id_number").parse(first17 + wrong, today=TODAY)


def test_id_number_is_shown_whole_on_the_card_R_CONFIDENTIAL():
    """R-CONFIDENTIAL: whole only on the member's own card; lists use the mask."""
    # Arrange
    number = factories.id_number()

    # Act / Assert
    assert field("id_number").display(number) == number


# --- PHONE ---


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("13900001234", "13900001234"),
        ("139 0000 1234", "13900001234"),
        ("0371-60001234", "0371-60001234"),
        ("+8613900001234", "+8613900001234"),
    ],
)
def test_phone_accepts_digits_area_code_and_plus(text: str, stored: str):
    # Act
    value = field("phone").parse(text, today=TODAY)

    # Assert
    assert value == stored


@pytest.mark.parametrize(
    "text", ["电话13900001234", "1390000abcd", "123", "-13900001234", "139/0000/1234"]
)
def test_phone_with_other_characters_is_refused(text: str):
    # Act
    with pytest.raises(InvalidInput) as refused:
        field("phone").parse(text, today=TODAY)

    # Assert
    assert "联系电话只能包含数字" in str(refused.value)


# --- YES_NO ---


@pytest.mark.parametrize("text", ["是", "有", "Y", "y", "yes", "1", "true"])
def test_yes_is_understood(text: str):
    # Act / Assert
    assert field("work_unit_has_org").parse(text, today=TODAY) is True


@pytest.mark.parametrize("text", ["否", "无", "没有", "N", "n", "no", "0", "false"])
def test_no_is_understood(text: str):
    # Act / Assert
    assert field("work_unit_has_org").parse(text, today=TODAY) is False


def test_neither_yes_nor_no_is_refused():
    # Act
    with pytest.raises(InvalidInput) as refused:
        field("work_unit_has_org").parse("不清楚", today=TODAY)

    # Assert
    assert refused.value.params == {"label": "单位是否建有党组织"}


def test_yes_no_displays_in_chinese():
    # Act / Assert
    assert field("work_unit_has_org").display(True) == "是"
    assert field("work_unit_has_org").display(False) == "否"


# --- display of empty values ---


@pytest.mark.parametrize(
    "key", ["name", "gender", "birth", "last_dues", "work_unit_has_org", "phone"]
)
@pytest.mark.parametrize("value", [None, ""])
def test_empty_value_displays_as_a_dash(key: str, value: object):
    # Act / Assert
    assert field(key).display(value) == "—"


def test_text_displays_as_stored():
    # Act / Assert
    assert field("remarks").display("已电话联系") == "已电话联系"


# --- check_record: rules across fields ---


def test_a_consistent_record_has_no_problems():
    # Arrange
    values = factories.member_values(3)

    # Act
    problems = check_record(values)

    # Assert
    assert problems == []


def test_birth_month_must_agree_with_the_id_number():
    # Arrange
    values = factories.member_values(
        0, id_number=factories.id_number(date(1985, 6, 15)), birth="1985-07", gender="男"
    )

    # Act
    problems = check_record(values)

    # Assert
    assert len(problems) == 1
    assert problems[0].params == {"birth": "1985年7月", "id_birth": "1985年6月15日"}


def test_birth_year_must_agree_with_the_id_number():
    # Arrange
    values = factories.member_values(
        0, id_number=factories.id_number(date(1985, 6, 15)), birth="1986-06", gender="男"
    )

    # Act / Assert
    assert problems_of(values) == ["出生年月{birth}与身份证号中的出生日期{id_birth}不一致。"]


def test_birth_given_to_the_month_agrees_with_any_day_of_that_month():
    # Arrange
    values = factories.member_values(
        0, id_number=factories.id_number(date(1985, 6, 15)), birth="1985-06", gender="男"
    )

    # Act / Assert
    assert check_record(values) == []


def test_full_birth_date_must_agree_to_the_day():
    # Arrange
    number = factories.id_number(date(1985, 6, 15))
    agrees = factories.member_values(0, id_number=number, birth="1985-06-15", gender="男")
    differs = factories.member_values(0, id_number=number, birth="1985-06-16", gender="男")

    # Act / Assert
    assert check_record(agrees) == []
    assert problems_of(differs) == ["出生年月{birth}与身份证号中的出生日期{id_birth}不一致。"]


def test_legacy_15_digit_number_is_checked_against_birth_too():
    # Arrange: 15-digit 410102 850615 003 — born 1985-06-15, a man
    values = factories.member_values(0, id_number="410102850615003", birth="1984-06", gender="男")

    # Act / Assert
    assert problems_of(values) == ["出生年月{birth}与身份证号中的出生日期{id_birth}不一致。"]


@pytest.mark.parametrize(("male", "stated"), [(True, "女"), (False, "男")])
def test_gender_must_agree_with_the_17th_digit(male: bool, stated: str):
    # Arrange
    birth = date(1985, 6, 15)
    values = factories.member_values(
        0, id_number=factories.id_number(birth, male=male), birth="1985-06", gender=stated
    )

    # Act
    problems = problems_of(values)

    # Assert
    assert problems == ["性别与身份证号不一致（身份证号第17位单数为男、双数为女）。"]


def test_without_an_id_number_birth_and_gender_are_not_cross_checked():
    # Arrange
    values = factories.member_values(0, id_number=None, birth="1985-06", gender="女")

    # Act / Assert
    assert check_record(values) == []


def test_an_id_number_that_no_longer_passes_is_listed_not_raised():
    """Regression: a stored number with a wrong check digit made check_record raise
    instead of listing the problem (the sweep lists it as doubtful, SPEC §2a check 1)."""
    # Arrange
    first17 = "41010219850615003"
    wrong = "0" if check_digit(first17) != "0" else "1"
    values = factories.member_values(0, id_number=first17 + wrong, birth="1985-06", gender="男")

    # Act
    problems = check_record(values)

    # Assert
    assert [p.params for p in problems] == [{"expected": check_digit(first17)}]


@pytest.mark.parametrize(("birth", "joined"), [("1985-06", "1985-06"), ("1985-06", "1980-07")])
def test_joined_cannot_be_before_birth(birth: str, joined: str):
    # Arrange
    values = {"birth": birth, "joined": joined}

    # Act / Assert
    assert problems_of(values) == ["入党时间不能早于出生年月。"]


def test_full_member_since_cannot_be_before_joined():
    # Arrange
    values = {
        "birth": "1985-06",
        "joined": "2010-07",
        "full_member_since": "2010-06",
        "member_type": "正式",
    }

    # Act / Assert
    assert problems_of(values) == ["转正时间不能早于入党时间。"]


def test_full_member_a_year_after_joining_is_fine():
    # Arrange
    values = {
        "birth": "1985-06",
        "joined": "2010-07",
        "full_member_since": "2011-07",
        "member_type": "正式",
    }

    # Act / Assert
    assert check_record(values) == []


def test_probationary_member_cannot_have_a_full_membership_date():
    """A 预备党员 has no 转正时间 yet; once it is set, the 党员类别 should read 正式."""
    # Arrange
    values = {
        "birth": "1985-06",
        "joined": "2023-07",
        "full_member_since": "2024-07",
        "member_type": MemberType.PROBATIONARY.value,
    }

    # Act / Assert
    assert problems_of(values) == ["预备党员还没有转正时间；已转正请把党员类别改为正式党员。"]


def test_probationary_member_without_full_membership_date_is_fine():
    # Arrange
    values = {"birth": "1985-06", "joined": "2023-07", "member_type": MemberType.PROBATIONARY.value}

    # Act / Assert
    assert check_record(values) == []


def test_receipt_without_a_letter_is_a_problem():
    """SPEC §2 transfer fields (the 回执 that decides R-POCKET later)."""
    # Arrange
    values = {"transfer_receipt_date": date(2020, 3, 1)}

    # Act / Assert
    assert problems_of(values) == ["有回执收到日期，却没有介绍信开出日期。"]


def test_receipt_before_the_letter_is_a_problem():
    # Arrange
    values = {"transfer_letter_date": date(2020, 3, 1), "transfer_receipt_date": date(2020, 2, 28)}

    # Act / Assert
    assert problems_of(values) == ["回执收到日期不能早于介绍信开出日期。"]


def test_receipt_on_or_after_the_letter_is_fine():
    # Arrange
    same_day = {"transfer_letter_date": date(2020, 3, 1), "transfer_receipt_date": date(2020, 3, 1)}
    later = {"transfer_letter_date": date(2020, 3, 1), "transfer_receipt_date": date(2020, 4, 1)}
    letter_only = {"transfer_letter_date": date(2020, 3, 1)}

    # Act / Assert
    assert check_record(same_day) == []
    assert check_record(later) == []
    assert check_record(letter_only) == []


def test_every_problem_is_listed_not_only_the_first():
    # Arrange
    values = {
        "id_number": factories.id_number(date(1985, 6, 15), male=True),
        "gender": "女",
        "birth": "1990-01",
        "joined": "1989-07",
        "full_member_since": "1989-01",
        "member_type": "预备",
        "transfer_receipt_date": date(2020, 3, 1),
    }

    # Act
    problems = problems_of(values)

    # Assert
    assert len(problems) == 6


def test_an_empty_record_has_nothing_to_disagree():
    # Act / Assert
    assert check_record({}) == []
