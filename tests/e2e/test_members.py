"""The member register end to end: /add (and a restart in the middle of it),
/members, the card, edits, forged callbacks (R-ACL-BRANCH)."""

from __future__ import annotations

from sqlalchemy import select

from handlers.member_view import MemberAction
from storage.models import AuditEvent, Member
from tests.factories import id_number


async def _members(world) -> list[Member]:
    async with world.app.sessionmaker() as s:
        return list(await s.scalars(select(Member)))


async def test_add_walks_required_fields_and_saves_after_confirm(branch_world):
    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)  # greeting + first question
    assert "姓名" in sec.last.text
    await sec.send("钱测一")
    assert "身份证号" in (await sec.reply()).text
    from datetime import date

    await sec.send(id_number(date(1980, 5, 6), male=False))
    replies = await sec.replies(2)
    assert "性别和出生日期" in replies[0].text
    assert "入党时间" in replies[1].text  # gender and birth were read from the ID number
    await sec.send("2005年7月")
    assert "党员类别" in (await sec.reply()).text
    await sec.press("正式党员")
    question = await sec.reply()
    assert "跳过其余" in " ".join(question.button_texts)
    await sec.press("跳过其余，去确认")
    summary = await sec.reply()
    assert "钱测一" in summary.text and "女" in summary.text and "1980年5月6日" in summary.text
    assert await _members(branch_world) == []  # nothing saved before the confirm tap
    await sec.press("保存")
    # A longer quiet spell than the default 0.3 s: on a loaded machine the
    # save can take that long before its first word.
    saved = await sec.wait_idle(quiet=1.5, timeout=15)
    assert saved and "已保存" in saved[-1].text, [m.text for m in saved]
    [member] = await _members(branch_world)
    assert member.name == "钱测一" and member.gender == "女" and member.birth == "1980-05-06"
    async with branch_world.app.sessionmaker() as s:
        events = list(await s.scalars(select(AuditEvent).where(AuditEvent.member_id == member.id)))
    assert [e.action for e in events] == ["create"] and events[0].actor_id == 101


async def test_bad_input_is_refused_with_the_reason_and_asked_again(branch_world):
    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send("孙" * 31)
    assert "最多30个字" in (await sec.reply()).text
    await sec.send("孙测二")
    await sec.reply()
    await sec.send("41010219850615001")  # 17 characters
    assert "18位" in (await sec.reply()).text
    bad_check = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
    await sec.send(bad_check)
    assert "校验位" in (await sec.reply()).text
    await sec.press("跳过")
    assert "性别" in (await sec.reply()).text
    await sec.press("男")
    assert "出生年月" in (await sec.reply()).text
    await sec.send("2030-01")
    assert "将来" in (await sec.reply()).text
    await sec.send("2016年2月30日")
    assert "没有30日" in (await sec.reply()).text


async def test_a_restart_in_the_middle_of_add_continues_where_it_stopped(branch_world):
    """Conversations survive restarts: the FSM lives in the database."""
    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send("李测三")
    await sec.reply()
    await branch_world.restart()
    await sec.press("跳过")  # the ID number question, asked before the restart
    assert "性别" in (await sec.reply()).text
    await sec.press("女")
    await sec.reply()
    await sec.send("1990-03")
    await sec.reply()
    await sec.send("2015-06")
    await sec.reply()
    await sec.press("预备党员")
    await sec.reply()
    await sec.press("跳过其余，去确认")
    assert "李测三" in (await sec.reply()).text
    await sec.press("保存")
    await sec.wait_idle()
    [member] = await _members(branch_world)
    assert member.name == "李测三" and member.member_type == "预备"


async def test_cancel_works_in_the_middle_of_add(branch_world):
    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send("/cancel")
    assert "已取消" in (await sec.reply()).text
    await sec.send("周测四")
    assert "没有看懂" in (await sec.reply()).text


async def test_members_list_masks_id_numbers_and_the_card_shows_them_R_CONFIDENTIAL(branch_world):
    await branch_world.members("一支部", 12)
    sec = branch_world.user(101)
    await sec.send("/members")
    page = await sec.reply()
    assert "共12人" in page.text and "第1/2页" in page.text
    async with branch_world.app.sessionmaker() as s:
        first = (await s.scalars(select(Member).order_by(Member.name, Member.id))).first()
    assert first.id_number not in page.text
    assert first.id_number[:4] + "**********" + first.id_number[-4:] in page.text
    await sec.press("▶")
    assert "第2/2页" in (await sec.reply()).text
    await sec.press("◀")
    await sec.reply()
    await sec.press("1")
    card = await sec.reply()
    assert first.id_number in card.text and "党员卡片" in card.text


async def test_search_by_name(branch_world):
    await branch_world.members("一支部", 5)
    sec = branch_world.user(101)
    await sec.send("/members 钱")
    page = await sec.reply()
    assert "搜索：钱" in page.text and "共1人" in page.text


async def test_edit_a_field_from_the_card_is_audited_with_old_and_new(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("联系电话")
    await sec.reply()
    await sec.send("13900001111")
    await sec.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
        event = await s.scalar(select(AuditEvent).where(AuditEvent.field == "phone"))
    assert member.phone == "13900001111"
    assert (event.old_value, event.new_value, event.actor_id) == (None, "13900001111", 101)


async def test_transfer_letter_and_receipt_and_full_membership(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("转出介绍信")
    assert "介绍信开出日期" in (await sec.reply()).text
    await sec.send("2026.3.18")
    assert "接收单位" in (await sec.reply()).text
    await sec.send("示例市某某党委")
    await sec.wait_idle()
    await sec.press("收到回执")
    await sec.reply()
    await sec.send("2026-03-01")  # before the letter: refused
    assert "不能早于" in (await sec.reply()).text
    await sec.press("今天")
    await sec.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    assert str(member.transfer_letter_date) == "2026-03-18"
    assert member.transfer_receiver == "示例市某某党委"
    assert str(member.transfer_receipt_date) == "2026-11-25"


async def test_forged_callback_for_another_branch_answers_no_permission_R_ACL_BRANCH(branch_world):
    [other_member] = await branch_world.members("二支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    page = await sec.reply()
    before = len(sec.messages)
    for action in ("card", "edit", "letter", "field"):
        forged = MemberAction(action=action, member_id=other_member, arg="phone").pack()
        callback_id = await sec.press_data(forged, page)
        answer = await sec.callback_answer(callback_id)
        assert answer.text == "无权限" and answer.show_alert
    # A member id that does not exist gets exactly the same answer.
    forged = MemberAction(action="card", member_id=987654, arg="").pack()
    answer = await sec.callback_answer(await sec.press_data(forged, page))
    assert answer.text == "无权限"
    await sec.wait_idle()
    assert len(sec.messages) == before
    assert branch_world.emulator.unanswered_callbacks() == []


async def test_committee_reads_branches_under_it_but_cannot_edit(branch_world):
    await branch_world.members("二支部", 2)
    staff = branch_world.user(201)
    await staff.send("/members")
    choice = await staff.reply()
    assert {"一支部", "二支部"} <= set(choice.button_texts)
    await staff.press("二支部")
    page = await staff.reply()
    assert "共2人" in page.text
    await staff.press("1")
    card = await staff.reply()
    assert "修改信息" not in card.button_texts


def test_longest_callback_data_fits_in_64_bytes():
    packed = MemberAction(action="letter", member_id=2**31 - 1, arg="transfer_receipt_date").pack()
    assert len(packed.encode()) <= 64


async def test_mark_a_probationary_member_full_asks_the_date(branch_world):
    from storage.db import write_tx

    [member_id] = await branch_world.members("一支部", 1)
    async with branch_world.app.sessionmaker() as s, write_tx(s):
        (await s.get(Member, member_id)).member_type = "预备"
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("转为正式党员")
    assert "转正时间" in (await sec.reply()).text
    await sec.send("1990-01")  # before 入党时间: refused
    assert "不能早于入党时间" in (await sec.reply()).text
    await sec.send("2026年7月")
    card = (await sec.wait_idle())[-1]
    assert "正式党员" in card.text and "改为预备党员" in card.button_texts
    await sec.press("改为预备党员")
    await sec.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    assert (member.member_type, member.full_member_since) == ("预备", None)
