"""The search from a phone, end to end (issue 3): /lost, /meeting, /log in five
taps, evidence, the dossier, and R-ACL-BRANCH on forged callbacks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from domain.family import Relative
from handlers.member_view import MemberAction
from handlers.search_log import LogStep
from storage.db import write_tx
from storage.models import AttemptEvidence, ContactAttempt, Member
from storage.services import family
from storage.services.access import Actor, Grant, Role


async def _set(world, member_id: int, **values) -> None:
    async with world.app.sessionmaker() as s, write_tx(s):
        member = await s.get(Member, member_id)
        for key, value in values.items():
            setattr(member, key, value)


async def _lost_branch(world) -> list[int]:
    """一支部: two lost (one since 2025-01, one since 2026-03), one in contact."""
    ids = await world.members("一支部", 3)
    await _set(world, ids[0], last_org_life=date(2025, 1, 10), last_dues=date(2024, 12, 1))
    await _set(world, ids[1], last_org_life=date(2026, 3, 1))
    await _set(world, ids[2], last_org_life=date(2026, 11, 1))
    return ids


async def test_lost_lists_the_longest_lost_first_with_months_and_attempts_R_LOST_6M(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/lost")
    reply = await sec.reply()
    async with branch_world.app.sessionmaker() as s:
        names = [(await s.get(Member, i)).name for i in ids]
    assert "2人" in reply.text
    assert reply.text.index(names[0]) < reply.text.index(names[1])
    assert names[2] not in reply.text
    assert "已查找0次" in reply.text


async def test_log_an_attempt_in_five_taps(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    taps = 0
    for label in (1, "打电话", "未取得联系", "今天", "跳过，保存"):
        await sec.press(label)
        taps += 1
        reply = await sec.reply()
    assert taps <= 5
    assert "已保存" in reply.text and "打电话" in reply.text and "未取得联系" in reply.text
    async with branch_world.app.sessionmaker() as s:
        [attempt] = (await s.scalars(select(ContactAttempt))).all()
    assert attempt.member_id == ids[0]  # the longest lost is offered first
    assert (attempt.channel, attempt.result, attempt.attempted_on) == (
        "phone",
        "not_reached",
        date(2026, 11, 25),
    )
    assert attempt.recorded_by == 101


async def test_a_photo_after_an_attempt_is_kept_as_evidence(branch_world):
    await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    for label in (1, "亲属", "获得线索", "昨天"):
        await sec.press(label)
        await sec.reply()
    await sec.send("其姐姐说在外地务工")
    await sec.reply()
    await sec.send_photo(b"\xff\xd8\xff fake call log screenshot")
    assert "凭证" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        evidence = (await s.scalars(select(AttemptEvidence))).one()
        attempt = (await s.scalars(select(ContactAttempt))).one()
    assert evidence.content.endswith(b"screenshot") and evidence.attempt_id == attempt.id
    assert attempt.note == "其姐姐说在外地务工" and attempt.attempted_on == date(2026, 11, 24)


async def test_an_attempt_before_joining_the_party_or_in_the_future_is_refused(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    for label in (1, "打电话", "未取得联系"):
        await sec.press(label)
        await sec.reply()
    await sec.send("2030-01-01")
    assert "将来" in (await sec.reply()).text
    await sec.send("1990-01-01")  # before 入党时间
    assert "入党时间" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        assert (await s.scalars(select(ContactAttempt))).all() == []
    assert ids


async def test_forged_log_for_another_branch_answers_no_permission_R_ACL_BRANCH(branch_world):
    [other] = await branch_world.members("二支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    page = await sec.reply()
    for action in ("log", "lognext", "dossier"):
        callback = await sec.press_data(MemberAction(action=action, member_id=other).pack(), page)
        assert (await sec.callback_answer(callback)).text == "无权限"


async def test_meeting_ticks_everyone_and_sets_last_contact(branch_world):
    ids = await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/meeting")
    await sec.reply()
    for label in ("组织生活", "今天", "全选"):
        await sec.press(label)
        await sec.reply()
    await sec.press("保存")
    assert "3人" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        dates = [(await s.get(Member, i)).last_org_life for i in ids]
    assert dates == [date(2026, 11, 25)] * 3
    await sec.send("/lost")
    assert "0人" in (await sec.reply()).text


async def test_dossier_lists_events_in_order_with_who(branch_world):
    await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    for label in (1, "打电话", "未取得联系", "今天", "跳过，保存"):
        await sec.press(label)
        await sec.reply()
    async with branch_world.app.sessionmaker() as s:
        attempt = (await s.scalars(select(ContactAttempt))).one()
        logged = await s.get(Member, attempt.member_id)
    await sec.send(f"/members {logged.name}")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("档案")
    text = (await sec.reply()).text
    assert "查找" in text and "打电话" in text


async def test_correct_an_attempt_from_the_card_keeps_the_old_version_R_DOSSIER(branch_world):
    await _lost_branch(branch_world)
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    for label in (1, "打电话", "未取得联系", "今天", "跳过，保存"):
        await sec.press(label)
        await sec.reply()
    async with branch_world.app.sessionmaker() as s:
        first = (await s.scalars(select(ContactAttempt))).one()
    await sec.send("/members")
    page = await sec.reply()
    await sec.callback_answer(
        await sec.press_data(
            MemberAction(action="attempts", member_id=first.member_id).pack(), page
        )
    )
    listing = await sec.reply()
    assert "共1次" in listing.text
    await sec.press("1")
    await sec.reply()
    await sec.press("更正结果")
    await sec.reply()
    await sec.press("获得线索")
    assert "已更正" in (await sec.reply()).text
    await sec.press("返回卡片")
    await sec.reply()
    await sec.press("查找记录")
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("更正日期")
    await sec.reply()
    await sec.send("2026-11-20")
    assert "2026-11-20" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        rows = (await s.scalars(select(ContactAttempt).order_by(ContactAttempt.id))).all()
    assert [(r.result, str(r.attempted_on), r.superseded_by_id is None) for r in rows] == [
        ("not_reached", "2026-11-25", False),
        ("lead", "2026-11-25", False),
        ("lead", "2026-11-20", True),
    ]


async def test_family_members_are_the_first_informants_offered_and_recorded(branch_world):
    """SPEC §4 channel group 2 / issue 8 item 6: 家庭主要成员 come first as 知情人,
    still five taps; the attempt records whom it reached."""

    ids = await _lost_branch(branch_world)
    secretary = Actor(101, (Grant(Role.SECRETARY, branch_world.orgs["一支部"]),))
    async with branch_world.app.sessionmaker() as s:
        await family.add_relative(
            s, secretary, ids[0], Relative("配偶", "李示例", "示例公司", "13900007777")
        )
        other = await family.add_relative(s, secretary, ids[1], Relative("父亲", "王示例"))
        other_id = other.id
    sec = branch_world.user(101)
    await sec.send("/log")
    await sec.reply()
    await sec.press(1)  # the longest lost: ids[0]
    channels = await sec.reply()
    informant = "👪 配偶 李示例 示例公司 13900007777"
    labels = channels.button_texts
    assert informant in labels and labels.index(informant) < labels.index("亲属")
    assert not any("王示例" in text for text in labels)  # another member's family
    taps = 1
    for label in (informant, "取得联系", "今天", "跳过，保存"):
        await sec.press(label)
        taps += 1
        reply = await sec.reply()
    assert taps <= 5 and "已保存" in reply.text and "亲属" in reply.text
    async with branch_world.app.sessionmaker() as s:
        [attempt] = (await s.scalars(select(ContactAttempt))).all()
    assert (attempt.channel, attempt.channel_group, attempt.contact_person) == (
        "relative",
        2,
        "配偶 李示例",
    )
    # Forged: another member's relative on this member's walk (R-ACL-BRANCH).
    await sec.send("/log")
    await sec.reply()
    await sec.press(1)
    walk = await sec.reply()
    forged = await sec.press_data(LogStep(step="informant", value=str(other_id)).pack(), walk)
    assert (await sec.callback_answer(forged)).text == "无权限"
