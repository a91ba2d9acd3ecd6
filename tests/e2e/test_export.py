"""/export end to end through the local Bot API emulator (issue 15): committee
staff take a summary whose figures match the records, a secretary takes their
branch's register, a stage comes as one .zip, and a forged button for another
branch is refused with nothing sent (R-ACL-BRANCH, R-CONFIDENTIAL)."""

from __future__ import annotations

import io
import zipfile
from datetime import date

from python_calamine import CalamineWorkbook

from handlers.export import ExportAct
from storage.db import write_tx
from storage.models import Member, SearchOutcome
from storage.services import campaigns
from storage.services.access import Actor, Grant, Role

WAIT = 30.0  # the first export starts the worker process


async def _document(user):
    seen = []
    for _ in range(3):
        for message in await user.wait_idle(quiet=1.0, timeout=WAIT):
            if message.document is not None:
                return message
            seen.append(message.text)
    raise AssertionError(f"no document arrived; the bot said: {seen}")


def _rows(data: bytes) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(0).to_python()


def _cell(rows, row_label: str, column_label: str):
    """The figure in the row whose first cell is ``row_label`` under the
    header cell that reads ``column_label`` (wherever the form puts them)."""
    column = next(
        c for r in rows for c, v in enumerate(r) if str(v).replace("\n", "") == column_label
    )
    row = next(r for r in rows if r and str(r[0]).strip() == row_label)
    return row[column]


async def _searched(world) -> dict[str, list[int]]:
    """一支部: 3 members, one reached; 二支部: 2 members, one unreachable."""
    first = await world.members("一支部", 3)
    second = await world.members("二支部", 2, start=3)
    async with world.app.sessionmaker() as s, write_tx(s):
        for member_id in (first[0], second[0]):
            (await s.get(Member, member_id)).last_org_life = date(2025, 3, 1)
        s.add(
            SearchOutcome(
                member_id=first[0],
                kind="found",
                decided_on=date(2026, 11, 1),
                lost_reason="1",
                occupation="3",
                org_category="2",
                had_misconduct=False,
                misconduct_check="self",
            )
        )
        s.add(
            SearchOutcome(
                member_id=second[0],
                kind="unreachable",
                decided_on=date(2026, 11, 2),
                lost_reason="6",
                occupation="8",
                org_category="8",
            )
        )
    return {"一支部": first, "二支部": second}


async def test_committee_staff_take_a_summary_whose_figures_match_the_records(branch_world):
    await _searched(branch_world)
    staff = branch_world.user(201)
    await staff.send("/export")
    menu = await staff.reply()
    assert "全党委" in menu.text
    await staff.press("与党组织失去联系党员情况汇总表")
    sent = await _document(staff)
    assert sent.document.name.endswith("_示例党委_与党组织失去联系党员情况汇总表.xlsx")
    assert "注意保密" in sent.text
    rows = _rows(sent.document.data)
    assert _cell(rows, "一支部", "排查前在册党员人数") == 3
    assert _cell(rows, "二支部", "排查前在册党员人数") == 2
    assert _cell(rows, "合计", "排查前在册党员人数") == 5


async def test_a_secretary_takes_their_branch_register(branch_world):
    people = await _searched(branch_world)
    secretary = branch_world.user(101)
    await secretary.send("/export")
    menu = await secretary.reply()
    assert "全党委" not in menu.text and "核查情况报告" not in " ".join(menu.button_texts)
    await secretary.press("经查找取得联系党员登记表")
    sent = await _document(secretary)
    text = " ".join(str(v) for row in _rows(sent.document.data) for v in row)
    assert "经查找取得联系党员登记表" in text
    async with branch_world.app.sessionmaker() as s:
        reached = await s.get(Member, people["一支部"][0])
        other = await s.get(Member, people["二支部"][0])
    assert reached.name in text and other.name not in text


async def test_a_forged_button_for_another_branch_sends_nothing_R_ACL_BRANCH(branch_world):
    await _searched(branch_world)
    secretary = branch_world.user(101)
    await secretary.send("/export")
    await secretary.reply()
    forged = ExportAct(
        action="form", org_id=branch_world.orgs["二支部"], key="found_register"
    ).pack()
    query = await secretary.press_data(forged)
    assert "无权限" in (await secretary.callback_answer(query)).text
    messages = await secretary.wait_idle(quiet=1.0, timeout=WAIT)
    assert all(m.document is None for m in messages)


async def test_a_stage_comes_as_one_zip(branch_world):
    await _searched(branch_world)
    staff_actor = Actor(201, (Grant(Role.COMMITTEE, branch_world.orgs["示例党委"]),))
    async with branch_world.app.sessionmaker() as s:
        await campaigns.create_campaign(
            s,
            staff_actor,
            branch_world.orgs["示例党委"],
            template="dual_check",
            name="双查",
            year=2026,
        )
    staff = branch_world.user(201)
    await staff.send("/export")
    await staff.reply()
    await staff.press("按阶段打包")
    await staff.reply()
    await staff.press("上报排查情况")
    sent = await _document(staff)
    assert sent.document.name.endswith(".zip")
    names = zipfile.ZipFile(io.BytesIO(sent.document.data)).namelist()
    assert any(n.endswith("经查找取得联系党员登记表.xlsx") for n in names)
