"""The member's 出国（境）情况 (seed 001 附件1 note 7) edited on the card end to
end: the choice buttons, a word outside the list refused with the list, the
card's block, the audit, and 回国日期 before 出国日期 refused."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEvent, Member


async def _open_edit(world, user) -> None:  # type: ignore[no-untyped-def]
    await user.send("/members")
    await user.reply()
    await user.press("1")
    card = await user.reply()
    assert "出国（境）情况" not in card.text  # nothing filled: no block
    await user.press("修改信息")
    await user.reply()


async def test_edit_abroad_reason_on_the_card(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await _open_edit(branch_world, sec)
    await sec.press("出国原因")
    question = await sec.reply()
    assert "请选择“出国原因”" in question.text
    assert {"因私", "因公", "留学", "外派", "探亲", "定居", "清空此项"} <= set(
        question.button_texts
    )

    await sec.send("旅游")  # not one of the note's words
    refused = await sec.reply()
    assert "只能是：因私、因公、留学、外派、探亲、定居" in refused.text
    async with branch_world.app.sessionmaker() as s:
        assert (await s.get(Member, member_id)).abroad_reason is None

    await sec.press("留学", question)
    replies = await sec.wait_idle()
    assert "已保存" in replies[-2].text
    card = replies[-1].text
    assert "出国（境）情况：" in card and "· 出国原因：留学" in card
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
        event = await s.scalar(select(AuditEvent).where(AuditEvent.field == "abroad_reason"))
    assert member.abroad_reason == "留学"
    assert (event.old_value, event.new_value, event.actor_id) == (None, "留学", 101)


async def test_return_before_leaving_is_refused_on_the_card(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await _open_edit(branch_world, sec)
    await sec.press("出国日期")
    await sec.reply()
    await sec.send("2024年3月10日")
    card = (await sec.wait_idle())[-1]
    assert "· 出国日期：2024年3月10日" in card.text
    await sec.press("修改信息", card)
    await sec.reply()
    await sec.press("回国日期")
    await sec.reply()
    await sec.send("2024-02")
    assert "回国日期不能早于出国日期" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        assert (await s.get(Member, member_id)).return_date is None
    await sec.send("2025-01")
    card = (await sec.wait_idle())[-1]
    assert "· 回国日期：2025年1月" in card.text
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    assert (member.abroad_date, member.return_date) == ("2024-03-10", "2025-01")
