"""Settling a case in chat, end to end (SPEC §5, seed 002): the outcomes the
rules refuse are shown with the reason, never as a button; one member walked
from 仍无法取得联系 through 停止党籍 and, two years on the injected clock, to
自行脱党除名 with every step and approval (R-PROCEDURE, R-SUSPEND-2Y); the
first answer counts and a replayed button is refused; /pending for the right
person only; a forged button for another branch's case is refused
(R-ACL-BRANCH)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.runner import assemble
from bot.sender import Sender
from domain.clock import FixedClock, ShiftedClock
from emulator import ChatUser
from emulator.models import BotMessage
from handlers.disposition_view import CaseAction, Decision
from handlers.member_view import MemberAction
from storage.db import write_tx
from storage.models import DispositionEvent, Member, SearchOutcome
from storage.services.access import Role
from tests.e2e.conftest import NOW, World
from tests.e2e.test_update_once import Recorder

SHANGHAI = ZoneInfo("Asia/Shanghai")
FILING_NO = "厦示组〔2026〕12号"


@pytest.fixture
async def cases_world(branch_world: World) -> World:
    """branch_world, restarted on a movable clock and an unthrottled sender."""
    branch_world.clock = await _moving_clock(branch_world)  # type: ignore[attr-defined]
    return branch_world


async def _moving_clock(world: World) -> ShiftedClock:
    """The bot again, on a clock the test moves (the world's own is fixed)."""
    probe = world.user(900)  # the admin
    await probe.send("/help")  # polling has begun, so it can be stopped
    await probe.wait_idle()
    await world.stop()
    clock = ShiftedClock(SHANGHAI, base=FixedClock(SHANGHAI, at=NOW))
    # Many short steps in one chat: without Telegram's per-chat pace, so the
    # replies to one step do not trickle in after the test looked (as
    # tests/e2e/test_commands_leave_flows.py does).
    unthrottled = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
    world.app = await assemble(world.settings, clock, sender=unthrottled)
    world.task = asyncio.create_task(world.app.poll())
    return clock


async def _unreachable(world: World, branch: str = "一支部", start: int = 0) -> int:
    """A member whose search ended 仍无法取得联系 (附件6)."""
    [member_id] = await world.members(branch, 1, start=start)
    assert world.app is not None
    async with world.app.sessionmaker() as s, write_tx(s):
        member = await s.get(Member, member_id)
        assert member is not None
        member.last_org_life = date(2024, 10, 1)
        s.add(
            SearchOutcome(
                member_id=member_id,
                kind="unreachable",
                decided_on=date(2026, 11, 1),
                recorded_by=101,
            )
        )
    return member_id


async def _idle(user: ChatUser) -> list[BotMessage]:
    return await user.wait_idle()


async def _press(user: ChatUser, label: str, message: BotMessage | None = None) -> list[BotMessage]:
    pressed = await user.press(label, message)
    # The press is answered once its handler has returned (aiogram's
    # CallbackAnswerMiddleware): everything it sent is in by then, however
    # slow a loaded machine is, where a quiet spell alone could end too soon.
    await user.callback_answer(pressed, timeout=30)
    return await _idle(user)


async def _send(user: ChatUser, text: str) -> list[BotMessage]:
    await user.send(text)
    return await _idle(user)


def _texts(messages: list[BotMessage]) -> str:
    return "\n".join(m.text for m in messages)


async def _open_cases(user: ChatUser, member_id: int) -> BotMessage:
    """The card's “⚖️ 处置”: the member's cases and the outcomes."""
    await user.send("/members")
    page = await user.reply()
    await user.press_data(MemberAction(action="dispose", member_id=member_id).pack(), page)
    [shown] = await _idle(user)
    return shown


async def _resolution(user: ChatUser, *, signed: bool) -> str:
    """党员大会决议: date, votes (a bad number asked again), signature."""
    await _press(user, "办理：党员大会决议")
    asked = _texts(await _press(user, "今天"))
    assert "到会人数" in asked
    again = _texts(await _send(user, "三十个"))
    assert "整数" in again and "到会人数" in again  # refused with the reason, asked again
    await _send(user, "30")
    await _send(user, "25")
    await _send(user, "3")
    assert "本人是否签字" in _texts(await _send(user, "2"))
    if signed:
        summary = _texts(await _press(user, "是"))
    else:
        assert "未签字的原因" in _texts(await _press(user, "否"))
        summary = _texts(await _send(user, "本人无法取得联系，无法签字"))
    assert "到会30人，赞成25，反对3，弃权2" in summary and "请核对后保存" in summary
    return _texts(await _press(user, "保存"))


async def _upper_filing(user: ChatUser) -> str:
    await _press(user, "办理：报上一级党委组织部门备案")
    bad = _texts(await _send(user, "2026-13-01"))
    assert "没有13月" in bad and "办理日期" in bad  # the one date parser's message, asked again
    assert "文号" in _texts(await _press(user, "今天"))
    await _send(user, FILING_NO)
    return _texts(await _press(user, "保存"))


async def _events(world: World) -> list[tuple[str, str | None]]:
    assert world.app is not None
    async with world.app.sessionmaker() as s:
        rows = await s.scalars(select(DispositionEvent).order_by(DispositionEvent.id))
        return [(str(e.kind), e.step) for e in rows]


async def _disposition_ids(world: World) -> set[int]:
    assert world.app is not None
    async with world.app.sessionmaker() as s:
        return {e.disposition_id for e in await s.scalars(select(DispositionEvent))}


async def _committee(world: World) -> tuple[ChatUser, ChatUser]:
    await world.grant(202, Role.COMMITTEE, "示例党委")
    first = world.user(201, first_name="王组织")
    second = world.user(202, first_name="赵组织")
    for user in (first, second):  # the bot learns their names
        await _send(user, "/help")
    return first, second


async def test_refused_outcomes_are_listed_with_the_reason_and_no_button(cases_world):
    member_id = await _unreachable(cases_world)
    sec = cases_world.user(101)
    shown = await _open_cases(sec, member_id)
    buttons = " ".join(shown.button_texts)
    assert "停止党籍" in buttons
    for refused in ("纳入组织正常管理", "劝退", "自行脱党除名", "恢复党籍"):
        assert refused not in buttons
        assert refused in shown.text
    assert "只适用于已取得联系的党员" in shown.text
    assert "只有被停止党籍满2年仍无法取得联系的党员" in shown.text


async def test_from_unreachable_through_suspension_to_lapse_two_years_on_R_PROCEDURE_R_SUSPEND_2Y(
    cases_world,
):
    clock = cases_world.clock
    member_id = await _unreachable(cases_world)
    first, second = await _committee(cases_world)
    sec = cases_world.user(101, first_name="李书记")
    await _send(sec, "/help")

    # 停止党籍: the branch opens it and records the 党员大会's resolution.
    await _open_cases(sec, member_id)
    await _press(sec, "停止党籍")
    opened = _texts(await _press(sec, "开始办理"))
    assert "下一步：党员大会决议" in opened
    saved = await _resolution(sec, signed=False)
    assert "已保存" in saved and "下一步：基层党委审批" in saved

    # Both committee users get the case with 批准 / 退回; the first answer counts.
    [ask_first] = await _idle(first)
    [ask_second] = await _idle(second)
    for ask in (ask_first, ask_second):
        assert "请审批：基层党委审批" in ask.text and "到会30人，赞成25" in ask.text
        assert "批准" in " ".join(ask.button_texts)
    approved = await _press(first, "批准", ask_first)
    assert "已批准" in _texts(approved)
    assert "📝 办理：报上一级党委组织部门备案" in approved[-1].button_texts
    late = await second.press("批准", ask_second)
    answer = await second.callback_answer(late)
    assert "王组织" in (answer.text or "")  # told who decided
    told = _texts(await _idle(sec))
    assert "已批准" in told and "王组织" in told  # the secretary is told

    # The upper department's filing, recorded by committee staff with its 文号.
    filed = await _upper_filing(first)
    assert "已保存" in filed and "已办结" in filed and FILING_NO in filed
    assert "满2年" in filed

    # The card shows when suspension started and the date two years on.
    await sec.send("/members")
    page = await sec.reply()
    await sec.press_data(MemberAction(action="card", member_id=member_id).pack(), page)
    card = _texts(await _idle(sec))
    today = NOW.date().isoformat()
    ends = NOW.date().replace(year=NOW.year + 2).isoformat()
    assert f"停止党籍：自{today}起，{ends}满2年" in card

    # Before two years, 自行脱党除名 is refused with the date; after, offered.
    shown = await _open_cases(sec, member_id)
    assert "还不满2年" in shown.text and "自行脱党除名" not in " ".join(shown.button_texts)
    clock.shift(timedelta(days=2 * 366))
    shown = await _open_cases(sec, member_id)
    assert "自行脱党除名" in " ".join(shown.button_texts)
    await _press(sec, "自行脱党除名")
    await _press(sec, "开始办理")
    assert "已保存" in await _resolution(sec, signed=True)
    [ask_first] = await _idle(first)
    [ask_second] = await _idle(second)
    assert "自行脱党除名" in ask_second.text
    assert "已批准" in _texts(await _press(second, "批准", ask_second))
    late = await first.press("批准", ask_first)
    assert "赵组织" in ((await first.callback_answer(late)).text or "")
    await _idle(sec)
    done = await _upper_filing(second)
    assert "已办结" in done

    steps = await _events(cases_world)
    assert (
        steps
        == [
            ("recorded", "resolution"),
            ("approved", "approval"),
            ("recorded", "upper_filing"),
        ]
        * 2
    )


async def test_a_replayed_approval_button_is_refused(cases_world):
    member_id = await _unreachable(cases_world)
    first, second = await _committee(cases_world)
    sec = cases_world.user(101)
    await _open_cases(sec, member_id)
    await _press(sec, "停止党籍")
    await _press(sec, "开始办理")
    await _resolution(sec, signed=True)
    [ask] = await _idle(first)
    await _idle(second)
    data = next(d for row in ask.buttons for t, d in row if "批准" in t)
    await _press(first, "批准", ask)
    replay = await first.press_data(data or "", ask)
    refused = (await first.callback_answer(replay)).text or ""
    assert "已由王组织处理" in refused or "失效" in refused
    assert [k for k, _s in await _events(cases_world)].count("approved") == 1


async def test_pending_lists_the_waiting_step_for_the_right_person_only(cases_world):
    member_id = await _unreachable(cases_world)
    first, _second = await _committee(cases_world)
    sec = cases_world.user(101)
    other = cases_world.user(102)
    await _open_cases(sec, member_id)
    await _press(sec, "停止党籍")
    await _press(sec, "开始办理")
    [mine] = await _send(sec, "/pending")
    assert "党员大会决议" in mine.text
    case = await _press(sec, "党员大会决议", mine)  # the button opens the case
    assert "下一步：党员大会决议" in case[-1].text
    [theirs] = await _send(first, "/pending")
    assert "没有等待" in theirs.text
    await _resolution(sec, signed=True)
    await _idle(first)
    [theirs] = await _send(first, "/pending")
    assert "审批“基层党委审批”" in theirs.text
    [mine] = await _send(sec, "/pending")
    assert "没有等待" in mine.text
    [elsewhere] = await _send(other, "/pending")
    assert "没有等待" in elsewhere.text
    await _press(first, theirs.button_texts[0], theirs)
    assert "批准" in " ".join(first.last.button_texts if first.last else ())


async def test_a_forged_button_for_another_branchs_case_is_refused_R_ACL_BRANCH(cases_world):
    member_id = await _unreachable(cases_world)
    sec = cases_world.user(101)
    await _open_cases(sec, member_id)
    await _press(sec, "停止党籍")
    await _press(sec, "开始办理")
    await _resolution(sec, signed=True)
    [disposition_id] = await _disposition_ids(cases_world)
    other = cases_world.user(102)
    await other.send("/help")
    help_message = await other.reply()
    for forged in (
        CaseAction(action="view", id=disposition_id).pack(),
        CaseAction(action="rec", id=disposition_id, arg="1").pack(),
        CaseAction(action="new", id=member_id, arg="suspend").pack(),
        Decision(id=disposition_id, expected=1, ok=True).pack(),
        MemberAction(action="dispose", member_id=member_id).pack(),
    ):
        press = await other.press_data(forged, help_message)
        assert (await other.callback_answer(press)).text == "无权限", forged
    assert [k for k, _s in await _events(cases_world)] == ["recorded"]


async def test_a_vote_count_delivered_again_is_not_taken_as_the_next_answer(cases_world, caplog):
    """Issue 17 point 4: “30” typed as 到会人数 changes only the conversation;
    delivered again (a webhook retry, a restart before the offset was
    confirmed) it is not also counted as 赞成: it stops at its conversation
    write, says nothing, and the next answers go where they belong."""
    caplog.set_level(logging.INFO, logger="bot.middlewares")
    member_id = await _unreachable(cases_world)
    sec = cases_world.user(101, first_name="李书记")
    await _send(sec, "/help")
    recorder = Recorder()
    assert cases_world.app is not None
    cases_world.app.dp.update.outer_middleware(recorder)
    await _open_cases(sec, member_id)
    await _press(sec, "停止党籍")
    await _press(sec, "开始办理")
    await _press(sec, "办理：党员大会决议")
    assert "到会人数" in _texts(await _press(sec, "今天"))
    await _send(sec, "30")
    [typed] = [u for u in recorder.updates if u.message and u.message.text == "30"]
    await cases_world.app.dp.feed_update(cases_world.app.bot, typed)
    assert await _idle(sec) == []
    assert f"update {typed.update_id} was handled already" in caplog.text
    await _send(sec, "25")
    await _send(sec, "3")
    assert "本人是否签字" in _texts(await _send(sec, "2"))
    summary = _texts(await _press(sec, "否"))
    assert "未签字的原因" in summary
    assert "到会30人，赞成25，反对3，弃权2" in _texts(await _send(sec, "本人无法取得联系"))
