"""/log — one search attempt in five taps (记录查找): member → channel → result →
date → note (or skip) → saved. A photo or document sent right after is kept
as that attempt's evidence (查找凭证)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from io import BytesIO

from aiogram import Bot, F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import OptionalStep
from bot.settings import Settings
from domain.channels import AttemptResult, Channel, ChannelGroup, channels_in, suggested_order
from domain.clock import Clock
from domain.clocks import Standing, is_pocket
from domain.codes import Relation
from domain.dates import parse_date
from domain.errors import InvalidInput
from handlers.branch_choice import pick_branch
from handlers.buttons import from_button
from handlers.filters import HasRole
from handlers.member_view import BranchPick, MemberAction, relative_line
from handlers.routes import Routes
from storage.fsm import advance, replace
from storage.models import FamilyMember
from storage.services import family, members, search
from storage.services.access import Actor, Role, require_branch
from storage.services.situations import branch_situations, longest_first

# Relations asked through channel 朋友 rather than 亲属.
FRIENDLY = {Relation.FRIEND.value, Relation.OTHER.value}

router = Routes("search_log")
router.filter(HasRole(Role.SECRETARY))


class SearchLog(StatesGroup):
    title = __("记录查找")  # named when a command leaves the flow (bot/flows.py)
    channel = State()
    result = State()
    day = State()
    note = State()
    # Waiting for a photo or file that may never come: anything else ends it (bot/flows.py).
    evidence = OptionalStep(accepts=F.photo | F.document)


class LogStep(CallbackData, prefix="lg"):
    """One tap of the walk: ``step`` is channel / result / day / skip."""

    step: str
    value: str = ""


def _cancel_row() -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=_("取消"), callback_data="cancel")]


async def _searchable(
    session: AsyncSession, actor: Actor, branch_id: int, today, pocket_days: int
) -> list:  # type: ignore[no-untyped-def]
    rows = await branch_situations(session, actor, branch_id, today, pocket_days=pocket_days)
    return longest_first(rows, Standing.POCKET) + longest_first(rows, Standing.LOST)


@router.message(Command("log"))
async def start_log(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    state: FSMContext,
    settings: Settings,
) -> None:
    await replace(state, None, {})  # state.clear() in one write
    branch = await pick_branch(message, session, actor, "log", write=True)
    if branch is not None:
        await _choose_member(message, session, actor, clock, settings, branch.id)


@router.callback_query(BranchPick.filter(F.purpose == "log"))
async def log_in_branch(
    call: CallbackQuery,
    callback_data: BranchPick,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    await _choose_member(call.message, session, actor, clock, settings, callback_data.branch_id)


async def _choose_member(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    branch_id: int,
) -> None:
    await require_branch(session, actor, branch_id, write=True)
    rows = (await _searchable(session, actor, branch_id, clock.today(), settings.pocket_days))[:30]
    if not rows:
        await message.answer(
            _("本支部目前没有失联或“口袋”党员。要为其他党员记录，请在 /members 中打开其卡片。")
        )
        return
    buttons = [
        [
            InlineKeyboardButton(
                text=f"{r.member.name} · " + _("已查{n}次").format(n=r.attempts),
                callback_data=MemberAction(action="log", member_id=r.member.id).pack(),
            )
        ]
        for r in rows
    ]
    await message.answer(
        _("为谁记录查找？"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[*buttons, _cancel_row()]),
    )


def _channel_keyboard(pocket: bool, relatives: Sequence[FamilyMember] = ()) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    for group in suggested_order(pocket) if pocket else tuple(ChannelGroup):
        if group is ChannelGroup.INFORMANTS:
            # SPEC §4: the member's 家庭主要成员 are the first 知情人 to ask.
            rows += [
                [
                    InlineKeyboardButton(
                        text="👪 " + relative_line(r),
                        callback_data=LogStep(step="informant", value=str(r.id)).pack(),
                    )
                ]
                for r in relatives[:6]
            ]
        buttons = [
            InlineKeyboardButton(
                text=c.label, callback_data=LogStep(step="channel", value=c.value).pack()
            )
            for c in channels_in(group)
        ]
        rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(_cancel_row())
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _channel_text(name: str, pocket: bool) -> str:
    groups = suggested_order(pocket) if pocket else tuple(ChannelGroup)
    lines = [_("为 <b>{name}</b> 记录查找。通过什么渠道？").format(name=html.quote(name))]
    lines += [f"{int(g)}. {g.label}" for g in groups]
    if pocket:
        lines.append(_("“口袋”党员请先联系接收单位党组织。"))
    return "\n".join(lines)


@router.callback_query(MemberAction.filter(F.action == "log"))
async def log_member(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    member = await members.require_writable(session, actor, callback_data.member_id)
    # One member's clock, not the whole branch's situations: this runs on every tap.
    pocket = is_pocket(
        member.transfer_letter_date,
        member.transfer_receipt_date,
        clock.today(),
        settings.pocket_days,
    )
    await replace(state, SearchLog.channel, {"member_id": member.id, "branch_id": member.branch_id})
    relatives = await family.rows_of(session, member.id)
    await call.message.answer(
        _channel_text(member.name, pocket), reply_markup=_channel_keyboard(pocket, relatives)
    )


@router.callback_query(SearchLog.channel, LogStep.filter(F.step == "channel"))
async def chosen_channel(call: CallbackQuery, callback_data: LogStep, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    channel = Channel(callback_data.value)
    await advance(state, SearchLog.result, channel=channel.value, contact_person=None)
    await _ask_result(call.message, channel.label)


@router.callback_query(SearchLog.channel, LogStep.filter(F.step == "informant"))
async def chosen_informant(
    call: CallbackQuery, callback_data: LogStep, state: FSMContext, session: AsyncSession
) -> None:
    """A family member: channel 亲属 (朋友 for friends), and who was asked."""
    assert isinstance(call.message, Message)
    member_id = (await state.get_data())["member_id"]
    relative = await family.relative_of(session, member_id, from_button(int, callback_data.value))
    channel = Channel.FRIEND if relative.relation in FRIENDLY else Channel.RELATIVE
    who = relative_line(relative)
    await advance(
        state,
        SearchLog.result,
        channel=channel.value,
        contact_person=f"{relative.relation} {relative.name}",
    )
    await _ask_result(call.message, f"{channel.label}（{html.quote(who)}）")


async def _ask_result(message: Message, channel: str) -> None:
    buttons = [
        InlineKeyboardButton(
            text=r.label, callback_data=LogStep(step="result", value=r.value).pack()
        )
        for r in AttemptResult
    ]
    await message.edit_text(
        _("渠道：{channel}\n结果如何？").format(channel=channel),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons, _cancel_row()]),
    )


@router.callback_query(SearchLog.result, LogStep.filter(F.step == "result"))
async def chosen_result(call: CallbackQuery, callback_data: LogStep, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    result = AttemptResult(callback_data.value)
    await advance(state, SearchLog.day, result=result.value)
    buttons = [
        InlineKeyboardButton(text=_("今天"), callback_data=LogStep(step="day", value="0").pack()),
        InlineKeyboardButton(text=_("昨天"), callback_data=LogStep(step="day", value="1").pack()),
    ]
    await call.message.edit_text(
        _("结果：{result}\n哪天查找的？点按钮，或输入日期（如 2026-03-18）。").format(
            result=result.label
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons, _cancel_row()]),
    )


async def _ask_note(message: Message, state: FSMContext, day) -> None:  # type: ignore[no-untyped-def]
    await advance(state, SearchLog.note, day=day.isoformat())
    skip = InlineKeyboardButton(text=_("跳过，保存 ✅"), callback_data=LogStep(step="skip").pack())
    await message.answer(
        _("日期：{day}\n补充说明（联系了谁、了解到什么）？直接输入，或点“跳过，保存”。").format(
            day=day.isoformat()
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[skip], _cancel_row()]),
    )


async def _checked_day(state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock, day):  # type: ignore[no-untyped-def]
    """Refuse at once a day before the member joined or in the future."""
    member = await members.get_member(session, actor, (await state.get_data())["member_id"])
    search.check_day(day, clock.today(), member)
    return day


@router.callback_query(SearchLog.day, LogStep.filter(F.step == "day"))
async def tapped_day(
    call: CallbackQuery,
    callback_data: LogStep,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    days_back = 1 if callback_data.value == "1" else 0
    day = await _checked_day(
        state, session, actor, clock, clock.today() - timedelta(days=days_back)
    )
    await _ask_note(call.message, state, day)


@router.message(SearchLog.day, F.text)
async def typed_day(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    try:
        day = parse_date(message.text or "", today=clock.today()).first_day()
        await _checked_day(state, session, actor, clock, day)
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入日期。"))
        return
    await _ask_note(message, state, day)


async def _save(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    note: str | None,
) -> None:
    from datetime import date

    data = await state.get_data()
    attempt = await search.log_attempt(
        session,
        actor,
        data["member_id"],
        channel=data["channel"],
        result=data["result"],
        attempted_on=date.fromisoformat(data["day"]),
        today=clock.today(),
        note=note,
        contact_person=data.get("contact_person"),
    )
    member = await members.get_member(session, actor, data["member_id"])
    await replace(
        state,
        SearchLog.evidence,
        {"attempt_id": attempt.id, "member_id": member.id, "branch_id": member.branch_id},
    )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("再记一次（此人）"),
                    callback_data=MemberAction(action="log", member_id=member.id).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("下一个失联党员"),
                    callback_data=MemberAction(action="lognext", member_id=member.id).pack(),
                )
            ],
        ]
    )
    await message.answer(
        _(
            "✅ 已保存：{name} · {day} · {channel} · {result}\n如有通话截图、信函等，可直接发来作为凭证。"
        ).format(
            name=html.quote(member.name),
            day=attempt.attempted_on.isoformat(),
            channel=Channel(attempt.channel).label,
            result=AttemptResult(attempt.result).label,
        ),
        reply_markup=keyboard,
    )


@router.callback_query(SearchLog.note, LogStep.filter(F.step == "skip"))
async def skip_note(
    call: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    await _save(call.message, state, session, actor, clock, None)


@router.message(SearchLog.note, F.text)
async def typed_note(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    try:
        await _save(message, state, session, actor, clock, message.text)
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))


@router.callback_query(MemberAction.filter(F.action == "lognext"))
async def next_member(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    current = await members.require_writable(session, actor, callback_data.member_id)
    rows = await _searchable(session, actor, current.branch_id, clock.today(), settings.pocket_days)
    ids = [r.member.id for r in rows]
    later = ids[ids.index(current.id) + 1 :] if current.id in ids else ids
    if not later:
        await replace(state, None, {})
        await call.message.answer(_("已经是最后一位了。"))
        return
    await log_member(
        call, MemberAction(action="log", member_id=later[0]), session, actor, clock, settings, state
    )


@router.message(SearchLog.evidence, F.photo | F.document)
async def evidence(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, bot: Bot
) -> None:
    data = await state.get_data()
    if message.photo:
        file, kind, name, mime = message.photo[-1], "photo", None, "image/jpeg"
    else:
        assert message.document is not None
        file, kind = message.document, "document"
        name, mime = message.document.file_name, message.document.mime_type
    if file.file_size and file.file_size > search.EVIDENCE_MAX_BYTES:
        await message.answer(_("文件太大（超过20MB），没有保存。"))
        return
    buffer = BytesIO()
    await bot.download(file.file_id, destination=buffer)
    await search.add_evidence(
        session,
        actor,
        data["attempt_id"],
        kind=kind,
        content=buffer.getvalue(),
        file_name=name,
        mime_type=mime,
        telegram_file_id=file.file_id,
    )
    await message.answer(_("📎 已作为这次查找的凭证保存。"))


@router.message(SearchLog.channel)
@router.message(SearchLog.result)
@router.message(SearchLog.note)
@router.message(SearchLog.day)
async def log_fallback(message: Message) -> None:
    await message.answer(_("请点上面的按钮，或发送 /cancel 取消。"))
