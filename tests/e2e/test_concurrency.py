"""Many secretaries at once (regression: the bot stalled at 15 updates in
flight, each holding a connection while its FSM state waited for another)."""

from __future__ import annotations

import asyncio

from storage.services.access import Role


async def test_forty_secretaries_start_add_at_once_and_all_get_answers(branch_world):
    users = []
    for i in range(40):
        await branch_world.grant(5000 + i, Role.SECRETARY, "一支部")
        users.append(branch_world.user(5000 + i))

    async def one(user) -> str:
        await user.send("/add")
        replies = await user.replies(2, timeout=20)
        return replies[-1].text

    texts = await asyncio.wait_for(asyncio.gather(*(one(u) for u in users)), 60)
    assert all("姓名" in t for t in texts)
