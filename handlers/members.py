"""/members — the register on a phone (党员名册): pages, search by name, the
member's card and its edit buttons (修改、转出介绍信、回执、预备/正式)."""

from __future__ import annotations

from aiogram import F, html
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.member_fields import FIELD_BY_KEY, Kind
from handlers import disposition_view as dv
from handlers import field_input as fi
from handlers.branch_choice import pick_branch
from handlers.filters import Known
from handlers.member_view import (
    BranchPick,
    MemberAction,
    MemberListPage,
    card_keyboard,
    card_text,
    fields_keyboard,
    page_keyboard,
    page_text,
)
from handlers.routes import Routes
from storage.models import Organisation
from storage.services import audit, categories, dispositions, family, members
from storage.services.access import Actor, Role, require_branch

router = Routes("members")
router.filter(Known())

# Multi-field actions from the card: each is a short walk of fields.
WALKS = {
    "letter": ("transfer_letter_date", "transfer_receiver"),
    "receipt": ("transfer_receipt_date",),
    "type:正式": ("full_member_since",),
}


class EditMember(StatesGroup):
    title = __("党员名册")  # named when a command leaves the flow (bot/flows.py)
    value = State()
    search = State()


async def _show_page(
    target: Message,
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    page: int = 0,
    query: str = "",
    *,
    edit: bool = False,
) -> None:
    result = await members.list_members(session, actor, branch_id, query=query, page=page)
    branch = await session.get(Organisation, branch_id)
    assert branch is not None
    text = page_text(branch.name, result, query)
    keyboard = page_keyboard(branch_id, result)
    if edit:
        await target.edit_text(text, reply_markup=keyboard)
    else:
        await target.answer(text, reply_markup=keyboard)


@router.message(Command("members"))
async def list_members(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    branch = await pick_branch(message, session, actor, "list", write=False)
    if branch is None:
        return
    await _show_page(message, session, actor, branch.id, query=(command.args or "").strip())


@router.callback_query(BranchPick.filter(F.purpose == "list"))
async def list_branch(
    call: CallbackQuery, callback_data: BranchPick, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await _show_page(call.message, session, actor, callback_data.branch_id, edit=True)


@router.callback_query(MemberListPage.filter())
async def turn_page(
    call: CallbackQuery,
    callback_data: MemberListPage,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    query = (await state.get_data()).get("query", "") if await state.get_state() is None else ""
    await _show_page(
        call.message, session, actor, callback_data.branch_id, callback_data.page, query, edit=True
    )


@router.callback_query(BranchPick.filter(F.purpose == "search"))
async def ask_search(
    call: CallbackQuery,
    callback_data: BranchPick,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await require_branch(session, actor, callback_data.branch_id)
    await state.set_state(EditMember.search)
    await state.update_data(branch_id=callback_data.branch_id)
    await call.message.answer(_("请输入要查找的姓名（可以只写一个字），或身份证号后几位："))


@router.message(EditMember.search, F.text)
async def do_search(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.clear()
    await _show_page(message, session, actor, data["branch_id"], query=message.text or "")


async def show_card(
    target: Message, session: AsyncSession, actor: Actor, member_id: int, *, edit: bool
) -> None:
    member = await members.get_member(session, actor, member_id)
    branch = await session.get(Organisation, member.branch_id)
    assert branch is not None
    can_write = member.branch_id in actor.orgs(Role.SECRETARY)
    can_audit = branch.parent_id in actor.orgs(Role.COMMITTEE)
    relatives = await family.rows_of(session, member.id)
    cases = dv.card_lines(await dispositions.member_cases(session, actor, member.id))
    text = card_text(member, branch.name, relatives, cases)
    keyboard = card_keyboard(member, can_write=can_write, can_audit=can_audit)
    # Every showing of the whole card is a read in the audit (issue 18 point 4).
    await audit.record_read(
        session, actor_id=actor.user_id, member_id=member.id, org_id=member.branch_id
    )
    if edit:
        await target.edit_text(text, reply_markup=keyboard)
    else:
        await target.answer(text, reply_markup=keyboard)


@router.callback_query(MemberAction.filter(F.action == "card"))
async def open_card(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    await state.clear()
    await show_card(call.message, session, actor, callback_data.member_id, edit=True)


@router.callback_query(MemberAction.filter(F.action == "edit"))
async def choose_field(
    call: CallbackQuery, callback_data: MemberAction, session: AsyncSession, actor: Actor
) -> None:
    assert isinstance(call.message, Message)
    await members.require_writable(session, actor, callback_data.member_id)
    await call.message.edit_reply_markup(reply_markup=fields_keyboard(callback_data.member_id))


async def _start_walk(
    message: Message, state: FSMContext, member_id: int, keys: tuple[str, ...], extra: dict
) -> None:
    await state.set_state(EditMember.value)
    await state.set_data(
        {"member_id": member_id, "keys": list(keys), "step": 0, "values": {}, **extra}
    )
    await _ask_step(message, state)


async def _ask_step(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    spec = FIELD_BY_KEY[data["keys"][data["step"]]]
    text, keyboard = fi.prompt(
        spec,
        optional=not spec.required and len(data["keys"]) == 1,
        allow_clear=not spec.required and len(data["keys"]) == 1,
        listed=data.get("listed", ()),
    )
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(MemberAction.filter(F.action == "field"))
async def edit_field(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    if callback_data.arg not in FIELD_BY_KEY:
        return
    member = await members.require_writable(session, actor, callback_data.member_id)
    extra = {}
    if FIELD_BY_KEY[callback_data.arg].kind is Kind.CATEGORY:
        extra["listed"] = await categories.names_for_branch(session, member.branch_id)
    await _start_walk(call.message, state, member.id, (callback_data.arg,), extra)


@router.callback_query(MemberAction.filter(F.action.in_({"letter", "receipt", "type"})))
async def card_walk(
    call: CallbackQuery,
    callback_data: MemberAction,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    assert isinstance(call.message, Message)
    member = await members.require_writable(session, actor, callback_data.member_id)
    if callback_data.action == "type" and callback_data.arg == "预备":
        await members.update_fields(
            session, actor, member.id, {"member_type": "预备", "full_member_since": None}
        )
        await show_card(call.message, session, actor, member.id, edit=False)
        return
    if callback_data.action == "type" and callback_data.arg != "正式":
        return
    key = f"type:{callback_data.arg}" if callback_data.action == "type" else callback_data.action
    extra = {"member_type": "正式"} if callback_data.action == "type" else {}
    await _start_walk(call.message, state, member.id, WALKS[key], extra)


async def _take(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    value: object,
    clock: Clock,
    settings: Settings,
) -> None:
    data = await state.get_data()
    keys, step = data["keys"], data["step"]
    values = dict(data["values"])
    values[keys[step]] = fi.to_state(FIELD_BY_KEY[keys[step]], value)
    if step + 1 < len(keys):
        await state.update_data(values=values, step=step + 1)
        await _ask_step(message, state)
        return
    changes = {k: fi.from_state(FIELD_BY_KEY[k], v) for k, v in values.items()}
    if data.get("member_type"):
        changes["member_type"] = data["member_type"]
    await members.update_fields(
        session,
        actor,
        data["member_id"],
        changes,
        today=clock.today(),
        pocket_days=settings.pocket_days,
    )
    await state.clear()
    await message.answer(_("✅ 已保存。"))
    await show_card(message, session, actor, data["member_id"], edit=False)


@router.message(EditMember.value, F.text)
async def typed_value(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    data = await state.get_data()
    spec = FIELD_BY_KEY[data["keys"][data["step"]]]
    try:
        value = spec.parse(message.text or "", today=clock.today())
        await _take(message, state, session, actor, value, clock, settings)
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )


@router.callback_query(EditMember.value, fi.FieldAnswer.filter())
async def tapped_value(
    call: CallbackQuery,
    callback_data: fi.FieldAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    spec = FIELD_BY_KEY[data["keys"][data["step"]]]
    if callback_data.value in (fi.SKIP, fi.CLEAR):
        value = None
    else:
        value = fi.tapped_value(spec, callback_data.value, clock.today(), data.get("listed", ()))
    try:
        await _take(call.message, state, session, actor, value, clock, settings)
    except InvalidInput as exc:
        await call.message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )


@router.message(EditMember.value)
@router.message(EditMember.search)
async def edit_fallback(message: Message) -> None:
    await message.answer(_("请用文字回答，或点上面的按钮。发送 /cancel 取消。"))
