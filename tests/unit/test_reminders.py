"""What is due and when reminders are owed (R-REMIND, issue 14 points 3–4):
each template stage's items, the offsets a campaign may set, and which offset
a reminder is owed for on a given day — across month ends and leap days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.campaigns import (
    DEFAULT_OFFSETS,
    TEMPLATES,
    Direction,
    Item,
    Stage,
    TemplateKey,
    days_left,
    escalation_offset,
    format_offsets,
    offsets_of,
    owed_items,
    parse_offsets,
    reminder_offset,
    stages_for,
)
from domain.errors import InvalidInput

# --- items: what each stage names as due ---


def test_every_stage_that_owes_something_names_its_items_and_internal_ones_none():
    for template, stages in TEMPLATES.items():
        for s in stages:
            if s.direction is Direction.internal:
                assert s.items == (), (template, s.key)
            else:
                assert s.items, (template, s.key)
                titles = [i.title for i in s.items]
                assert len(titles) == len(set(titles)), (template, s.key)


def test_school_registers_are_four_forms_owed_by_each_branch_seed_000():
    registers = {s.key: s for s in stages_for(TemplateKey.school_2016, 2026)}["registers"]
    assert registers.direction is Direction.branch_to_committee
    assert [i.form for i in owed_items(registers)] == [
        "found_register",
        "unreachable_register",
        "mobile_register",
        "pocket_register",
    ]
    assert "附件7" in owed_items(registers)[-1].title


def test_a_stage_without_named_items_owes_one_item_named_as_the_stage():
    added = Stage(
        key="extra1",
        title="补充材料",
        starts=None,
        due=date(2026, 5, 10),
        what="",
        direction=Direction.branch_to_committee,
    )
    assert owed_items(added) == (Item("补充材料"),)
    internal = Stage(
        key="x",
        title="安排",
        starts=None,
        due=date(2026, 5, 10),
        what="",
        direction=Direction.internal,
    )
    assert owed_items(internal) == ()


# --- offsets per campaign ---


@pytest.mark.parametrize(
    "text", ["7 3 1 0", "7,3,1,0", "7、3、1、0", "0 1 3 7", " 7，3；1 0 7 ", "7/3/1/0"]
)
def test_offsets_are_typed_in_any_order_and_kept_largest_first_R_REMIND(text):
    assert parse_offsets(text) == (7, 3, 1, 0)
    assert format_offsets(parse_offsets(text)) == "7,3,1,0"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "例如"),
        ("七 三", "不是天数"),
        ("7 -1", "不是天数"),
        ("3.5", "不是天数"),
        ("90", "最多提前60天"),
        ("9 8 7 6 5 4 3 2 1", "最多设置8个"),
    ],
)
def test_bad_offsets_are_refused_in_chinese_R_REMIND(text, says):
    with pytest.raises(InvalidInput) as refused:
        parse_offsets(text)
    assert says in refused.value.render()


def test_a_campaign_without_offsets_uses_the_default_7_3_1_0_R_REMIND():
    assert offsets_of(None) == DEFAULT_OFFSETS == (7, 3, 1, 0)
    assert offsets_of("14,7") == (14, 7)
    assert offsets_of("garbage") == DEFAULT_OFFSETS
    # The longest setting still fits the column (String(32)).
    assert len(format_offsets(range(53, 61))) <= 32


# --- which reminder is owed today ---


def test_a_reminder_is_owed_on_each_offset_day_R_REMIND():
    owed = {left: reminder_offset(left, DEFAULT_OFFSETS) for left in range(-3, 12)}
    assert owed[7] == 7 and owed[3] == 3 and owed[1] == 1 and owed[0] == 0
    assert owed[8] is None and owed[11] is None
    assert owed[-1] is None and owed[-3] is None  # the deadline passed: nothing stale


def test_after_downtime_one_reminder_catches_up_with_the_real_days_left_R_REMIND():
    # Down on the 7-day and 3-day mornings, back with 2 days left: the 3-day
    # reminder is still owed (and says 2 days), the 7-day one is not.
    assert reminder_offset(2, DEFAULT_OFFSETS) == 3
    assert reminder_offset(5, DEFAULT_OFFSETS) == 7
    assert reminder_offset(4, (14, 7, 1)) == 7


def test_no_offsets_means_no_reminders_R_REMIND():
    assert reminder_offset(0, ()) is None


@pytest.mark.parametrize(
    ("due", "first"),
    [
        (date(2026, 3, 2), date(2026, 2, 23)),  # across February's end
        (date(2028, 3, 1), date(2028, 2, 23)),  # leap year: 29 February counts
        (date(2028, 2, 29), date(2028, 2, 22)),  # the leap day itself
        (date(2027, 1, 3), date(2026, 12, 27)),  # across the year's end
    ],
)
def test_reminder_days_across_month_ends_and_leap_days_R_REMIND(due, first):
    owed = {}
    day = due - timedelta(days=10)
    while day <= due + timedelta(days=2):
        offset = reminder_offset(days_left(due, day), DEFAULT_OFFSETS)
        if offset is not None:
            owed.setdefault(offset, day)
        day += timedelta(days=1)
    assert owed == {
        7: first,
        3: due - timedelta(days=3),
        1: due - timedelta(days=1),
        0: due,
    }


def test_escalation_three_days_before_and_the_day_after_R_REMIND():
    assert [escalation_offset(n) for n in (5, 4, 3, 2, 1, 0, -1, -2)] == [
        None,
        None,
        3,
        3,
        3,
        3,
        -1,
        None,
    ]
