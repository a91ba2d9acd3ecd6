"""The member's 出国（境）情况 (seed 001 附件1 note 7) on SQLite and PostgreSQL:
edits through the audited update path (a refused one changes nothing), the
党员基本信息表 filled from the record and read back with openpyxl and
python-calamine, the roster import taking the block's columns, and the
dispositions' "abroad" read from the record (R-ABROAD-RETAIN)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from bot.demo import COMMITTEE, seed_demo
from domain.dispositions import Outcome, Status, Step
from domain.errors import InvalidInput
from domain.member_fields import FIELDS
from reports.forms.roster import template_workbook
from storage.db import write_tx
from storage.models import AuditEvent, Member, Organisation, User
from storage.services import dispositions as cases
from storage.services import exports, members, outcomes
from storage.services.access import Actor, Grant, Role
from storage.services.roster_import import import_roster
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
ABROAD = {
    "abroad_date": "2024-03-10",
    "abroad_reason": "外派",
    "abroad_contact": "不定期",
    "abroad_party_status": "保留党籍二年",
}


@pytest.fixture
async def place(session):  # type: ignore[no-untyped-def]
    ids = await org_tree(session, {"示例党委": ("一支部",)})
    async with write_tx(session):
        session.add(User(id=101, full_name="孙书记"))
    secretary = Actor(101, (Grant(Role.SECRETARY, ids["一支部"]),))
    person = await members.add_member(
        session, secretary, ids["一支部"], member_values(11, last_org_life=date(2023, 6, 1))
    )
    return ids["一支部"], secretary, person.id


async def _updates(session, member_id: int) -> dict[str, tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    rows = await session.scalars(
        select(AuditEvent).where(AuditEvent.member_id == member_id, AuditEvent.action == "update")
    )
    return {e.field: (e.old_value, e.new_value) for e in rows}


@both_backends
async def test_the_block_is_edited_through_the_audited_update(session, place):
    _branch, secretary, member_id = place
    await members.update_fields(session, secretary, member_id, ABROAD, today=TODAY)
    stored = await session.get(Member, member_id)
    assert {k: getattr(stored, k) for k in ABROAD} == ABROAD
    assert await _updates(session, member_id) == {k: (None, v) for k, v in ABROAD.items()}


@both_backends
async def test_a_return_before_leaving_is_refused_and_changes_nothing(session, place):
    _branch, secretary, member_id = place
    await members.update_fields(session, secretary, member_id, {"abroad_date": "2024-03-10"})
    before = await session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(InvalidInput, match="回国日期不能早于出国日期"):
        await members.update_fields(session, secretary, member_id, {"return_date": "2024-02"})
    await session.rollback()
    stored = await session.get(Member, member_id)
    assert stored.return_date is None
    assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before
    # The same month is accepted: a month-only 回国日期 may be after the 10th.
    await members.update_fields(session, secretary, member_id, {"return_date": "2024-03"})
    assert (await session.get(Member, member_id)).return_date == "2024-03"


@both_backends
async def test_member_info_form_carries_the_block_seed_001_attachment_1(session, place):
    _branch, secretary, member_id = place
    changes = {**ABROAD, "return_date": "2026-07", "org_life_restored": "已恢复"}
    await members.update_fields(session, secretary, member_id, changes)

    async def inline(job):  # type: ignore[no-untyped-def]
        return job.render(*job.args)

    done = await exports.export_form(
        session,
        secretary,
        "member_info",
        member_id=member_id,
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=inline,
    )
    want = {
        "出国日期": "2024年3月10日",
        "出国原因": "外派",
        "出国后与组织联系情况": "不定期",
        "党籍处理方式": "保留党籍二年",
        "回国日期": "2026年7月",
        "恢复组织生活情况": "已恢复",
    }
    by_calamine = CalamineWorkbook.from_filelike(io.BytesIO(done.content))
    by_openpyxl = load_workbook(io.BytesIO(done.content)).active
    for rows in (
        by_calamine.get_sheet_by_index(0).to_python(),
        [list(r) for r in by_openpyxl.iter_rows(values_only=True)],
    ):
        flat = [c for r in rows for c in r]
        assert {label: flat[flat.index(label) + 1] for label in want} == want


@both_backends
async def test_the_roster_import_takes_the_block_columns_and_audits_them(session, place):
    branch, secretary, member_id = place
    stored = await session.get(Member, member_id)
    column = {f.key: i + 1 for i, f in enumerate(FIELDS)}
    book = load_workbook(io.BytesIO(template_workbook("一支部", TODAY)))
    sheet = book.worksheets[0]
    first = 7  # title, 2 header-block lines, the group and label rows, the sample row
    row = {
        **member_values(11),
        "member_type": "正式党员",
        "abroad_date": "2024.3.10",
        "abroad_reason": "外派",
        "return_date": "2025年1月",
    }
    for key, value in row.items():
        sheet.cell(row=first, column=column[key], value=value)
    data = io.BytesIO()
    book.save(data)
    await session.rollback()

    result = await import_roster(session, secretary, branch, data.getvalue(), today=TODAY)

    assert (result.updated, result.error_count) == (1, 0), result.errors
    await session.refresh(stored)
    assert (stored.abroad_date, stored.abroad_reason, stored.return_date) == (
        "2024-03-10",
        "外派",
        "2025-01",
    )
    updates = await _updates(session, member_id)
    assert updates["abroad_reason"] == (None, "外派") and updates["return_date"] == (
        None,
        "2025-01",
    )


def _filled(row: dict[str, object]) -> bytes:
    """The real template with one member's row, as a secretary fills it in."""
    column = {f.key: i + 1 for i, f in enumerate(FIELDS)}
    book = load_workbook(io.BytesIO(template_workbook("一支部", TODAY)))
    sheet = book.worksheets[0]
    for key, value in row.items():
        sheet.cell(row=7, column=column[key], value=value)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


@both_backends
async def test_the_roster_import_checks_a_return_against_the_date_on_file(session, place):
    """A row with 回国日期 alone is checked against the 出国日期 already on file:
    earlier, and the file imports nothing; later, and it is taken."""
    branch, secretary, member_id = place
    await members.update_fields(session, secretary, member_id, {"abroad_date": "2024-03-10"})
    await session.rollback()
    row = {**member_values(11), "member_type": "正式党员", "return_date": "2024-02"}

    refused = await import_roster(session, secretary, branch, _filled(row), today=TODAY)

    assert (refused.updated, refused.error_count) == (0, 1)
    (error,) = refused.errors
    assert error.column == "回国日期" and "回国日期不能早于出国日期" in error.message
    assert await session.scalar(select(Member.return_date).where(Member.id == member_id)) is None
    await session.rollback()
    taken = await import_roster(
        session, secretary, branch, _filled({**row, "return_date": "2024-04"}), today=TODAY
    )
    assert (taken.updated, taken.error_count) == (1, 0)
    assert await session.scalar(select(Member.return_date).where(Member.id == member_id)) == (
        "2024-04"
    )


# ---------------------------------------------------------------- dispositions


async def _reached(session, secretary: Actor, member_id: int, lost_reason: str = "1") -> None:  # type: ignore[no-untyped-def]
    found = {
        "decided_on": date(2026, 3, 1),
        "lost_reason": lost_reason,
        "occupation": "3",
        "org_category": "3",
        "had_misconduct": False,
        "misconduct_check": "self",
        "attitude": "愿意接受组织管理",
        "is_pocket": False,
    }
    await outcomes.record_found(session, secretary, member_id, found, today=date(2026, 3, 1))


@both_backends
async def test_case_facts_abroad_from_the_record_R_ABROAD_RETAIN(session, place):
    """Lost for another reason (外出务工经商), but the record says the member
    left and is not back: abroad, so 补办保留组织关系 may be opened and done;
    once a 回国日期 is entered, no longer abroad."""
    _branch, secretary, member_id = place
    await _reached(session, secretary, member_id)
    member = await members.get_member(session, secretary, member_id)
    assert not (await cases.case_facts(session, member, TODAY)).abroad
    refused = dict(await cases.options(session, secretary, member_id, TODAY))
    assert refused[Outcome.RETAIN_ABROAD] is not None

    await members.update_fields(session, secretary, member_id, {"abroad_date": "2024-03"})
    member = await members.get_member(session, secretary, member_id)
    assert (await cases.case_facts(session, member, TODAY)).abroad
    offered = dict(await cases.options(session, secretary, member_id, TODAY))
    assert offered[Outcome.RETAIN_ABROAD] is None
    view = await cases.open_case(session, secretary, member_id, Outcome.RETAIN_ABROAD, TODAY)
    done = await cases.record_step(
        session, secretary, view.disposition.id, Step.RECORD, TODAY, {"length": "2y"}, TODAY
    )
    assert done.standing.status is Status.DONE
    assert done.disposition.ends_on == date(2028, 12, 4)

    await members.update_fields(session, secretary, member_id, {"return_date": "2026-11"})
    member = await members.get_member(session, secretary, member_id)
    assert not (await cases.case_facts(session, member, TODAY)).abroad


@both_backends
async def test_case_facts_abroad_from_the_search_without_the_record(session, place):
    """The search's 失去联系情形 出国（境） still counts when the record is blank."""
    _branch, secretary, member_id = place
    await _reached(session, secretary, member_id, lost_reason="5")
    member = await members.get_member(session, secretary, member_id)
    assert member.abroad_date is None
    assert (await cases.case_facts(session, member, TODAY)).abroad


async def test_the_sandbox_demo_shows_a_member_back_from_abroad(session):
    """bot/demo.py: 钱示二's 党员基本信息表 has the whole 出国（境）情况 block, and
    being back he is not abroad for the dispositions."""
    await seed_demo(session, 900, TODAY)
    qian_id = await session.scalar(select(Member.id).where(Member.name == "钱示二"))
    committee = await session.scalar(select(Organisation).where(Organisation.name == COMMITTEE))
    actor = Actor(900, (Grant(Role.COMMITTEE, committee.id),))

    async def inline(job):  # type: ignore[no-untyped-def]
        return job.render(*job.args)

    done = await exports.export_form(
        session,
        actor,
        "member_info",
        member_id=qian_id,
        today=TODAY,
        now=NOW,
        pocket_days=90,
        run=inline,
    )
    rows = CalamineWorkbook.from_filelike(io.BytesIO(done.content)).get_sheet_by_index(0)
    flat = [c for r in rows.to_python() for c in r]
    got = {
        label: flat[flat.index(label) + 1] for label in ("出国原因", "回国日期", "恢复组织生活情况")
    }
    assert got == {
        "出国原因": "外派",
        "回国日期": "2026年11月14日",
        "恢复组织生活情况": "已申请未恢复",
    }
    member = await members.get_member(session, actor, qian_id)
    assert not (await cases.case_facts(session, member, TODAY)).abroad
