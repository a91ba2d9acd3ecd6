"""Onboarding end to end: strangers, invitations, groups (R-ACL-PRIVATE)."""

from __future__ import annotations

from storage.services.access import Role


async def test_stranger_is_told_how_to_get_an_invitation_and_sees_nothing(branch_world):
    stranger = branch_world.user(555)
    await stranger.send("/members")
    reply = await stranger.reply()
    assert "邀请码" in reply.text and "/join" in reply.text
    await stranger.send("你好")
    assert "邀请码" in (await stranger.reply()).text


async def test_group_chat_gets_only_the_private_chat_notice_R_ACL_PRIVATE(branch_world):
    secretary = branch_world.user(101)
    await secretary.send_in_group("/members")
    reply = await secretary.reply()
    assert "私聊" in reply.text
    assert "党员" not in reply.text.replace("党员组织", "")


async def test_committee_invites_a_secretary_who_joins_by_code(branch_world):
    committee = branch_world.user(201)
    await committee.send("/invite")
    choice = await committee.reply()
    assert any("一支部" in t for t in choice.button_texts)
    await committee.press("一支部")
    invitation = await committee.reply()
    code = invitation.text.split("邀请码：")[1].split()[0]
    assert "?start=" in invitation.text

    newcomer = branch_world.user(333)
    await newcomer.send(f"/join {code}")
    welcome = await newcomer.reply()
    assert "一支部" in welcome.text and "/members" in welcome.text
    # Single use: a second redemption is refused.
    other = branch_world.user(334)
    await other.send(f"/start {code}")
    assert "用过" in (await other.reply()).text
    commands = branch_world.emulator.commands
    assert commands, "setMyCommands was not called"


async def test_secretary_cannot_invite(branch_world):
    secretary = branch_world.user(101)
    await secretary.send("/invite")
    reply = await secretary.reply()
    assert "邀请码" not in reply.text


async def test_admin_from_settings_can_invite_committee_staff(branch_world):
    admin = branch_world.user(900)
    await admin.send("/invite")
    reply = await admin.reply()
    assert any("党委工作人员" in t for t in reply.button_texts)


async def test_help_lists_only_the_commands_of_the_role(branch_world):
    await branch_world.grant(401, Role.COMMITTEE, "示例党委")
    committee = branch_world.user(401)
    await committee.send("/help")
    text = (await committee.reply()).text
    assert "/members" in text and "/invite" in text and "/add" not in text
