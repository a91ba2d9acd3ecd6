"""/add — register one member (登记党员): a walk through the fields with
buttons for choices, one tap to skip an optional field, and a summary to
confirm before anything is saved. The draft lives in the FSM data (in the
database), so a restart mid-way loses nothing."""

from __future__ import annotations

from typing import Any

from aiogram import F, html
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.errors import InvalidInput
from domain.idcard import parse_id_number
from domain.member_fields import ADD_FIELDS, FIELD_BY_KEY, FieldSpec, Kind, check_record
from handlers import field_input as fi
from handlers.branch_choice import pick_branch
from handlers.filters import Known
from handlers.member_view import BranchPick, MemberAction
from handlers.routes import Routes
from storage.services import categories, members
from storage.services.access import Actor, require_branch

router = Routes("member_add")
router.filter(Known())

# The ID number comes second: from it the bot fills 性别 and 出生年月 itself.
ORDER: tuple[FieldSpec, ...] = (
    FIELD_BY_KEY["name"],
    FIELD_BY_KEY["id_number"],
    *(f for f in ADD_FIELDS if f.key not in ("name", "id_number")),
)


class AddMember(StatesGroup):
    title = __("登记党员")  # named when a command leaves the flow (bot/flows.py)
    field = State()
    confirm = State()


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: fi.from_state(FIELD_BY_KEY[k], v) for k, v in data.get("values", {}).items()}


async def _ask(message: Message, state: FSMContext, index: int) -> None:
    data = await state.get_data()
    values = data.get("values", {})
    # Skip what the ID number already told us, and 人员类别 where the committee set no list.
    while index < len(ORDER) and (
        (ORDER[index].key in data.get("derived", []) and ORDER[index].key in values)
        or (ORDER[index].kind is Kind.CATEGORY and not data.get("listed"))
    ):
        index += 1
    if index >= len(ORDER) or (data.get("editing") and index != data.get("editing_index")):
        await _summary(message, state)
        return
    await state.set_state(AddMember.field)
    await state.update_data(index=index)
    spec = ORDER[index]
    required_left = any(f.required for f in ORDER[index + 1 :])
    text, keyboard = fi.prompt(
        spec,
        step=_step(index, bool(data.get("listed"))),
        allow_rest=not spec.required and not required_left and not data.get("editing"),
        listed=data.get("listed", ()),
    )
    await message.answer(text, reply_markup=keyboard)


def _step(index: int, has_categories: bool) -> str:
    """“(3/24)”, not counting 人员类别 where the committee set no list."""
    at = ORDER[: index + 1]
    if has_categories:
        return f"({len(at)}/{len(ORDER)})"
    shown = [f for f in at if f.kind is not Kind.CATEGORY]
    return f"({len(shown)}/{len(ORDER) - 1})"


async def _summary(message: Message, state: FSMContext) -> None:
    await state.set_state(AddMember.confirm)
    await state.update_data(editing=False)
    values = _values(await state.get_data())
    lines = [_("<b>请核对，确认后保存：</b>")]
    for spec in ORDER:
        if spec.key in values and values[spec.key] is not None:
            lines.append(f"{_(spec.label)}：{html.quote(spec.display(values[spec.key]))}")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("✅ 保存"), callback_data="add:save")],
            [InlineKeyboardButton(text=_("✏️ 修改某项"), callback_data="add:fix")],
            [InlineKeyboardButton(text=_("取消"), callback_data="cancel")],
        ]
    )
    await message.answer("\n".join(lines), reply_markup=keyboard)


async def _begin(
    message: Message, state: FSMContext, session: AsyncSession, branch_id: int
) -> None:
    await state.clear()
    listed = await categories.names_for_branch(session, branch_id)
    await state.set_data({"branch_id": branch_id, "values": {}, "derived": [], "listed": listed})
    await message.answer(
        _("开始登记新党员。带（可跳过）的项目可以以后再补。随时发送 /cancel 取消。")
    )
    await _ask(message, state, 0)


@router.message(Command("add"))
async def start_add(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    branch = await pick_branch(message, session, actor, "add", write=True)
    if branch is not None:
        await _begin(message, state, session, branch.id)


@router.callback_query(BranchPick.filter(F.purpose == "add"))
async def add_in_branch(
    call: CallbackQuery,
    callback_data: BranchPick,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    await require_branch(session, actor, callback_data.branch_id, write=True)
    assert isinstance(call.message, Message)
    await _begin(call.message, state, session, callback_data.branch_id)


async def _accept(message: Message, state: FSMContext, spec: FieldSpec, value: Any) -> None:
    """Keep one answer if the record still holds together, then ask the next."""
    data = await state.get_data()
    values = _values(data)
    before = {p.message for p in check_record(values)}
    values[spec.key] = value
    derived = list(data.get("derived", []))
    if spec.key == "id_number" and value:
        person = parse_id_number(value)
        for key, derived_value in (
            ("gender", person.gender),
            ("birth", f"{person.birth:%Y-%m-%d}"),
        ):
            if key not in values or key in derived:
                values[key] = derived_value
                derived.append(key)
    new = [p for p in check_record(values) if p.message not in before]
    if new:
        raise new[0]
    await state.update_data(
        values={k: fi.to_state(FIELD_BY_KEY[k], v) for k, v in values.items()}, derived=derived
    )
    if spec.key == "id_number" and value:
        await message.answer(_("已从身份证号读出性别和出生日期。"))
    await _ask(message, state, data["index"] + 1)


@router.message(AddMember.field, F.text)
async def typed_answer(message: Message, state: FSMContext, clock: Clock) -> None:
    data = await state.get_data()
    spec = ORDER[data["index"]]
    try:
        value = spec.parse(message.text or "", today=clock.today())
        await _accept(message, state, spec, value)
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入。"))


@router.callback_query(AddMember.field, fi.FieldAnswer.filter())
async def tapped_answer(
    call: CallbackQuery, callback_data: fi.FieldAnswer, state: FSMContext, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    spec = ORDER[data["index"]]
    if callback_data.value == fi.REST:
        await _summary(call.message, state)
        return
    if callback_data.value == fi.SKIP:
        if spec.required:
            raise InvalidInput("“{label}”必须填写。", label=_(spec.label))
        await _ask(call.message, state, data["index"] + 1)
        return
    try:
        value = fi.tapped_value(spec, callback_data.value, clock.today(), data.get("listed", ()))
        await _accept(call.message, state, spec, value)
    except InvalidInput as exc:
        await call.message.answer(html.quote(exc.render(_)) + "\n" + _("请重新选择或输入。"))


@router.message(AddMember.field)
async def not_text(message: Message) -> None:
    await message.answer(_("请用文字回答，或点上面的按钮。发送 /cancel 取消。"))


@router.callback_query(AddMember.confirm, F.data == "add:fix")
async def choose_fix(call: CallbackQuery) -> None:
    assert isinstance(call.message, Message)
    buttons = [
        InlineKeyboardButton(text=_(spec.label), callback_data=f"add:fix:{i}")
        for i, spec in enumerate(ORDER)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await call.message.answer(
        _("要修改哪一项？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(AddMember.confirm, F.data.startswith("add:fix:"))
async def fix_one(call: CallbackQuery, state: FSMContext) -> None:
    assert isinstance(call.message, Message) and call.data
    index = int(call.data.rsplit(":", 1)[1])
    if not 0 <= index < len(ORDER):
        return
    data = await state.get_data()
    derived = [k for k in data.get("derived", []) if k != ORDER[index].key]
    await state.update_data(editing=True, editing_index=index, derived=derived)
    await _ask(call.message, state, index)


@router.callback_query(AddMember.confirm, F.data == "add:save")
async def save(call: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor) -> None:
    assert isinstance(call.message, Message)
    data = await state.get_data()
    member = await members.add_member(session, actor, data["branch_id"], _values(data))
    await state.clear()
    await call.message.edit_reply_markup(reply_markup=None)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("打开卡片"),
                    callback_data=MemberAction(action="card", member_id=member.id).pack(),
                ),
                InlineKeyboardButton(
                    text=_("👪 添加家庭成员"),
                    callback_data=MemberAction(action="family_add", member_id=member.id).pack(),
                ),
            ],
            [
                InlineKeyboardButton(
                    text=_("再登记一名"),
                    callback_data=BranchPick(purpose="add", branch_id=member.branch_id).pack(),
                ),
            ],
        ]
    )
    await call.message.answer(
        _("✅ 已保存：{name}").format(name=html.quote(member.name)), reply_markup=keyboard
    )


@router.message(AddMember.confirm)
async def confirm_fallback(message: Message) -> None:
    await message.answer(_("请点“保存”“修改某项”或“取消”。"))
