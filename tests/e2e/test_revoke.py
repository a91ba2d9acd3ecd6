"""/revoke (issue 18 point 5): a role taken back is refused at the user's very
next button press or command, and the attacks on it fail and change nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from handlers.member_view import MemberAction
from handlers.revoke import RevokeAct
from storage.models import AuditEvent, Member, RoleGrant
from storage.services.access import Role


async def _grant_id(world, user_id: int) -> int:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        return await s.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user_id))


async def test_committee_revokes_a_secretary_whose_old_button_is_then_refused(branch_world):
    """R-ACL-BRANCH: an old button replayed after the role was revoked gets 无权限
    and changes nothing; the user is told once; the revocation is audited."""
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101, first_name="张示一")
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    card = await sec.reply()
    assert any("修改信息" in t for t in card.button_texts)

    staff = branch_world.user(201)
    await staff.send("/revoke")
    listing = await staff.reply()
    assert any("张示一" in t and "支部书记" in t and "一支部" in t for t in listing.button_texts)
    assert not any("党委工作人员" in t for t in listing.button_texts)  # only admins revoke those
    await staff.press("张示一")
    question = await staff.reply()
    assert "确定收回" in question.text and "张示一" in question.text
    before_notice = len(branch_world.emulator.chats[101].events)
    await staff.press("确定收回")
    done = await staff.reply()
    assert "已收回" in done.text

    notice = await sec.reply(chat_id=101)
    assert "已被收回" in notice.text
    async with branch_world.app.sessionmaker() as s:
        phone_before = (await s.get(Member, member_id)).phone

    # The old card's buttons: refused at once, nothing changes.
    for label in ("修改信息",):
        callback_id = await sec.press(label, card)
        answer = await sec.callback_answer(callback_id)
        assert answer.text == "无权限" and answer.show_alert
    forged = MemberAction(action="field", member_id=member_id, arg="phone").pack()
    answer = await sec.callback_answer(await sec.press_data(forged, card))
    assert answer.text == "无权限"
    await sec.send("/members")
    assert "邀请码" in (await sec.reply()).text  # a stranger again
    await sec.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        assert (await s.get(Member, member_id)).phone == phone_before
        revokes = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity == "role", AuditEvent.action == "revoke")
        )
    assert revokes == 1
    # Their menu is the strangers' one again (the chat's own menu is deleted).
    scope = json.dumps({"chat_id": 101, "type": "chat"}, sort_keys=True)
    assert (scope, "") not in branch_world.emulator.commands

    # The confirmation replayed: nothing changes, nobody is told twice.
    told = len(branch_world.emulator.chats[101].events)
    assert told == before_notice + 1 + 1  # the notice, then the refusal of /members
    await staff.press_data(
        RevokeAct(action="yes", grant_id=await _grant_id(branch_world, 101)).pack(), done
    )
    assert "已经收回" in (await staff.reply()).text
    await staff.wait_idle()
    assert len(branch_world.emulator.chats[101].events) == told


async def test_forged_revocations_are_refused_and_change_nothing_R_ACL_BRANCH(branch_world):
    """Committee staff cannot revoke another committee's secretary, committee
    staff, or themselves; a secretary cannot revoke at all."""
    await branch_world.org("他党委", "committee")
    await branch_world.org("他支部", "branch", "他党委")
    await branch_world.grant(501, Role.SECRETARY, "他支部")
    await branch_world.grant(202, Role.COMMITTEE, "示例党委")
    staff = branch_world.user(201)
    await staff.send("/revoke")
    listing = await staff.reply()
    assert all("他支部" not in t for t in listing.button_texts)
    for user_id in (501, 202, 201):
        forged = RevokeAct(action="yes", grant_id=await _grant_id(branch_world, user_id)).pack()
        answer = await staff.callback_answer(await staff.press_data(forged, listing))
        assert answer.text == "无权限"
        forged = RevokeAct(action="pick", grant_id=await _grant_id(branch_world, user_id)).pack()
        answer = await staff.callback_answer(await staff.press_data(forged, listing))
        assert answer.text == "无权限"
    forged = RevokeAct(action="yes", grant_id=987654).pack()
    assert (await staff.callback_answer(await staff.press_data(forged, listing))).text == "无权限"

    sec = branch_world.user(101)
    await sec.send("/revoke")
    assert "收回" not in (await sec.reply()).text
    await staff.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        revoked = await s.scalar(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.revoked_at.is_not(None))
        )
    assert revoked == 0


async def test_admin_revokes_committee_staff(branch_world):
    staff = branch_world.user(201)
    await staff.send("/help")  # the bot can write only to those who opened the chat
    await staff.reply()
    admin = branch_world.user(900)
    await admin.send("/revoke")
    listing = await admin.reply()
    assert any("党委工作人员" in t and "示例党委" in t for t in listing.button_texts)
    assert not any("系统管理员" in t for t in listing.button_texts)  # not their own grant
    await admin.press("党委工作人员")
    await admin.reply()
    await admin.press("确定收回")
    assert "已收回" in (await admin.reply()).text
    assert "“党委工作人员”角色已被收回" in (await staff.reply(chat_id=201)).text
    await staff.send("/review")
    assert "邀请码" in (await staff.reply()).text


async def test_an_admin_from_the_settings_is_not_revoked_in_the_chat(branch_world):
    """PAICHA_ADMIN_IDS grants admin again at every start: revoking it here
    would not last, so it is not offered and a forged press is told why."""
    await branch_world.grant(901, Role.ADMIN, None)
    other = branch_world.user(901)
    await other.send("/revoke")
    listing = await other.reply()
    assert not any("系统管理员" in t for t in listing.button_texts)
    fixed = await _grant_id(branch_world, 900)
    answer = await other.callback_answer(
        await other.press_data(RevokeAct(action="yes", grant_id=fixed).pack(), listing)
    )
    assert "PAICHA_ADMIN_IDS" in (answer.text or "")
    async with branch_world.app.sessionmaker() as s:
        assert (await s.get(RoleGrant, fixed)).revoked_at is None
