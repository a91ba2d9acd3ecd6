"""Closing a search and registering a mobile member, end to end
(R-EXHAUSTED, R-MOBILE-6M, R-DOSSIER)."""

from __future__ import annotations

from sqlalchemy import select

from handlers.member_view import MemberAction
from storage.models import ImpossibleChannel, MobileRecord, SearchOutcome
from tests.e2e.test_search import _lost_branch


async def _open_close_menu(world, user, member_id: int, action: str) -> None:
    await user.send("/members")
    page = await user.reply()
    callback = await user.press_data(MemberAction(action=action, member_id=member_id).pack(), page)
    await user.callback_answer(callback)


async def _log(user, channel: str) -> None:
    await user.send("/log")
    await user.reply()
    for label in (1, channel, "未取得联系", "今天", "跳过，保存"):
        await user.press(label)
        await user.reply()


async def test_found_walks_the_form_and_counts_as_contact(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await _open_close_menu(branch_world, sec, ids[0], "found")
    await sec.wait_idle()
    await sec.press("今天")
    await sec.reply()
    for label in ("外出务工经商", "农村外出务工经商人员", "非公有制企业", "否", "本人情况说明"):
        await sec.press(label)
        await sec.reply()
    await sec.press("跳过")  # 核实情况
    await sec.reply()
    await sec.send("愿意恢复组织生活")
    await sec.reply()
    await sec.press("否")
    done = await sec.reply()
    assert "取得联系" in done.text
    async with branch_world.app.sessionmaker() as s:
        outcome = (await s.scalars(select(SearchOutcome))).one()
    assert (outcome.kind, outcome.lost_reason, outcome.org_category, outcome.had_misconduct) == (
        "found",
        "1",
        "2",
        False,
    )
    await sec.send("/lost")
    lost = await sec.reply()
    assert "1人" in lost.text  # the found member is no longer lost


async def test_unreachable_is_refused_until_every_channel_group_is_covered_R_EXHAUSTED(
    branch_world,
):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await _log(sec, "打电话")
    await _open_close_menu(branch_world, sec, ids[0], "unreach")
    [status] = await sec.wait_idle()
    assert "还不能认定" in status.text and "知情人" in status.text and "部门协查" in status.text
    await _log(sec, "亲属")
    await _log(sec, "12371党建热线")
    await _open_close_menu(branch_world, sec, ids[0], "unreach")
    [status] = await sec.wait_idle()
    assert "部门协查" in status.text and "知情人" not in status.text.split("已查找")[0]
    await sec.press("说明无法查找")
    await sec.reply()
    await sec.send("党委尚未协调公安等部门，已书面申请")
    replies = await sec.wait_idle()
    assert any("登记“经查找仍然无法取得联系”" in r.text for r in replies)
    await sec.press("今天")
    await sec.reply()
    for label in ("居住地改变", "其他"):
        await sec.press(label)
        await sec.reply()
    await sec.press("社会组织")
    await sec.reply()
    await sec.press("否")
    await sec.reply()
    await sec.press("跳过")
    done = await sec.reply()
    assert "仍然无法取得联系" in done.text
    async with branch_world.app.sessionmaker() as s:
        outcome = (await s.scalars(select(SearchOutcome))).one()
        reason = (await s.scalars(select(ImpossibleChannel))).one()
    assert outcome.kind == "unreachable" and outcome.org_category == "7"  # 附件6: 社会组织 is ⑦
    assert reason.channel_group == 5


async def test_register_a_mobile_member_R_MOBILE_6M(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await _open_close_menu(branch_world, sec, ids[0], "mobile")
    await sec.wait_idle()
    await sec.press("跳过")  # 外出时间
    await sec.reply()
    await sec.send("广东省深圳市")
    await sec.reply()
    await sec.press("省外")
    await sec.reply()
    await sec.press("跨省流动")
    await sec.reply()
    await sec.press("快递员")
    await sec.reply()
    for _ in range(3):  # 职业, 流入单位, 单位党组织
        await sec.press("跳过")
        await sec.reply()
    await sec.press("非公企业")  # 党组织类型 (附件4 note 5)
    await sec.reply()
    await sec.press("跳过")  # 活动证编号
    await sec.reply()
    await sec.send("深圳市某街道快递行业党支部")
    await sec.reply()
    await sec.send("王示例")
    await sec.reply()
    await sec.send("组织委员")
    await sec.reply()
    await sec.send("13900007777")
    await sec.reply()
    await sec.press("否")
    assert "流动党员" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        record = (await s.scalars(select(MobileRecord))).one()
    assert (record.region, record.reason, record.reported_phone) == ("X", "N", "13900007777")
    assert record.org_type == "5"
    await sec.send("/mobile")
    assert "1人" in (await sec.reply()).text
    await sec.send("/lost")
    assert "1人" in (await sec.reply()).text  # a mobile member is not a lost member


async def test_mobile_suggests_members_six_months_without_offline_life_R_MOBILE_6M(branch_world):
    from datetime import date

    from tests.e2e.test_search import _set

    [member_id] = await branch_world.members("一支部", 1)
    await _set(
        branch_world, member_id, last_org_life=date(2026, 5, 25), last_dues=date(2026, 11, 1)
    )
    sec = branch_world.user(101)
    await sec.send("/mobile")
    suggestion, listing = await sec.replies(2)
    assert "疑似流动党员" in suggestion.text and "0人" in listing.text
    assert any("登记" in t for t in suggestion.button_texts)


async def test_a_restart_in_the_middle_of_log_resumes_the_draft(branch_world):
    await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    await sec.press(1)
    await sec.reply()
    await sec.press("发短信")
    await sec.reply()
    await branch_world.restart()
    await sec.press("取得联系")
    await sec.reply()
    await sec.press("今天")
    await sec.reply()
    await sec.press("跳过，保存")
    assert "已保存" in (await sec.reply()).text
