"""The member's 出国（境）情况 (seed 001 附件1 note 7) without a database: the
six fields' words and dates, 回国日期 not before 出国日期, the card's block and
edit buttons, the roster template's columns read back, and being abroad as
the dispositions see it (R-ABROAD-RETAIN)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from python_calamine import CalamineWorkbook

from bot.i18n import build_i18n
from domain.abroad import (
    AbroadContact,
    AbroadPartyStatus,
    AbroadReason,
    OrgLifeRestored,
    is_abroad,
    returned_before_leaving,
)
from domain.dispositions import CaseFacts, Outcome, RetainLength, SearchState, refusal
from domain.errors import InvalidInput
from domain.member_fields import ABROAD_FIELDS, ABROAD_GROUP, FIELD_BY_KEY, check_record
from domain.roster import find_header, parse_rows
from handlers.member_view import MemberAction, card_text, fields_keyboard
from reports.forms.roster import template_workbook
from storage.models import Member
from tests import factories

TODAY = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def zh():
    with build_i18n().context():
        yield


def labels(codes: type) -> list[str]:
    return [c.label for c in codes]


def test_the_choices_are_the_notes_words_seed_001_attachment_1_note_7() -> None:
    assert labels(AbroadReason) == ["因私", "因公", "留学", "外派", "探亲", "定居"]
    assert labels(AbroadContact) == ["定期", "不定期", "失去联系"]
    assert labels(OrgLifeRestored) == ["已恢复", "已申请未恢复", "未申请"]
    # 保留党籍 for the lengths the dispositions know (R-ABROAD-RETAIN), 未办理, 停止党籍.
    assert labels(AbroadPartyStatus) == [
        *("保留党籍" + r.label for r in RetainLength),
        "未办理",
        "停止党籍",
    ]
    # Stored as the words themselves, and they fit migration 0011's columns.
    widths = {
        "abroad_reason": 10,
        "abroad_contact": 10,
        "abroad_party_status": 12,
        "org_life_restored": 10,
    }
    for key, width in widths.items():
        spec = FIELD_BY_KEY[key]
        assert spec.choices is not None
        assert all(c.value == c.label and len(c.value) <= width for c in spec.choices)


def test_the_block_is_six_fields_none_asked_by_add() -> None:
    assert [s.key for s in ABROAD_FIELDS] == [
        "abroad_date",
        "abroad_reason",
        "abroad_contact",
        "abroad_party_status",
        "return_date",
        "org_life_restored",
    ]
    assert all(not s.required and not s.ask_on_add for s in ABROAD_FIELDS)


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("abroad_reason", "旅游"),
        ("abroad_contact", "偶尔"),
        ("abroad_party_status", "保留党籍五年"),
        ("org_life_restored", "恢复了"),
    ],
)
def test_only_the_listed_words_are_taken(key: str, text: str) -> None:
    spec = FIELD_BY_KEY[key]
    with pytest.raises(InvalidInput) as refused:
        spec.parse(text, today=TODAY)
    said = refused.value.render()
    assert spec.label in said and "、".join(labels(spec.choices)) in said  # type: ignore[arg-type]


def test_the_listed_words_are_stored_as_they_are() -> None:
    assert FIELD_BY_KEY["abroad_reason"].parse(" 留学 ", today=TODAY) == "留学"
    assert FIELD_BY_KEY["abroad_party_status"].parse("保留党籍三年以上", today=TODAY) == (
        "保留党籍三年以上"
    )
    assert FIELD_BY_KEY["org_life_restored"].parse("", today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "stored", "shown"),
    [
        ("2024年3月", "2024-03", "2024年3月"),
        ("2024.3.10", "2024-03-10", "2024年3月10日"),
        ("２０２４／０３／１０", "2024-03-10", "2024年3月10日"),
    ],
)
def test_the_dates_are_partial_dates_through_the_one_parser(
    text: str, stored: str, shown: str
) -> None:
    for key in ("abroad_date", "return_date"):
        spec = FIELD_BY_KEY[key]
        assert spec.parse(text, today=TODAY) == stored
        assert spec.display(stored) == shown


@pytest.mark.parametrize(("text", "says"), [("2027-01-05", "将来"), ("去年春天", "看不懂")])
def test_a_future_or_unreadable_date_is_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        FIELD_BY_KEY["abroad_date"].parse(text, today=TODAY)
    assert says in refused.value.render()


@pytest.mark.parametrize(
    ("out", "back", "refused"),
    [
        ("2024-03-10", "2024-03-09", True),
        ("2024-03-10", "2024-03-10", False),
        ("2024-03", "2024-02-28", True),
        ("2024-03-10", "2024-03", False),  # the same month: may be after the 10th
        ("2024-03", "2024-03-01", False),
        ("2024-03", "2023-12", True),
        (None, "2020-01", False),
        ("2024-03", None, False),
    ],
)
def test_return_is_not_before_leaving(out: str | None, back: str | None, refused: bool) -> None:
    assert returned_before_leaving(out, back) is refused
    problems = check_record({"abroad_date": out, "return_date": back})
    assert [p.render() for p in problems] == (["回国日期不能早于出国日期。"] if refused else [])


def test_abroad_means_left_and_not_back() -> None:
    assert is_abroad("2024-03", None)
    assert not is_abroad("2024-03", "2025-01-02")
    assert not is_abroad(None, None)
    assert not is_abroad("", None)


def test_retention_abroad_follows_the_abroad_fact_R_ABROAD_RETAIN() -> None:
    """补办保留组织关系 is offered to a reached member abroad, refused otherwise
    with both ways of knowing it named."""
    abroad = CaseFacts(search=SearchState.REACHED, probationary=False, today=TODAY, abroad=True)
    home = CaseFacts(search=SearchState.REACHED, probationary=False, today=TODAY)
    assert refusal(Outcome.RETAIN_ABROAD, abroad) is None
    said = refusal(Outcome.RETAIN_ABROAD, home)
    assert said is not None and "出国日期" in said.render() and "出国（境）" in said.render()


# ---------------------------------------------------------------- the card


def member(**values: object) -> Member:
    person = Member(id=7, branch_id=3, **factories.member_values(2))
    for key, value in values.items():
        setattr(person, key, value)
    return person


def test_the_card_shows_no_block_for_a_member_never_abroad() -> None:
    text = card_text(member(), "第一测试党支部")
    assert ABROAD_GROUP not in text and "出国日期" not in text


def test_the_card_shows_the_filled_items_under_the_block() -> None:
    text = card_text(
        member(abroad_date="2024-03", abroad_reason="留学", abroad_party_status="保留党籍二年"),
        "第一测试党支部",
    )
    lines = text.splitlines()
    head = lines.index("出国（境）情况：")
    assert lines[head + 1 : head + 4] == [
        "· 出国日期：2024年3月",
        "· 出国原因：留学",
        "· 党籍处理方式：保留党籍二年",
    ]
    assert "回国日期" not in text and "出国后与组织联系情况" not in text
    missing = next(line for line in lines if line.startswith("未填写"))
    assert "出国" not in missing and "回国" not in missing  # the block is never asked for


def test_the_edit_keyboard_has_a_button_for_each_item_of_the_block() -> None:
    keyboard = fields_keyboard(7)
    buttons = [b for row in keyboard.inline_keyboard for b in row]
    by_text = {b.text: b.callback_data for b in buttons}
    for spec in ABROAD_FIELDS:
        data = by_text[spec.label]
        assert data is not None and len(data.encode()) <= 64
        assert MemberAction.unpack(data) == MemberAction(action="field", member_id=7, arg=spec.key)
    abroad_rows = [
        row for row in keyboard.inline_keyboard if row[0].text in {s.label for s in ABROAD_FIELDS}
    ]
    assert len(abroad_rows) == 3 and all(len(row) == 2 for row in abroad_rows)


# ---------------------------------------------------------------- the roster template


def test_the_template_groups_the_block_and_reads_it_back_as_optional_columns() -> None:
    data = template_workbook("第一测试党支部", TODAY)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    group_row = next(r for r in rows if "出国（境）情况" in r)
    start = group_row.index("出国（境）情况")
    header = rows[rows.index(group_row) + 1]
    assert header[start : start + 6] == [s.label for s in ABROAD_FIELDS]

    person = factories.member_values(4)
    head = ["姓名", "性别", "出生年月", "入党时间", "党员类别", "身份证号"]
    base = [person["name"], person["gender"], person["birth"], person["joined"], "正式党员"]
    base.append(person["id_number"])
    abroad = ["2024.3.10", "探亲", "不定期", "未办理", "2024年5月", "已申请未恢复"]
    mapped = find_header([head + [s.label for s in ABROAD_FIELDS]])
    parsed = parse_rows([(2, base + abroad)], mapped, today=TODAY)
    assert parsed.errors == []
    values = parsed.rows[0].values
    assert {k: values[k] for k in (s.key for s in ABROAD_FIELDS)} == {
        "abroad_date": "2024-03-10",
        "abroad_reason": "探亲",
        "abroad_contact": "不定期",
        "abroad_party_status": "未办理",
        "return_date": "2024-05",
        "org_life_restored": "已申请未恢复",
    }
    # Without the columns (an older register) the import reads as before.
    assert find_header([head]).fields


def test_a_roster_row_back_before_leaving_is_a_row_error() -> None:
    person = factories.member_values(5)
    head = ["姓名", "性别", "出生年月", "入党时间", "党员类别", "身份证号", "出国日期", "回国日期"]
    row = [person["name"], person["gender"], person["birth"], person["joined"], "正式党员"]
    row += [person["id_number"], "2024-05-02", "2024-05-01"]
    parsed = parse_rows([(2, row)], find_header([head]), today=TODAY)
    assert parsed.rows == [] and "回国日期不能早于出国日期" in parsed.errors[0].message
