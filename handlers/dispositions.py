"""Settling a case in chat (处置, SPEC §5, seed 002): from the card's
“⚖️ 处置” the member's cases and the outcomes the rules allow; each step a
short flow asking only the facts the step needs (R-PROCEDURE); committee
decisions (批准 / 退回) sent to every committee user over the branch, the first
answer counting; /pending (待办) and /recheck (回头看); appeals (申诉).

Every id from a button goes through the service again (R-ACL-BRANCH); the
rules are domain/dispositions.py's, never repeated here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.dates import parse_date
from domain.dispositions import PLANS, Outcome, Side, Step
from domain.errors import N_, InvalidInput
from handlers import disposition_view as dv
from handlers.buttons import STALE_BUTTON, from_button
from handlers.filters import HasRole
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.services import dispositions as cases
from storage.services import recipients
from storage.services.access import AccessDenied, Actor, Role, require_member

log = logging.getLogger(__name__)

router = Routes("dispositions")
router.filter(HasRole(Role.SECRETARY, Role.COMMITTEE))


class CaseFlow(StatesGroup):
    title = __("处置")  # named when a command leaves the flow (bot/flows.py)
    fact = State()  # one fact of a step at a time (the key in the data)
    confirm = State()  # the summary, 保存 / 取消
    return_reason = State()  # 退回: why
    withdraw_reason = State()
    appeal_date = State()
    appeal_text = State()
    review_result = State()
    review_date = State()


# ---- showing ---------------------------------------------------------------------------------


async def _names(session: AsyncSession, views: Iterable[Any]) -> dict[int, str]:
    ids = {e.by for v in views for e in v.events if e.by is not None}
    return {uid: name for uid, (name, _loc) in (await recipients.people(session, ids)).items()}


async def show_cases(
    message: Message, session: AsyncSession, actor: Actor, member_id: int, today: date
) -> None:
    views = await cases.member_cases(session, actor, member_id)
    options = await cases.options(session, actor, member_id, today)
    member = views[0].member if views else None
    if member is None:
        member = await require_member(session, actor, member_id)
    await message.answer(
        dv.cases_text(member, views, options),
        reply_markup=dv.cases_keyboard(member, views, options),
    )


async def show_case(message: Message, session: AsyncSession, actor: Actor, view: Any) -> None:
    names = await _names(session, [view])
    await message.answer(
        dv.case_text(view, names),
        reply_markup=dv.case_keyboard(view, cases.sides(actor, view.member)),
    )


async def _show_case_id(
    message: Message, session: AsyncSession, actor: Actor, disposition_id: int
) -> None:
    await show_case(message, session, actor, await cases.case(session, actor, disposition_id))


@router.callback_query(MemberAction.filter(F.action == "dispose"))
async def from_card(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await state.clear()
    await show_cases(call.message, session, actor, callback_data.member_id, clock.today())


@router.callback_query(dv.CaseAction.filter(F.action == "cases"))
async def member_cases(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await state.clear()
    await show_cases(call.message, session, actor, callback_data.id, clock.today())


@router.callback_query(dv.CaseAction.filter(F.action == "view"))
async def view_case(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await state.clear()
    await _show_case_id(call.message, session, actor, callback_data.id)


# ---- opening a case --------------------------------------------------------------------------


def _outcome(code: str) -> Outcome:
    return from_button(Outcome.of, code)


@router.callback_query(dv.CaseAction.filter(F.action == "new"))
async def confirm_open(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    """The rules are asked again: a button shown yesterday may be refused today."""
    assert isinstance(call.message, Message)
    outcome = _outcome(callback_data.arg)
    options = dict(await cases.options(session, actor, callback_data.id, clock.today()))
    refused = options.get(outcome)
    if refused is not None:
        raise refused
    steps = "→".join(r.step.label for r in PLANS[outcome])
    await call.message.answer(
        _("开始办理“{outcome}”？\n办理步骤：{steps}").format(outcome=outcome.label, steps=steps),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [dv.button(_("✅ 开始办理"), "go", callback_data.id, outcome.value)],
                [dv.button(_("↩ 返回"), "cases", callback_data.id)],
            ]
        ),
    )


@router.callback_query(dv.CaseAction.filter(F.action == "go"))
async def open_case(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    outcome = _outcome(callback_data.arg)
    view = await cases.open_case(session, actor, callback_data.id, outcome, clock.today())
    await call.message.edit_reply_markup(reply_markup=None)
    await show_case(call.message, session, actor, view)


# ---- recording a step ------------------------------------------------------------------------


@router.callback_query(dv.CaseAction.filter(F.action == "rec"))
async def start_step(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    view = await cases.case(session, actor, callback_data.id)
    rule = view.standing.next
    if rule is None or rule.decision or str(view.standing.position) != callback_data.arg:
        raise InvalidInput(N_("这一步已经处理过了，按钮已失效。"))
    if rule.side not in cases.sides(actor, view.member):
        raise InvalidInput(N_("“{step}”不由您这一方办理。"), step=rule.step.label)
    await state.set_state(CaseFlow.fact)
    await state.set_data(
        {
            "disposition_id": view.disposition.id,
            "step": rule.step.value,
            "keys": dv.keys_for(rule),
            "base": dv.keys_for(rule),
            "i": 0,
            "facts": {},
        }
    )
    await _ask(call.message, state)


async def _ask(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    keys = data["keys"]
    text, keyboard = dv.ask(keys[data["i"]], Step.of(data["step"]), data["i"] + 1, len(keys))
    await message.answer(text, reply_markup=keyboard)


async def _take(message: Message, state: FSMContext, value: Any) -> None:
    """Keep one answer (JSON-safe: dates as ISO text) and ask the next, or show
    the summary."""
    data = await state.get_data()
    keys: list[str] = data["keys"]
    key = keys[data["i"]]
    facts = dict(data["facts"])
    facts[key] = value.isoformat() if isinstance(value, date) else value
    extra = [k for k in dv.follow_ups(key, value) if k not in keys]
    keys = keys[: data["i"] + 1] + extra + keys[data["i"] + 1 :]
    await state.update_data(facts=facts, keys=keys, i=data["i"] + 1)
    if data["i"] + 1 < len(keys):
        await _ask(message, state)
        return
    await state.set_state(CaseFlow.confirm)
    step = Step.of(data["step"])
    shown = {k: v for k, v in facts.items() if k != dv.ON}
    await message.answer(
        dv.draft_text(step, facts[dv.ON], shown), reply_markup=dv.confirm_keyboard()
    )


def _typed(key: str, text: str, today: date) -> Any:
    kind = dv.kind_of(key)
    if kind in (dv.Kind.DATE, dv.Kind.FUTURE_DATE):
        future = kind is dv.Kind.FUTURE_DATE
        return parse_date(text, today=today, allow_future=future).first_day()
    if kind is dv.Kind.NUMBER:
        return dv.parse_number(text)
    if kind is dv.Kind.TEXT:
        value = text.strip()
        if not value:
            raise InvalidInput(N_("请写上内容。"))
        if len(value) > dv.MAX_TEXT:
            raise InvalidInput(N_("最多{max}个字"), max=dv.MAX_TEXT)
        return value
    raise InvalidInput(N_("请点按钮选择。"))


@router.message(CaseFlow.fact, F.text)
async def typed_fact(message: Message, state: FSMContext, clock: Clock) -> None:
    data = await state.get_data()
    key = data["keys"][data["i"]]
    try:
        value = _typed(key, message.text or "", clock.today())
    except InvalidInput as exc:  # ask again, with the reason
        await message.answer(html.quote(exc.render(_)))
        await _ask(message, state)
        return
    await _take(message, state, value)


@router.callback_query(CaseFlow.fact, dv.FlowAnswer.filter())
async def tapped_fact(
    call: CallbackQuery, callback_data: dv.FlowAnswer, state: FSMContext, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    key = data["keys"][data["i"]]
    kind, tapped = dv.kind_of(key), callback_data.value
    value: Any
    if tapped == dv.TODAY and kind is dv.Kind.DATE:
        value = clock.today()
    elif tapped in (dv.YES, dv.NO) and kind is dv.Kind.YES_NO:
        value = tapped == dv.YES
    elif kind is dv.Kind.CHOICE and tapped in {c.value for c in dv.CHOICES[key]}:
        value = tapped
    elif tapped == dv.SKIP and key in dv.OPTIONAL:
        value = None
    else:
        raise InvalidInput(STALE_BUTTON)
    await call.message.edit_reply_markup(reply_markup=None)
    await _take(call.message, state, value)


@router.message(CaseFlow.confirm)
async def confirm_reminder(message: Message) -> None:
    await message.answer(_("请点“保存”或“取消”。"))


@router.callback_query(CaseFlow.confirm, dv.FlowAnswer.filter(F.value == dv.SAVE))
async def save_step(
    call: CallbackQuery,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    facts: dict[str, Any] = {}
    for key, value in data["facts"].items():
        if value is not None and dv.kind_of(key) in (dv.Kind.DATE, dv.Kind.FUTURE_DATE):
            value = date.fromisoformat(value)
        facts[key] = value
    on = facts.pop(dv.ON)
    try:
        view = await cases.record_step(
            session, actor, data["disposition_id"], Step.of(data["step"]), on, facts, clock.today()
        )
    except InvalidInput as exc:
        # The rules refused the whole (votes over the number present, a date
        # before the last step…): say why and ask the step again.
        await call.message.edit_reply_markup(reply_markup=None)
        await call.message.answer(html.quote(exc.render(_)) + "\n" + _("请重新填写。"))
        await state.set_state(CaseFlow.fact)
        await state.update_data(i=0, facts={}, keys=data["base"])
        await _ask(call.message, state)
        return
    await state.clear()
    await call.message.edit_reply_markup(reply_markup=None)
    await call.message.answer(_("✅ 已保存。"))
    await show_case(call.message, session, actor, view)
    await announce(bot, i18n, session, view, actor)


# ---- decisions -------------------------------------------------------------------------------


async def _send(bot: Bot, user_id: int, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await bot.send_message(user_id, text, reply_markup=keyboard)
    except TelegramAPIError as exc:  # blocked, gone: the others are still told
        log.warning("could not tell user %s about a case: %s", user_id, type(exc).__name__)


async def announce(
    bot: Bot, i18n: I18n, session: AsyncSession, view: Any, actor: Actor | None = None
) -> None:
    """When the next step is a committee decision, every committee user over
    the branch gets the case with 批准 / 退回 (each in their own language)."""
    rule = view.standing.next
    if rule is None or not rule.decision:
        return
    approvers = await cases.approvers(session, view.disposition.id)
    people = await recipients.people(session, approvers)
    names = await _names(session, [view])
    for user_id in approvers:
        locale = people.get(user_id, ("", None))[1] or i18n.default_locale
        with i18n.use_locale(locale):
            head = _("⚖️ 请审批：{step}").format(step=rule.step.label)
            text = dv.case_text(view, names, head=head)
            keyboard = InlineKeyboardMarkup(
                inline_keyboard=[
                    dv.decision_buttons(view.disposition.id, view.standing.position),
                    [dv.button(_("📂 查看处置"), "view", view.disposition.id)],
                ]
            )
        await _send(bot, user_id, text, keyboard)


async def tell_branch(
    bot: Bot, i18n: I18n, session: AsyncSession, view: Any, approved: bool, reason: str, by: str
) -> None:
    """The secretary is told the committee's answer."""
    secretaries = await recipients.branch_secretaries(session, view.member.branch_id)
    people = await recipients.people(session, secretaries)
    step = view.events[-1].step if view.events else None
    for user_id in secretaries:
        locale = people.get(user_id, ("", None))[1] or i18n.default_locale
        with i18n.use_locale(locale):
            what = _("批准") if approved else _("退回")
            text = _("⚖️ {name}的“{outcome}”：{step}已{what}（{who}）").format(
                name=html.quote(view.member.name),
                outcome=view.outcome.label,
                step=Step.of(step).label if step else "",
                what=what,
                who=html.quote(by),
            )
            if reason:
                text += "\n" + _("退回原因：{reason}").format(reason=html.quote(reason))
            nxt = view.standing.next
            if nxt is not None:
                text += "\n" + _("下一步：{step}").format(step=nxt.step.label)
            keyboard = InlineKeyboardMarkup(
                inline_keyboard=[[dv.button(_("📂 查看处置"), "view", view.disposition.id)]]
            )
        await _send(bot, user_id, text, keyboard)


async def _decide(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    bot: Bot,
    i18n: I18n,
    data: dict[str, Any],
    reason: str | None,
    *,
    tapped: bool = False,
) -> None:
    """批准 (no ``reason``) or 退回 (with one) the step ``data`` names; then
    the branch and the next approvers are told. A ``tapped`` 批准 loses its
    buttons once the decision is saved."""
    approved = reason is None
    view = await cases.decide_step(
        session,
        actor,
        data["disposition_id"],
        approve=approved,
        expected=data["expected"],
        reason=reason or "",
        today=clock.today(),
    )
    if tapped:
        await message.edit_reply_markup(reply_markup=None)
    me = (await recipients.people(session, [actor.user_id]))[actor.user_id][0]
    await message.answer(_("✅ 已批准。") if approved else _("已退回。"))
    await show_case(message, session, actor, view)
    await tell_branch(bot, i18n, session, view, approved, reason or "", me)
    await announce(bot, i18n, session, view, actor)


@router.callback_query(dv.Decision.filter())
async def decision(
    call: CallbackQuery,
    callback_data: dv.Decision,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    assert isinstance(call.message, Message)
    data = {"disposition_id": callback_data.id, "expected": callback_data.expected}
    if not callback_data.ok:
        # Refused now if the button is stale or not this user's: before asking why.
        view = await cases.case(session, actor, callback_data.id)
        if Side.COMMITTEE not in cases.sides(actor, view.member):
            raise AccessDenied
        if view.standing.position != callback_data.expected or view.standing.next is None:
            raise InvalidInput(N_("这一步已经处理过了，按钮已失效。"))
        await state.set_state(CaseFlow.return_reason)
        await state.set_data(data)
        await call.message.answer(_("请写明退回的原因："))
        return
    await _decide(call.message, session, actor, clock, bot, i18n, data, None, tapped=True)


@router.message(CaseFlow.return_reason, F.text)
async def return_with_reason(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    reason = (message.text or "").strip()
    await state.clear()
    await _decide(message, session, actor, clock, bot, i18n, data, reason)


# ---- withdrawing, appeals --------------------------------------------------------------------


async def _begin(
    call: CallbackQuery,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    flow: State,
    case_id: int,
    **extra: Any,
) -> Message:
    """A flow about the tapped case: the case is read first (refused if not
    the user's, R-ACL-BRANCH), then the flow starts; returns where to ask."""
    assert isinstance(call.message, Message)
    await cases.case(session, actor, case_id)
    await state.set_state(flow)
    await state.set_data({"disposition_id": case_id, **extra})
    return call.message


@router.callback_query(dv.CaseAction.filter(F.action == "wd"))
async def ask_withdraw(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    message = await _begin(call, session, actor, state, CaseFlow.withdraw_reason, callback_data.id)
    await message.answer(_("请写明撤回这项处置的原因："))


@router.message(CaseFlow.withdraw_reason, F.text)
async def withdraw(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.clear()
    view = await cases.withdraw(
        session, actor, data["disposition_id"], (message.text or "").strip(), clock.today()
    )
    await message.answer(_("已撤回。"))
    await show_case(message, session, actor, view)


@router.callback_query(dv.CaseAction.filter(F.action == "appeal"))
async def ask_appeal(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    message = await _begin(call, session, actor, state, CaseFlow.appeal_date, callback_data.id)
    text, keyboard = dv.date_prompt(_("登记申诉：申诉日期"))
    await message.answer(text, reply_markup=keyboard)


async def _day(message: Message, text: str, today: date) -> date | None:
    try:
        return parse_date(text, today=today).first_day()
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))
        return None


@router.message(CaseFlow.appeal_date, F.text)
async def appeal_date(message: Message, state: FSMContext, clock: Clock) -> None:
    day = await _day(message, message.text or "", clock.today())
    if day is not None:
        await _appeal_text(message, state, day)


@router.callback_query(CaseFlow.appeal_date, dv.FlowAnswer.filter(F.value == dv.TODAY))
async def appeal_today(call: CallbackQuery, state: FSMContext, clock: Clock) -> None:
    assert isinstance(call.message, Message)
    await _appeal_text(call.message, state, clock.today())


async def _appeal_text(message: Message, state: FSMContext, day: date) -> None:
    await state.update_data(on=day.isoformat())
    await state.set_state(CaseFlow.appeal_text)
    await message.answer(_("请写明申诉的内容（申诉人、理由）："))


@router.message(CaseFlow.appeal_text, F.text)
async def save_appeal(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.clear()
    await cases.file_appeal(
        session,
        actor,
        data["disposition_id"],
        date.fromisoformat(data["on"]),
        (message.text or "").strip(),
        clock.today(),
    )
    await message.answer(_("✅ 申诉已登记。"))
    await _show_case_id(message, session, actor, data["disposition_id"])


@router.callback_query(dv.CaseAction.filter(F.action == "review"))
async def ask_review(
    call: CallbackQuery,
    callback_data: dv.CaseAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    message = await _begin(
        call,
        session,
        actor,
        state,
        CaseFlow.review_result,
        callback_data.id,
        appeal_id=from_button(int, callback_data.arg),
    )
    await message.answer(_("请写明申诉复查的结果："))


@router.message(CaseFlow.review_result, F.text)
async def review_result(message: Message, state: FSMContext) -> None:
    await state.update_data(result=(message.text or "").strip())
    await state.set_state(CaseFlow.review_date)
    text, keyboard = dv.date_prompt(_("复查日期"))
    await message.answer(text, reply_markup=keyboard)


async def _save_review(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
    day: date,
) -> None:
    data = await state.get_data()
    await state.clear()
    await cases.review_appeal(session, actor, data["appeal_id"], data["result"], day, clock.today())
    await message.answer(_("✅ 复查结果已记录。"))
    await _show_case_id(message, session, actor, data["disposition_id"])


@router.message(CaseFlow.review_date, F.text)
async def review_date(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, state: FSMContext
) -> None:
    day = await _day(message, message.text or "", clock.today())
    if day is not None:
        await _save_review(message, session, actor, clock, state, day)


@router.callback_query(CaseFlow.review_date, dv.FlowAnswer.filter(F.value == dv.TODAY))
async def review_today(
    call: CallbackQuery, session: AsyncSession, actor: Actor, clock: Clock, state: FSMContext
) -> None:
    assert isinstance(call.message, Message)
    await _save_review(call.message, session, actor, clock, state, clock.today())


# ---- /pending, /recheck ----------------------------------------------------------------------


@router.message(Command("pending"))
async def pending(message: Message, session: AsyncSession, actor: Actor, clock: Clock) -> None:
    items = await cases.pending(session, actor, clock.today())
    if not items:
        await message.answer(_("没有等待您办理或审批的处置。"))
        return
    lines = [_("<b>待办</b>（共{n}件，最早的在前）").format(n=len(items))]
    rows = []
    for i, item in enumerate(items, 1):
        v, rule = item.view, item.rule
        what = _("审批") if rule.decision else _("办理")
        since = v.standing.last_on or v.disposition.opened_on
        lines.append(
            f"{i}. <b>{html.quote(v.member.name)}</b>（{html.quote(v.member.branch.name)}）"
            f" · {v.outcome.label}：{what}“{rule.step.label}”，{since.isoformat()}起"
        )
        rows.append(
            [dv.button(f"{i}. {v.member.name} · {rule.step.label}", "view", v.disposition.id)]
        )
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.message(Command("recheck"), HasRole(Role.COMMITTEE))
async def recheck(message: Message, session: AsyncSession, actor: Actor, clock: Clock) -> None:
    items = await cases.recheck(session, actor, clock.today())
    if not items:
        await message.answer(_("回头看：已作出的处置都没有发现问题。"))
        return
    lines = [_("<b>回头看</b>：{n}件处置需要核查").format(n=len(items))]
    rows = []
    for i, item in enumerate(items, 1):
        v = item.view
        lines.append(
            f"{i}. <b>{html.quote(v.member.name)}</b>（{html.quote(v.member.branch.name)}）"
            f" · {v.outcome.label}"
        )
        lines += [f"   ✖ {html.quote(p.render(_))}" for p in item.problems]
        rows.append(
            [dv.button(f"{i}. {v.member.name} · {v.outcome.label}", "view", v.disposition.id)]
        )
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.message(StateFilter(CaseFlow))
async def not_understood(message: Message) -> None:
    """Anything else in a step (a photo, a sticker): say what is asked."""
    await message.answer(_("请输入文字，或点上面的按钮。发送 /cancel 取消。"))
