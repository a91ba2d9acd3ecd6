"""/log with one FSM write per tap (issue 3): the conversation is still in the
database after every tap, and "下一个失联党员" (which passed the state where the
settings go, and failed) opens the next lost member."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from storage.db import write_tx
from storage.models import FsmRecord, Member


async def _two_lost(world) -> list[int]:
    ids = await world.members("一支部", 2)
    async with world.app.sessionmaker() as s, write_tx(s):
        for i, since in zip(ids, (date(2025, 1, 10), date(2026, 3, 1)), strict=True):
            (await s.get(Member, i)).last_org_life = since
    return ids


async def _stored(world) -> tuple[str | None, str | None]:
    async with world.app.sessionmaker() as s:
        row = (await s.execute(select(FsmRecord.state, FsmRecord.data))).one()
    return row.state, row.data


async def test_every_tap_of_log_is_stored_before_the_next(branch_world):
    ids = await _two_lost(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    expected = [
        (1, "SearchLog:channel", f'"member_id": {ids[0]}'),
        ("打电话", "SearchLog:result", '"channel": "phone"'),
        ("未取得联系", "SearchLog:day", '"result": "not_reached"'),
        ("今天", "SearchLog:note", '"day": "2026-11-25"'),
        ("跳过，保存", "SearchLog:evidence", '"attempt_id"'),
    ]
    for label, state, data in expected:
        await sec.press(label)
        await sec.reply()
        stored_state, stored_data = await _stored(branch_world)
        assert stored_state == state and data in (stored_data or "")


async def test_next_lost_member_after_saving_opens_the_next_one(branch_world):
    ids = await _two_lost(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    for label in (1, "打电话", "未取得联系", "今天", "跳过，保存"):
        await sec.press(label)
        await sec.reply()

    await sec.press("下一个失联党员")

    async with branch_world.app.sessionmaker() as s:
        second = await s.get(Member, ids[1])
    assert second.name in (await sec.reply()).text
    state, data = await _stored(branch_world)
    branch = branch_world.orgs["一支部"]
    assert (state, json.loads(data or "{}")) == (
        "SearchLog:channel",
        {"member_id": ids[1], "branch_id": branch},
    )
