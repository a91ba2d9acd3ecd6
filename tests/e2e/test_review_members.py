"""/review per member (issue “The first sweep”, item 5): the working group picks
a member of the branch, records a finding, sees it listed, finds it in the
member's dossier (R-DOSSIER); members outside the branch are refused
(R-ACL-BRANCH); a send-back tells the secretary the open ones (R-SWEEP)."""

from __future__ import annotations

from sqlalchemy import select

from handlers.review import ReviewAct
from storage.models import AuditEvent, BranchReview
from storage.services import campaigns
from storage.services import review as reviews
from storage.services.access import Actor, Grant, Role


def _staff(world) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(201, (Grant(Role.COMMITTEE, world.orgs["示例党委"]),))


async def _campaign(world, *branches: str) -> int:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s,
            _staff(world),
            world.orgs["示例党委"],
            template="mobile_2023",
            name="流动党员排查",
            year=2026,
            branch_ids=[world.orgs[b] for b in branches] or None,
        )
    return campaign.id


async def _open_branch(staff) -> None:  # type: ignore[no-untyped-def]
    await staff.send("/review")
    await staff.reply()
    await staff.press("一支部")
    await staff.reply()


async def test_a_finding_about_one_member_is_listed_and_in_their_dossier_R_DOSSIER(
    branch_world,
):
    ids = await branch_world.members("一支部", 12)  # two pages of the register
    await _campaign(branch_world)
    staff = branch_world.user(201)
    await _open_branch(staff)
    await staff.press("记录某位党员的问题")
    picker = await staff.reply()
    assert "第1/2页，共12人" in picker.text and "赵测一" in picker.text
    assert "4101**" in picker.text  # the register's masked line (R-CONFIDENTIAL)
    await staff.press("▶")
    second = await staff.reply()
    assert second.edited and "第2/2页" in second.text
    await staff.send("孙测")  # typing a name searches
    found = await staff.reply()
    assert "搜索：孙测" in found.text and "孙测一" in found.text and "赵测一" not in found.text
    await staff.press("1")
    prompt = await staff.reply()
    assert "孙测一" in prompt.text and "档案" in prompt.text
    await staff.send("档案缺入党志愿书")
    saved, view = await staff.replies(2)
    assert "已记录" in saved.text
    assert "核查 一支部" in view.text and "孙测一：档案缺入党志愿书" in view.text
    async with branch_world.app.sessionmaker() as s:
        row = (await s.scalars(select(BranchReview))).one()
        event = (await s.scalars(select(AuditEvent).where(AuditEvent.entity == "review"))).one()
    assert (row.member_id, row.kind, row.text) == (ids[2], "finding", "档案缺入党志愿书")
    assert event.member_id == ids[2]
    sec = branch_world.user(101)  # the branch sees it in the member's dossier
    await sec.send("/members 孙测一")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("档案")
    dossier = await sec.reply()
    assert "党委核查发现 档案缺入党志愿书" in dossier.text


async def test_a_branch_finding_is_listed_without_a_member(branch_world):
    await branch_world.members("一支部", 1)
    await _campaign(branch_world)
    staff = branch_world.user(201)
    await _open_branch(staff)
    await staff.press("记录核查发现")
    await staff.reply()
    await staff.send("支部台账不全")
    saved, view = await staff.replies(2)
    assert "已记录" in saved.text and "支部：支部台账不全" in view.text


async def test_a_member_outside_the_branch_is_refused_R_ACL_BRANCH(branch_world):
    await branch_world.members("一支部", 1)
    (other,) = await branch_world.members("二支部", 1, start=5)
    campaign_id = await _campaign(branch_world, "一支部")  # 二支部 not in scope
    one, two = branch_world.orgs["一支部"], branch_world.orgs["二支部"]
    staff = branch_world.user(201)
    await _open_branch(staff)
    await staff.press("记录某位党员的问题")
    await staff.reply()
    forged = ReviewAct(campaign_id=campaign_id, op="mfinding", branch_id=one, member_id=other)
    answer = await staff.callback_answer(await staff.press_data(forged.pack()))
    assert answer.text == "无权限"
    forged = ReviewAct(campaign_id=campaign_id, op="members", branch_id=two)
    answer = await staff.callback_answer(await staff.press_data(forged.pack()))
    assert answer.text == "无权限"
    assert await staff.wait_idle() == []  # nothing asked, nothing shown
    async with branch_world.app.sessionmaker() as s:
        assert (await s.scalars(select(BranchReview))).all() == []


async def test_a_send_back_lists_the_open_member_findings_R_SWEEP(branch_world):
    ids = await branch_world.members("一支部", 2)
    campaign_id = await _campaign(branch_world)
    one = branch_world.orgs["一支部"]
    async with branch_world.app.sessionmaker() as s:
        await reviews.record_review(
            s, _staff(branch_world), campaign_id, one, kind="finding", text="电话有误",
            member_id=ids[1],
        )  # fmt: skip
    staff = branch_world.user(201)
    sec = branch_world.user(101)
    await sec.send("/help")
    await sec.reply()
    await _open_branch(staff)
    await staff.press("退回整改")
    await staff.reply()
    await staff.send("请核实后再报")
    await staff.wait_idle()
    notice = await sec.reply()
    assert "退回整改：请核实后再报" in notice.text
    assert "涉及党员的核查发现" in notice.text and "钱测一：电话有误" in notice.text


async def test_the_secretarys_todo_lists_open_findings_with_a_tap_to_the_member_R_SWEEP(
    branch_world,
):
    ids = await branch_world.members("一支部", 2)
    campaign_id = await _campaign(branch_world)
    one = branch_world.orgs["一支部"]
    async with branch_world.app.sessionmaker() as s:
        await reviews.record_review(
            s, _staff(branch_world), campaign_id, one, kind="finding", text="档案缺转正申请书",
            member_id=ids[1],
        )  # fmt: skip
    sec = branch_world.user(101)
    await sec.send("/todo")
    todo = await sec.reply()
    assert "党委核查发现（1条）" in todo.text and "钱测一：档案缺转正申请书" in todo.text
    await sec.press("钱测一")
    assert "钱测一" in (await sec.reply()).text  # the member's five checks
    # Another branch's secretary sees none of it (R-ACL-BRANCH).
    other = branch_world.user(102)
    await other.send("/todo")
    assert "档案缺转正申请书" not in (await other.reply()).text
