"""Importing a filled-in 党员名册 (storage/services/roster_import.py) on SQLite
and PostgreSQL: the template round trip, upserts by 身份证号 with audit events,
all-or-nothing on bad rows, refused files, and R-ACL-BRANCH."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from domain.errors import InvalidInput
from domain.idcard import parse_id_number
from domain.member_fields import FIELDS
from reports.forms.roster import ERROR_COLUMN, template_workbook
from storage import crypto
from storage.models import AuditEvent, FamilyMember, Member, Organisation
from storage.services import categories
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.roster_import import import_roster
from tests import factories
from tests.conftest import both_backends

TODAY = date(2024, 6, 10)
COLUMN = {f.key: i for i, f in enumerate(FIELDS)}  # template column order
FIRST_ROW = 7  # the template: title, 2 header-block lines, 2 header rows, the sample row


@dataclass
class Place:
    branch: int
    other_branch: int
    secretary: Actor


@pytest.fixture
async def place(session) -> Place:
    committee = Organisation(name="示例党委", kind="committee")
    session.add(committee)
    await session.flush()
    branch = Organisation(name="示例第一党支部", kind="branch", parent_id=committee.id)
    other = Organisation(name="示例第二党支部", kind="branch", parent_id=committee.id)
    session.add_all([branch, other])
    await session.commit()
    return Place(
        branch.id, other.id, Actor(user_id=501, grants=(Grant(Role.SECRETARY, branch.id),))
    )


_MEMBERS: dict[int, dict[str, object]] = {}


def member(i: int) -> dict[str, object]:
    """Invented member ``i``, the same ID number every time it is asked for."""
    return _MEMBERS.setdefault(i, factories.member_values(i, phone=factories.phone(i)))


def filled_template(*rows: dict[str, object]) -> bytes:
    """The real template, filled in with openpyxl as a secretary would in Excel."""
    book = load_workbook(io.BytesIO(template_workbook("示例第一党支部", TODAY)))
    sheet = book.worksheets[0]
    for offset, values in enumerate(rows):
        for key, value in values.items():
            sheet.cell(row=FIRST_ROW + offset, column=COLUMN[key] + 1, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def counts(session) -> tuple[int, int]:
    members = await session.scalar(select(func.count()).select_from(Member))
    events = await session.scalar(select(func.count()).select_from(AuditEvent))
    await session.rollback()
    return members, events


async def run(session, place: Place, data: bytes, **kw):  # type: ignore[no-untyped-def]
    return await import_roster(session, place.secretary, place.branch, data, today=TODAY, **kw)


@both_backends
async def test_filled_template_creates_members_each_with_a_create_audit_event(session, place):
    # Arrange
    data = filled_template(member(0), member(1), member(2))

    # Act
    result = await run(session, place, data)

    # Assert
    assert (result.created, result.updated, result.unchanged, result.error_count) == (3, 0, 0, 0)
    assert result.sample_skipped and result.error_workbook is None
    stored = (await session.scalars(select(Member).order_by(Member.name))).all()
    assert sorted(m.id_number for m in stored) == sorted(member(i)["id_number"] for i in range(3))
    assert all(m.branch_id == place.branch and m.member_type == "正式" for m in stored)
    events = (await session.scalars(select(AuditEvent))).all()
    assert sorted(e.member_id for e in events) == sorted(m.id for m in stored)
    assert {(e.entity, e.action, e.actor_id, e.org_id) for e in events} == {
        ("member", "create", 501, place.branch)
    }


@both_backends
async def test_importing_the_same_file_again_creates_and_updates_nothing(session, place):
    # Arrange: one member without an ID number, matched by name and birth month
    data = filled_template(member(0), {**member(1), "id_number": None})
    await run(session, place, data)

    # Act
    again = await run(session, place, data)

    # Assert
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert await counts(session) == (2, 2)


@both_backends
async def test_a_changed_phone_updates_one_member_and_audits_old_and_new(session, place):
    # Arrange
    await run(session, place, filled_template(member(0), member(1)))

    # Act
    result = await run(
        session, place, filled_template(member(0), {**member(1), "phone": "13900008888"})
    )

    # Assert
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    changed = await session.scalar(
        select(Member).where(Member.id_number_hmac == crypto.id_hmac(member(1)["id_number"]))
    )
    assert changed.phone == "13900008888"
    (event,) = (
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "update"))
    ).all()
    assert (event.entity, event.field, event.old_value, event.new_value) == (
        "member", "phone", factories.phone(1), "13900008888",
    )  # fmt: skip
    assert event.member_id == changed.id and event.actor_id == 501


@both_backends
async def test_a_blank_cell_keeps_the_stored_value(session, place):
    # Arrange
    await run(session, place, filled_template(member(0)))

    # Act
    result = await run(session, place, filled_template({**member(0), "phone": None}))

    # Assert
    assert result.unchanged == 1
    assert await session.scalar(select(Member.phone)) == factories.phone(0)


@both_backends
async def test_one_bad_row_imports_nothing_and_names_the_row_and_column(session, place):
    # Arrange: the third member's ID number has a wrong check digit
    good = str(member(2)["id_number"])
    bad = {**member(2), "id_number": good[:17] + ("0" if good[-1] != "0" else "1")}

    # Act
    result = await run(session, place, filled_template(member(0), member(1), bad))

    # Assert
    assert (result.created, result.error_count) == (0, 1)
    (error,) = result.errors
    assert (error.row, error.column) == (FIRST_ROW + 2, "身份证号") and "校验位" in error.message
    assert await counts(session) == (0, 0)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(result.error_workbook)).get_sheet_by_index(0)
    rows = sheet.to_python(skip_empty_area=False)
    header = rows[FIRST_ROW - 3]
    assert header[-1] == ERROR_COLUMN
    assert rows[FIRST_ROW + 1][0] == member(2)["name"]  # same row number as in the upload
    assert "校验位" in rows[FIRST_ROW + 1][-1] and rows[FIRST_ROW - 1][-1] == ""


def _not_a_workbook_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    return out.getvalue()


def _empty_template() -> bytes:
    return template_workbook("示例第一党支部", TODAY)


def _no_header() -> bytes:
    book = Workbook()
    book.active.append(["张测一", "男"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _stray_value(cell: str) -> bytes:
    """The template with a member, and one stray value far away (a slip of Ctrl+↓)."""
    book = load_workbook(io.BytesIO(filled_template(member(0))))
    book.worksheets[0][cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip_bomb() -> bytes:
    """The template with a part of zeros that inflates 1,000 times: 2 MB
    unzipped from a few KB, over the 40× allowed at the test's max_bytes."""
    source = zipfile.ZipFile(io.BytesIO(filled_template(member(0))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info.filename))
        archive.writestr("xl/media/padding.bin", b"\0" * 2_000_000)
    return out.getvalue()


REFUSED = {
    "not_xlsx": (lambda: "姓名,性别\n".encode(), {}, ".xlsx"),
    "old_xls": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, {}, ".xls"),
    "corrupt": (lambda: filled_template(member(0))[:3000], {}, "损坏"),
    "zip_not_excel": (_not_a_workbook_zip, {}, ".xlsx"),
    "too_large": (lambda: filled_template(member(0)), {"max_bytes": 1000}, "文件太大"),
    "too_many_rows": (
        lambda: filled_template(member(0), member(1), member(2)),
        {"max_rows": 2},
        "最多导入2行",
    ),
    "zip_bomb": (_zip_bomb, {"max_bytes": 40_000}, "解压后有1.9MB，超过了0.5MB的上限"),
    "no_data_rows": (_empty_template, {}, "没有要导入的党员"),
    "no_header": (_no_header, {}, "表头"),
    "stray_far_below": (lambda: _stray_value("A200000"), {}, "第200000行还有内容"),
    "stray_far_right": (lambda: _stray_value("XFD7"), {}, "第XFD列还有内容"),
}


@both_backends
@pytest.mark.parametrize("case", REFUSED)
async def test_refused_files_say_why_and_change_nothing(session, place, case):
    # Arrange
    await run(session, place, filled_template(member(5)))
    before = await counts(session)
    make, options, says = REFUSED[case]

    # Act
    with pytest.raises(InvalidInput) as refused:
        await run(session, place, make(), **options)

    # Assert
    assert says in refused.value.render()
    assert await counts(session) == before


@both_backends
async def test_import_into_a_branch_the_secretary_does_not_hold_is_denied_R_ACL_BRANCH(
    session, place
):
    # Act
    with pytest.raises(AccessDenied):
        await import_roster(
            session, place.secretary, place.other_branch, filled_template(member(0)), today=TODAY
        )

    # Assert
    assert await counts(session) == (0, 0)


@both_backends
async def test_an_id_number_registered_in_another_branch_is_a_row_error_that_names_no_branch_R_ACL_BRANCH(
    session, place
):
    # Arrange: the other branch's secretary registered member 3
    other = Place(
        place.other_branch, place.branch, Actor(502, (Grant(Role.SECRETARY, place.other_branch),))
    )
    await run(session, other, filled_template(member(3)))

    # Act
    result = await run(session, place, filled_template(member(0), member(3)))

    # Assert
    (error,) = result.errors
    assert (error.row, error.column) == (FIRST_ROW + 1, "身份证号")
    assert "该身份证号已登记在其他党支部" in error.message and "第二" not in error.message
    assert result.created == 0 and await counts(session) == (1, 1)


@both_backends
async def test_progress_is_reported_up_to_the_total(session, place):
    # Arrange
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    # Act
    await run(session, place, filled_template(*(member(i) for i in range(6))), progress=progress)

    # Assert
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@both_backends
async def test_a_row_with_an_id_number_completes_the_member_imported_without_one(session, place):
    # Arrange: first imported without an ID number
    await run(session, place, filled_template({**member(0), "id_number": None}))

    # Act
    result = await run(session, place, filled_template(member(0)))

    # Assert: matched by name and birth month, not created twice
    assert (result.created, result.updated) == (0, 1)
    assert await session.scalar(select(Member.id_number)) == member(0)["id_number"]
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "update"))
    assert (event.field, event.old_value, event.new_value) == (
        "id_number",
        None,
        member(0)["id_number"],
    )


@both_backends
async def test_an_id_number_excel_stored_as_a_number_is_refused_with_the_text_format_hint(
    session, place
):
    # Arrange: typed into a number cell, Excel keeps only 15 significant digits
    data = filled_template({**member(0), "id_number": float(str(member(0)["id_number"])[:17])})

    # Act
    result = await run(session, place, data)

    # Assert
    (error,) = result.errors
    assert (error.row, error.column) == (FIRST_ROW, "身份证号") and "文本" in error.message
    assert await counts(session) == (0, 0)


@both_backends
async def test_the_error_workbook_once_fixed_imports_as_it_is(session, place):
    # Arrange: a refused upload, then the secretary fixes the cell the message names
    bad = {**member(1), "phone": "电话待补"}
    refused = await run(session, place, filled_template(member(0), bad))
    (error,) = refused.errors
    book = load_workbook(io.BytesIO(refused.error_workbook))
    book.worksheets[0].cell(row=error.row, column=COLUMN["phone"] + 1, value="13900007777")
    fixed = io.BytesIO()
    book.save(fixed)

    # Act
    result = await run(session, place, fixed.getvalue())

    # Assert
    assert (result.created, result.error_count, result.unknown_columns) == (2, 0, ())
    assert await session.scalar(select(Member.phone).where(Member.name == bad["name"])) == (
        "13900007777"
    )


@both_backends
async def test_row_numbers_are_the_sheets_own_when_the_table_starts_lower_and_to_the_right(
    session, place
):
    # Arrange: two blank rows and a blank column before the table
    book = Workbook()
    sheet = book.active
    labels = ["姓名", "性别", "出生年月", "入党时间", "党员类别", "身份证号"]
    for c, label in enumerate(labels, 2):
        sheet.cell(row=3, column=c, value=label)
    for r, i in ((4, 0), (5, 1)):
        v = member(i)
        for c, key in enumerate(
            ["name", "gender", "birth", "joined", "member_type", "id_number"], 2
        ):
            sheet.cell(row=r, column=c, value=v[key])
    sheet.cell(row=5, column=4, value="1900-13")  # a month that does not exist
    out = io.BytesIO()
    book.save(out)

    # Act
    result = await run(session, place, out.getvalue())

    # Assert
    (error,) = result.errors
    assert (error.row, error.column) == (5, "出生年月") and "没有13月" in error.message


FAMILY_FIRST_ROW = 6  # 家庭成员 sheet: title, 2 header-block lines, the header, the sample row


def with_family(members: list[dict[str, object]], relatives: list[tuple]) -> bytes:
    """The template with register rows and 家庭成员 rows (党员姓名, 党员身份证号, 称谓, 姓名, 工作单位, 电话)."""
    book = load_workbook(io.BytesIO(filled_template(*members)))
    sheet = book["家庭成员"]
    for offset, values in enumerate(relatives):
        for column, value in enumerate(values, 1):
            sheet.cell(row=FAMILY_FIRST_ROW + offset, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@both_backends
async def test_the_family_sheet_is_imported_with_the_register_and_replaces_on_reimport(
    session, place
):
    """家庭主要成员 (issue 8): rows tied by 党员身份证号 or by a unique 党员姓名."""
    one, two = member(1), member(2)
    data = with_family(
        [one, two],
        [
            (one["name"], one["id_number"], "配偶", "李示例", "示例公司", "13900005555"),
            (one["name"], None, "父亲", "王示例", None, None),
            (two["name"], None, "子女", "赵小示", None, None),
        ],
    )
    result = await run(session, place, data)
    assert result.saved and result.created == 2 and result.family_changed == 2
    rows = list(await session.scalars(select(FamilyMember).order_by(FamilyMember.id)))
    assert [(r.relation, r.name) for r in rows] == [
        ("配偶", "李示例"),
        ("父亲", "王示例"),
        ("子女", "赵小示"),
    ]
    await session.rollback()
    again = await run(
        session, place, with_family([one], [(one["name"], None, "配偶", "李示例", None, None)])
    )
    assert again.saved and again.family_changed == 1
    names = list(await session.scalars(select(FamilyMember.name).order_by(FamilyMember.id)))
    assert names == ["赵小示", "李示例"]  # member 1's rows replaced, member 2's kept
    await session.rollback()


@both_backends
async def test_a_bad_family_row_refuses_the_whole_file(session, place):
    one = member(3)
    before = await counts(session)
    data = with_family(
        [one],
        [
            (one["name"], None, "配偶", "李示例", None, "12ab"),
            ("查无此人", None, "父亲", "王示例", None, None),
            (one["name"], None, "表舅", "周示例", None, None),
        ],
    )
    result = await run(session, place, data)
    assert not result.saved and result.error_count == 3
    where = [(e.row, e.column) for e in result.errors]
    assert where == [
        (FAMILY_FIRST_ROW, "家庭成员·联系电话"),
        (FAMILY_FIRST_ROW + 1, "家庭成员·党员姓名"),
        (FAMILY_FIRST_ROW + 2, "家庭成员·称谓"),
    ]
    assert "没有叫“查无此人”的党员" in result.errors[1].message
    assert await counts(session) == before  # nothing saved, the register row neither


@both_backends
async def test_a_category_not_on_the_committees_list_is_refused_by_row(session, place):
    committee = (await session.get(Organisation, place.branch)).parent_id
    await session.rollback()
    staff = Actor(user_id=502, grants=(Grant(Role.COMMITTEE, committee),))
    await categories.add(session, staff, committee, "教职工", "学生")
    result = await run(
        session,
        place,
        filled_template({**member(4), "category": "离退休"}, {**member(5), "category": "学生"}),
    )
    assert not result.saved
    [error] = result.errors
    assert (error.row, error.column) == (FIRST_ROW, "人员类别") and "教职工、学生" in error.message
    ok = await run(session, place, filled_template({**member(4), "category": "教职工"}))
    assert ok.saved and ok.created == 1


@both_backends
async def test_a_legacy_15_digit_number_updates_the_member_with_its_18_digit_form(session, place):
    """SPEC §2: unique per deployment, whichever form the file uses."""
    one = member(6)
    await run(session, place, filled_template(one))
    legacy = parse_id_number(str(one["id_number"])).equivalents[1]
    result = await run(
        session, place, filled_template({**one, "id_number": legacy, "ethnicity": "回族"})
    )
    assert result.saved and (result.created, result.updated) == (0, 1)
    stored = (await session.scalars(select(Member).where(Member.name == one["name"]))).one()
    assert stored.id_number == one["id_number"] and stored.ethnicity == "回族"
    await session.rollback()
