"""/audit for committee staff (issue 18 point 4): every read of a card, every
export and every change, by member and by user, masked, and as a workbook
through the one form builder."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from handlers.audit import AuditAct
from storage.models import AuditEvent, Member

NEW_PHONE = "13900004321"


async def _edit_phone(world, member_id: int):  # type: ignore[no-untyped-def]
    sec = world.user(101, first_name="王书记")
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("联系电话")
    await sec.reply()
    await sec.send(NEW_PHONE)
    await sec.wait_idle()
    async with world.app.sessionmaker() as s:
        return await s.get(Member, member_id)


async def test_committee_sees_reads_and_changes_masked_and_filters_them(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    member = await _edit_phone(branch_world, member_id)
    staff = branch_world.user(201, first_name="李组织")
    await staff.send("/audit")
    page = await staff.reply()
    assert "操作记录" in page.text
    assert f"王书记：查看党员卡片 {member.name}（一支部）" in page.text
    assert "联系电话：139****4321" in page.text
    assert NEW_PHONE not in page.text and member.id_number not in page.text

    # By member, typed.
    await staff.send(f"/audit {member.name}")
    by_member = await staff.reply()
    assert f"党员：{member.name}" in by_member.text and "查看党员卡片" in by_member.text
    # By user, with the buttons.
    await staff.press("按操作人")
    people = await staff.reply()
    assert "王书记" in people.button_texts
    await staff.press("王书记")
    by_user = await staff.reply()
    assert "操作人：王书记" in by_user.text
    assert all("李组织：" not in line for line in by_user.text.splitlines())

    # The card: committee staff open it (a read of theirs) and find 🧾 on it.
    await staff.send("/members")
    await staff.reply()
    await staff.press("一支部")
    await staff.reply()
    await staff.press("1")
    await staff.reply()
    await staff.press("操作记录")
    from_card = await staff.reply()
    assert f"党员：{member.name}" in from_card.text
    assert "李组织：查看党员卡片" in from_card.text

    # Reads are not part of the member's 一人一档 (what was done to the member).
    async with branch_world.app.sessionmaker() as s:
        reads = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.member_id == member_id, AuditEvent.action == "read")
        )
    assert reads == 0


async def test_the_audit_workbook_masks_values_and_names_who_exported(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    member = await _edit_phone(branch_world, member_id)
    staff = branch_world.user(201, first_name="李组织")
    await staff.send("/audit")
    await staff.reply()
    await staff.press("导出")
    sent = []
    for _ in range(3):  # the worker process may take a while to start
        sent += [m for m in await staff.wait_idle(quiet=1.0, timeout=60) if m.document]
        if sent:
            break
    assert sent, "no workbook"
    document = sent[0].document
    assert document.name.endswith("示例党委_操作记录（审计日志）.xlsx")
    book = load_workbook(io.BytesIO(document.data))
    sheet = book.active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    text = "\n".join(cells)
    assert sheet["A1"].value == "操作记录（审计日志）"
    assert "查看党员卡片" in text and member.name in text and "139****4321" in text
    assert NEW_PHONE not in text and member.id_number not in text
    assert book.properties.subject == "内部资料 注意保密"
    assert "李组织" in (book.properties.creator or "")
    async with branch_world.app.sessionmaker() as s:
        exported = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "export", AuditEvent.field == "audit")
        )
    assert exported == 1


async def test_audit_is_refused_outside_the_committee_R_ACL_BRANCH(branch_world):
    await branch_world.org("他党委", "committee")
    await branch_world.org("他支部", "branch", "他党委")
    [far] = await branch_world.members("他支部", 1)
    staff = branch_world.user(201)
    await staff.send("/audit")
    page = await staff.reply()
    forged = AuditAct(action="page", member_id=far).pack()
    answer = await staff.callback_answer(await staff.press_data(forged, page))
    assert answer.text == "无权限"
    forged = AuditAct(action="export", member_id=far).pack()
    answer = await staff.callback_answer(await staff.press_data(forged, page))
    assert answer.text == "无权限"
    # A secretary has no /audit.
    sec = branch_world.user(101)
    await sec.send("/audit")
    assert "操作记录" not in (await sec.reply()).text
