"""The invitation attacks through the bot (issue 18): a used code, an expired
code, and codes guessed one after another; none gives a role."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import RoleGrant
from storage.services import invitations
from tests.e2e.conftest import NOW


async def _invite(world, days_ago: int = 0) -> str:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        invitation = await invitations.create_invitation(
            s,
            actor=None,
            org_id=world.orgs["一支部"],
            role="secretary",
            now=NOW - timedelta(days=days_ago),
            days=7,
        )
        return invitation.code


async def test_used_expired_and_guessed_codes_give_no_role(branch_world):
    used = await _invite(branch_world)
    first = branch_world.user(601)
    await first.send(f"/join {used}")
    assert "欢迎" in (await first.reply()).text

    stranger = branch_world.user(602)
    await stranger.send(f"/join {used}")
    assert "用过" in (await stranger.reply()).text
    await stranger.send(f"/start {await _invite(branch_world, days_ago=8)}")
    assert "过期" in (await stranger.reply()).text
    for n in range(3):
        await stranger.send(f"/join GUESS{n}CODE")
        assert "不对" in (await stranger.reply()).text
    # Five refusals within 15 minutes: the sixth try is refused, right code or not.
    good = await _invite(branch_world)
    await stranger.send(f"/join {good}")
    refused = (await stranger.reply()).text
    assert "次数过多" in refused and "15分钟" in refused
    await stranger.send("/members")
    assert "邀请码" in (await stranger.reply()).text  # still a stranger
    async with branch_world.app.sessionmaker() as s:
        grants = await s.scalar(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == 602)
        )
    assert grants == 0
