"""人员类别 and 家庭主要成员 end to end (issue 8, item 6): the committee sets
its list, /add and the card offer it, the card keeps family rows."""

from __future__ import annotations

from sqlalchemy import select

from domain.family import Relative
from domain.sweep import Answer, Check
from handlers.family import RelativeAct
from storage.models import AuditEvent, FamilyMember, Member
from storage.services import campaigns, categories, family, sweep
from storage.services.access import Actor, Grant, Role


async def _member(world, name: str) -> Member:
    async with world.app.sessionmaker() as s:
        return (await s.scalars(select(Member).where(Member.name == name))).one()


async def test_committee_sets_categories_and_add_offers_them(branch_world):
    staff = branch_world.user(201)
    await staff.send("/categories")
    shown = await staff.reply()
    assert "未设置" in shown.text
    await staff.press("教职工 / 学生")  # one tap for the school's list (seed 000)
    assert "教职工、学生" in (await staff.reply()).text

    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send("吴测五")
    await sec.reply()
    await sec.press("跳过")  # no ID number
    await sec.reply()
    await sec.press("男")
    await sec.reply()
    await sec.send("1990-03")
    await sec.reply()
    await sec.send("2015-06")
    await sec.reply()
    await sec.press("正式党员")
    question = await sec.reply()
    assert "人员类别" in question.text and "学生" in question.button_texts
    await sec.press("学生")
    await sec.reply()
    await sec.press("跳过其余，去确认")
    assert "人员类别：学生" in (await sec.reply()).text
    await sec.press("保存")
    saved = await sec.wait_idle()
    assert "添加家庭成员" in " ".join(saved[-1].button_texts)
    assert (await _member(branch_world, "吴测五")).category == "学生"


async def test_family_rows_are_added_from_the_card_and_removed_R_DOSSIER(branch_world):
    await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("👪 家庭成员")
    assert "还没有登记" in (await sec.reply()).text
    await sec.press("➕ 添加")
    replies = await sec.replies(2)
    assert "称谓" in replies[-1].text
    await sec.press("配偶")
    assert "姓名" in (await sec.reply()).text
    await sec.send("郑示例")
    assert "工作单位" in (await sec.reply()).text
    await sec.press("跳过 ⏭")
    assert "联系电话" in (await sec.reply()).text
    await sec.send("12ab")
    assert "只能包含数字" in (await sec.reply()).text  # asked again, nothing saved
    await sec.send("13900004444")
    done = await sec.reply()
    assert "已添加：配偶 郑示例 13900004444" in done.text
    await sec.press("↩ 返回卡片")
    card = await sec.reply()
    assert "家庭主要成员" in card.text and "郑示例" in card.text

    async with branch_world.app.sessionmaker() as s:
        row = (await s.scalars(select(FamilyMember))).one()
    # A secretary of another branch cannot remove it, even with forged data (R-ACL-BRANCH).
    other = branch_world.user(102)
    await other.send("/help")
    page = await other.reply()
    forged = await other.press_data(RelativeAct(relative_id=row.id).pack(), page)
    assert (await other.callback_answer(forged)).text == "无权限"
    await sec.press("👪 家庭成员")
    await sec.reply()
    await sec.press("✖ 删除 1")
    assert "还没有登记" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        actions = list(
            await s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity == "family")
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["create", "delete"]


async def test_committee_sweep_shows_counts_by_member_category(branch_world):
    staff_actor = Actor(201, (Grant(Role.COMMITTEE, branch_world.orgs["示例党委"]),))
    async with branch_world.app.sessionmaker() as s:
        await categories.add(s, staff_actor, branch_world.orgs["示例党委"], "教职工", "学生")
        await campaigns.create_campaign(
            s,
            staff_actor,
            branch_world.orgs["示例党委"],
            template="school_2016",
            name="集中排查",
            year=2026,
        )
    await branch_world.members("一支部", 3)
    staff = branch_world.user(201)
    await staff.send("/sweep")
    table = await staff.reply()
    assert "集中排查" in table.text and "按人员类别" in table.text
    assert "教职工：党员0人" in table.text and "学生：党员0人" in table.text
    assert "未填写人员类别：党员3人" in table.text and "合计：党员3人" in table.text


async def test_the_dossier_names_family_and_sweep_events_in_words_R_DOSSIER(branch_world):
    [member_id] = await branch_world.members("一支部", 1)
    staff_actor = Actor(201, (Grant(Role.COMMITTEE, branch_world.orgs["示例党委"]),))
    secretary = Actor(101, (Grant(Role.SECRETARY, branch_world.orgs["一支部"]),))
    async with branch_world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s,
            staff_actor,
            branch_world.orgs["示例党委"],
            template="mobile_2023",
            name="排查",
            year=2026,
        )
        await family.add_relative(s, secretary, member_id, Relative("配偶", "李示例"))
        for answer in (Answer.pending, Answer.ok):
            await sweep.answer_checks(s, secretary, campaign.id, member_id, {Check.roster: answer})
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("📂 档案")
    dossier = await sec.reply()
    assert "登记家庭成员 配偶 李示例" in dossier.text
    assert "五核查 1. 名册/信息库：✔ 符合（原为待完善）" in dossier.text
    assert "sweep:" not in dossier.text and "family:" not in dossier.text
