"""/sweep — the first sweep on a phone (集中摸排): member after member, the five
checks as buttons, the bot's own findings shown first. A clean member takes
one tap (“全部符合”); the walk resumes where it stopped, after a restart too."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import N_, InvalidInput
from domain.member_fields import FIELD_BY_KEY
from domain.sweep import COMPUTED, Answer, Check, fields_to_fill, is_clean
from handlers import sweep_stats
from handlers.buttons import from_button
from handlers.filters import HasRole
from handlers.member_view import MemberAction
from handlers.routes import Routes
from storage.models import Campaign, Organisation
from storage.services import campaigns, sweep
from storage.services import review as reviews
from storage.services.access import Actor, Role
from storage.services.sweep import MemberSweep

router = Routes("sweep")
router.filter(HasRole(Role.SECRETARY))

MARK = {Answer.ok: "✔", Answer.problem: "✘", Answer.pending: "…"}


class SweepAct(CallbackData, prefix="sw"):
    """``op``: go (campaign·branch) / all / set / skip; ids and codes only."""

    op: str
    campaign_id: int
    branch_id: int = 0
    member_id: int = 0
    check: int = 0
    answer: str = ""


class SweepFlow(StatesGroup):
    title = __("五核查")  # named when a command leaves the flow (bot/flows.py)
    note = State()
    referral = State()


@dataclass(frozen=True)
class _Walk:
    """What every step of the walk reads: this update's session and user, the
    clock and the settings (pocket days), travelling as one."""

    session: AsyncSession
    actor: Actor
    clock: Clock
    settings: Settings

    async def member(self, campaign_id: int, member_id: int) -> MemberSweep:
        return await sweep.member_sweep(
            self.session,
            self.actor,
            campaign_id,
            member_id,
            self.clock.today(),
            self.settings.pocket_days,
        )


async def _targets(session: AsyncSession, actor: Actor) -> list[tuple[Campaign, int]]:
    """(campaign, branch) pairs this secretary sweeps."""
    pairs = []
    for campaign in await campaigns.visible_campaigns(session, actor):
        _c, _stages, branches = await campaigns.campaign_detail(session, actor, campaign.id)
        pairs += [(campaign, b.id) for b in branches if b.id in actor.orgs(Role.SECRETARY)]
    return pairs


@router.message(Command("sweep"))
async def start(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, settings: Settings
) -> None:
    targets = await _targets(session, actor)
    # Staff who are also a secretary choose between the walk and the figures.
    committee = await sweep_stats.committee_campaigns(session, actor)
    if not targets and committee:
        await sweep_stats.show_committee_sweep(message, session, actor, clock, settings)
        return
    if not targets:
        await message.answer(_("您的党支部目前不在任何进行中的排查范围内。"))
        return
    if len(targets) == 1 and not committee:
        campaign, branch_id = targets[0]
        await _show_next(message, _Walk(session, actor, clock, settings), campaign.id, branch_id)
        return
    rows = [
        [
            InlineKeyboardButton(
                text=_("✅ 逐人五核查：{name}").format(name=campaign.name)
                if committee
                else campaign.name,
                callback_data=SweepAct(op="go", campaign_id=campaign.id, branch_id=b).pack(),
            )
        ]
        for campaign, b in targets
    ]
    rows += [[sweep_stats.stats_button(c)] for c in committee]
    await message.answer(_("哪一次排查？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(SweepAct.filter(F.op.in_({"go", "skip"})))
async def go(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    """A campaign chosen (the walk from where it stopped) or 下一位 ⏭ (the
    member after this one): “go” carries no member id, so no ``after``."""
    assert isinstance(call.message, Message)
    act = callback_data
    walk = _Walk(session, actor, clock, settings)
    await _show_next(
        call.message, walk, act.campaign_id, act.branch_id, after=act.member_id or None
    )


async def _show_next(
    message: Message, walk: _Walk, campaign_id: int, branch_id: int, after: int | None = None
) -> None:
    session, actor = walk.session, walk.actor
    member_id = await sweep.next_member(session, actor, campaign_id, branch_id, after=after)
    line = await _progress_line(session, actor, campaign_id, branch_id)
    if member_id is None:
        await message.answer(
            line
            + "\n"
            + _("✅ 本支部全部党员已核查完毕。待完善和有问题的事项可在“待办”中继续处理。")
        )
        return
    await _show_member(message, walk, campaign_id, member_id, line)


async def _progress_line(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> str:
    state = await sweep.branch_progress(session, actor, campaign_id, branch_id)
    return _("进度：已核查{checked}/{total}人 · 待完善{pending}项 · 发现问题{problems}项").format(
        checked=state.checked, total=state.in_scope, pending=state.pending, problems=state.problems
    )


async def _show_member(
    message: Message,
    walk: _Walk,
    campaign_id: int,
    member_id: int,
    head: str = "",
    *,
    edit: bool = False,
) -> None:
    """The member's five checks; ``edit`` redraws the view a tap came from
    instead of sending another message (one member, one message)."""
    view = await walk.member(campaign_id, member_id)
    member = view.member
    lines = [head] if head else []
    lines.append(
        _("<b>{name}</b>（{gender}）").format(name=html.quote(member.name), gender=member.gender)
    )
    for check in Check:
        answered = view.answers.get(check)
        mark = MARK[answered] if answered else "○"
        lines.append(f"{mark} {int(check)}. {_(check.label)}")
        for finding in view.findings.get(check, []):
            lines.append("   · " + html.quote(finding.render(_)))
        if check not in COMPUTED and not answered:
            lines.append("   · " + _(check.hint))

    def b(text: str, op: str, check: int = 0, answer: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=text,
            callback_data=SweepAct(
                op=op,
                campaign_id=campaign_id,
                branch_id=member.branch_id,
                member_id=member.id,
                check=check,
                answer=answer,
            ).pack(),
        )

    rows = []
    if is_clean(view.findings):
        rows.append([b(_("✔ 全部符合"), "all")])
    for check in Check:
        rows.append(
            [
                b(f"{int(check)} ✔", "set", int(check), Answer.ok.value),
                b(f"{int(check)} ✘", "set", int(check), Answer.problem.value),
                b(f"{int(check)} " + _("待完善"), "set", int(check), Answer.pending.value),
            ]
        )
    # One tap to the missing field itself; filling it closes the 待完善 by itself.
    fill = [
        InlineKeyboardButton(
            text="✏️ " + _(FIELD_BY_KEY[key].label),
            callback_data=MemberAction(action="field", member_id=member.id, arg=key).pack(),
        )
        for key in fields_to_fill(view.findings)[:6]
    ]
    rows += [fill[i : i + 3] for i in range(0, len(fill), 3)]
    rows.append([b(_("下一位 ⏭"), "skip")])
    markup = InlineKeyboardMarkup(inline_keyboard=rows)
    if edit:
        await message.edit_text("\n".join(lines), reply_markup=markup)
    else:
        await message.answer("\n".join(lines), reply_markup=markup)


@router.message(Command("todo"))
async def todo(message: Message, session: AsyncSession, actor: Actor) -> None:
    """Every open 待完善 and ✘ of the branch, and the working group's open
    findings, by member, each a tap from the member's checks."""
    targets = await _targets(session, actor)
    if not targets:
        await message.answer(_("您的党支部目前不在任何进行中的排查范围内。"))
        return
    for campaign, branch_id in targets:
        text, keyboard = await _todo(session, actor, campaign, branch_id)
        await message.answer(text, reply_markup=keyboard)


async def _todo(
    session: AsyncSession, actor: Actor, campaign: Campaign, branch_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    items = await sweep.open_items(session, actor, campaign.id, branch_id)
    lines = [_("<b>{name}</b> · 待办{n}项").format(name=html.quote(campaign.name), n=len(items))]
    people: dict[int, str] = {}
    for item in items[:60]:
        note = f"：{html.quote(item.note)}" if item.note else ""
        lines.append(
            f"{MARK[item.answer]} {html.quote(item.name)} · {int(item.check)}. {_(item.check.label)}{note}"
        )
        people.setdefault(item.member_id, item.name)
    findings = await reviews.open_findings(session, actor, campaign.id, branch_id)
    if findings:
        lines.append(_("党委核查发现（{n}条）：").format(n=len(findings)))
    for finding in findings[:30]:
        who = html.quote(finding.member_name) if finding.member_name else _("支部")
        lines.append(f"• {who}：{html.quote(finding.text)}")
        if finding.member_id is not None and finding.member_name:
            people.setdefault(finding.member_id, finding.member_name)
    buttons = [
        InlineKeyboardButton(
            text=name,
            callback_data=SweepAct(
                op="member", campaign_id=campaign.id, branch_id=branch_id, member_id=member_id
            ).pack(),
        )
        for member_id, name in people.items()
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


@router.callback_query(SweepAct.filter(F.op == "member"))
async def open_member(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    walk = _Walk(session, actor, clock, settings)
    await _show_member(call.message, walk, callback_data.campaign_id, callback_data.member_id)


@router.callback_query(SweepAct.filter(F.op == "all"))
async def all_ok(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    await sweep.answer_checks(
        session,
        actor,
        callback_data.campaign_id,
        callback_data.member_id,
        dict.fromkeys(Check, Answer.ok),
    )
    await call.message.edit_reply_markup(reply_markup=None)
    walk = _Walk(session, actor, clock, settings)
    await _show_next(call.message, walk, callback_data.campaign_id, callback_data.branch_id)


@router.callback_query(SweepAct.filter(F.op == "set"))
async def set_one(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    check = from_button(Check, callback_data.check)
    answer = from_button(Answer.of, callback_data.answer)
    if answer is Answer.problem:
        await state.set_state(SweepFlow.note)
        await state.set_data(callback_data.model_dump())
        await call.message.answer(
            _("第{n}项“{label}”有什么问题？请简要写明：").format(n=int(check), label=_(check.label))
        )
        return
    await sweep.answer_checks(
        session, actor, callback_data.campaign_id, callback_data.member_id, {check: answer}
    )
    walk = _Walk(session, actor, clock, settings)
    await _after_answer(call.message, walk, callback_data, edit=True)


async def _after_answer(
    message: Message, walk: _Walk, act: SweepAct, *, edit: bool = False
) -> None:
    view = await walk.member(act.campaign_id, act.member_id)
    if len(view.answers) == len(Check):
        await _show_next(message, walk, act.campaign_id, act.branch_id)
        return
    head = await _progress_line(walk.session, walk.actor, act.campaign_id, act.branch_id)
    await _show_member(message, walk, act.campaign_id, act.member_id, head, edit=edit)


@router.message(SweepFlow.note, F.text)
async def problem_note(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    act = SweepAct(**await state.get_data())
    try:
        await sweep.answer_checks(
            session,
            actor,
            act.campaign_id,
            act.member_id,
            {Check(act.check): Answer.problem},
            note=message.text,
        )
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))
        return
    await state.clear()
    if Check(act.check) in ESCALATE:
        await _offer_escalation(message, act)
        return
    await _after_answer(message, _Walk(session, actor, clock, settings), act)


# Check 2 can reveal a doubtful membership, check 5 a suspected offence (SPEC §2a).
ESCALATE = {
    Check.file: ("identity", N_("⚠️ 疑似违规入党或无法认定党员身份：报告党委")),
    Check.conduct: ("discipline", N_("⚠️ 疑似违纪违法：记录移交")),
}


async def _offer_escalation(message: Message, act: SweepAct) -> None:
    kind, label = ESCALATE[Check(act.check)]
    rows = [
        [
            InlineKeyboardButton(
                text=_(label),
                callback_data=act.model_copy(update={"op": "esc", "answer": kind}).pack(),
            )
        ],
        [
            InlineKeyboardButton(
                text=_("不需要，继续"),
                callback_data=act.model_copy(update={"op": "noesc", "answer": ""}).pack(),
            )
        ],
    ]
    await message.answer(
        _("需要上报或移交吗？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(SweepAct.filter(F.op == "noesc"))
async def no_escalation(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    await _after_answer(call.message, _Walk(session, actor, clock, settings), callback_data)


@router.callback_query(SweepAct.filter(F.op == "esc"))
async def escalation(
    call: CallbackQuery,
    callback_data: SweepAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
) -> None:
    assert isinstance(call.message, Message)
    if callback_data.answer == "discipline":
        await state.set_state(SweepFlow.referral)
        await state.set_data(callback_data.model_dump())
        await call.message.answer(
            _("移交给哪里？（如：纪检监察机关、公安机关）此事不在本系统中处理，只记录移交情况。")
        )
        return
    walk = _Walk(session, actor, clock, settings)
    await _escalate(call.message, walk, callback_data, bot, _("上级党委"))


@router.message(SweepFlow.referral, F.text)
async def referral(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    bot: Bot,
) -> None:
    act = SweepAct(**await state.get_data())
    await state.clear()
    walk = _Walk(session, actor, clock, settings)
    await _escalate(message, walk, act, bot, message.text or "")


async def _escalate(
    message: Message, walk: _Walk, act: SweepAct, bot: Bot, referred_to: str
) -> None:
    view = await walk.member(act.campaign_id, act.member_id)
    row, staff = await sweep.escalate(
        walk.session,
        walk.actor,
        act.campaign_id,
        act.member_id,
        kind=act.answer,
        referred_to=referred_to,
    )
    member = view.member
    branch = await walk.session.get(Organisation, member.branch_id)
    summary = _(
        "⚠️ 排查上报：{branch} 党员 <b>{name}</b>（{gender}，{birth}出生，{joined}入党）疑似违规入党或无法认定党员身份，请核查。"
    ).format(
        branch=html.quote(branch.name if branch else ""),
        name=html.quote(member.name),
        gender=member.gender,
        birth=member.birth,
        joined=member.joined,
    )
    for user_id in staff:  # the one sender rate-limits these
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(user_id, summary)
    text = (
        _("已报告党委（{n}人收到）。").format(n=len(staff))
        if row.kind == "identity"
        else _("已记录移交：{to}").format(to=html.quote(row.referred_to))
    )
    await message.answer(text)
    await _after_answer(message, walk, act)
