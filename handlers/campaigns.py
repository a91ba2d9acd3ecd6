"""/campaign and /deadlines — start a campaign from a notice's template, adjust
its stages, close it; everyone in scope sees what is due and when (截止时间)."""

from __future__ import annotations

from aiogram import F, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from domain.campaigns import TemplateKey, days_left, default_name
from domain.clock import Clock
from domain.dates import parse_date
from domain.errors import InvalidInput
from handlers.filters import HasRole, Known
from handlers.routes import Routes
from storage.models import Campaign, CampaignStage, Organisation
from storage.services import campaigns
from storage.services.access import Actor, Role

router = Routes("campaigns")
router.filter(Known())


class CampaignAct(CallbackData, prefix="cp"):
    """``op``: new / tpl / view / move / drop / add / close; ids only."""

    op: str
    id: int = 0
    value: str = ""


class CampaignFlow(StatesGroup):
    name = State()
    move = State()
    add_title = State()
    add_due = State()


def _b(text: str, op: str, id_: int = 0, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=CampaignAct(op=op, id=id_, value=value).pack()
    )


def _due_text(stage: CampaignStage, clock: Clock) -> str:
    left = days_left(stage.due, clock.today())
    about = _("约") if stage.approximate else ""
    when = _("已过") if left < 0 else (_("今天") if left == 0 else _("还有{n}天").format(n=left))
    return f"{about}{stage.due.month}月{stage.due.day}日（{when}）"


@router.message(Command("campaign"), HasRole(Role.COMMITTEE))
async def list_campaigns(message: Message, session: AsyncSession, actor: Actor) -> None:
    rows = await campaigns.visible_campaigns(session, actor)
    lines = [_("<b>进行中的排查</b>：{n}项").format(n=len(rows))]
    lines += [f"• {html.quote(c.name)}（{c.starts} — {c.ends}）" for c in rows]
    keyboard = [[_b(c.name, "view", c.id)] for c in rows]
    keyboard.append([_b(_("➕ 新建排查"), "new")])
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard)
    )


@router.callback_query(CampaignAct.filter(F.op == "new"), HasRole(Role.COMMITTEE))
async def choose_template(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    committees = actor.orgs(Role.COMMITTEE)
    committee_id = callback_data.id or (committees[0] if len(committees) == 1 else 0)
    if committee_id == 0:  # several committees: ask which one first
        rows = []
        for cid in committees:
            org = await session.get(Organisation, cid)
            rows.append([_b(org.name if org else str(cid), "new", cid)])
        await call.message.answer(
            _("为哪个党委开展？"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
        )
        return
    year = clock.today().year
    rows = [
        [
            _b(f"{key.label}（{y}）", "tpl", committee_id, f"{key.value}.{y}")
            for y in (year, year + 1)
        ]
        for key in TemplateKey
    ]
    await call.message.answer(
        _("选择模板（每个模板对应一份通知的阶段和时间，创建后可修改）："),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(CampaignAct.filter(F.op == "tpl"), HasRole(Role.COMMITTEE))
async def chosen_template(
    call: CallbackQuery, callback_data: CampaignAct, state: FSMContext
) -> None:
    assert isinstance(call.message, Message)
    template, year = callback_data.value.split(".")
    default = default_name(TemplateKey.of(template), int(year))
    await state.set_state(CampaignFlow.name)
    await state.set_data(
        {
            "committee_id": callback_data.id,
            "template": template,
            "year": int(year),
            "default": default,
        }
    )
    await call.message.answer(
        _("这次排查叫什么名称？直接输入，或用默认名称。"),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [_b(_("用默认：{name}").format(name=default), "name")],
                [InlineKeyboardButton(text=_("取消"), callback_data="cancel")],
            ]
        ),
    )


async def _create(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    name: str,
) -> None:
    data = await state.get_data()
    campaign = await campaigns.create_campaign(
        session,
        actor,
        data["committee_id"],
        template=data["template"],
        name=name,
        year=data["year"],
    )
    await state.clear()
    await message.answer(_("✅ 已创建：{name}").format(name=html.quote(campaign.name)))
    await _show(message, session, actor, clock, campaign.id)


@router.callback_query(CampaignFlow.name, CampaignAct.filter(F.op == "name"))
async def use_default_name(
    call: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    assert isinstance(call.message, Message)
    await _create(call.message, state, session, actor, clock, (await state.get_data())["default"])


@router.message(CampaignFlow.name, F.text)
async def typed_name(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    try:
        await _create(message, state, session, actor, clock, message.text or "")
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)) + "\n" + _("请重新输入名称。"))


async def _show(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock, campaign_id: int
) -> None:
    campaign, stages, branches = await campaigns.campaign_detail(session, actor, campaign_id)
    lines = [
        f"<b>{html.quote(campaign.name)}</b>",
        _("时间：{starts} — {ends}；范围：{n}个党支部").format(
            starts=campaign.starts, ends=campaign.ends, n=len(branches)
        ),
    ]
    for i, stage in enumerate(stages, 1):
        what = f" · {html.quote(stage.what)}" if stage.what else ""
        lines.append(f"{i}. {html.quote(stage.title)} — {_due_text(stage, clock)}{what}")
    keyboard: list[list[InlineKeyboardButton]] = []
    editable = campaign.committee_id in actor.orgs(Role.COMMITTEE) and campaign.closed_at is None
    if editable:
        for i, stage in enumerate(stages, 1):
            keyboard.append(
                [
                    _b(_("{i}. 改日期").format(i=i), "move", stage.id),
                    _b(_("{i}. 删除").format(i=i), "drop", stage.id),
                ]
            )
        keyboard.append(
            [_b(_("➕ 增加阶段"), "add", campaign.id), _b(_("结束排查"), "close", campaign.id)]
        )
    await message.answer(
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None,
    )


@router.callback_query(CampaignAct.filter(F.op == "view"))
async def view(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    await _show(call.message, session, actor, clock, callback_data.id)


@router.callback_query(CampaignAct.filter(F.op == "move"), HasRole(Role.COMMITTEE))
async def ask_move(call: CallbackQuery, callback_data: CampaignAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(CampaignFlow.move)
    await state.set_data({"stage_id": callback_data.id})
    await call.message.answer(_("新的截止日期？（如 2026-03-20）"))


@router.message(CampaignFlow.move, F.text)
async def typed_move(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        due = parse_date(message.text or "", today=clock.today(), allow_future=True).first_day()
        stage = await campaigns.move_stage(session, actor, data["stage_id"], due=due)
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )
        return
    await state.clear()
    await _show(message, session, actor, clock, stage.campaign_id)


@router.callback_query(CampaignAct.filter(F.op == "drop"), HasRole(Role.COMMITTEE))
async def drop(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    stage = await session.get(CampaignStage, callback_data.id)
    campaign_id = stage.campaign_id if stage else 0
    await campaigns.remove_stage(session, actor, callback_data.id)
    await _show(call.message, session, actor, clock, campaign_id)


@router.callback_query(CampaignAct.filter(F.op == "add"), HasRole(Role.COMMITTEE))
async def ask_add(call: CallbackQuery, callback_data: CampaignAct, state: FSMContext) -> None:
    assert isinstance(call.message, Message)
    await state.set_state(CampaignFlow.add_title)
    await state.set_data({"campaign_id": callback_data.id})
    await call.message.answer(_("新阶段的名称（要报送什么）？"))


@router.message(CampaignFlow.add_title, F.text)
async def typed_title(message: Message, state: FSMContext) -> None:
    await state.update_data(title=(message.text or "").strip())
    await state.set_state(CampaignFlow.add_due)
    await message.answer(_("截止日期？（如 2026-03-20）"))


@router.message(CampaignFlow.add_due, F.text)
async def typed_due(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    data = await state.get_data()
    try:
        due = parse_date(message.text or "", today=clock.today(), allow_future=True).first_day()
        await campaigns.add_stage(session, actor, data["campaign_id"], title=data["title"], due=due)
    except InvalidInput as exc:
        await message.answer(
            html.quote(exc.render(_)) + "\n" + _("请重新输入，或发送 /cancel 取消。")
        )
        return
    await state.clear()
    await _show(message, session, actor, clock, data["campaign_id"])


@router.callback_query(CampaignAct.filter(F.op == "close"), HasRole(Role.COMMITTEE))
async def close(
    call: CallbackQuery,
    callback_data: CampaignAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    assert isinstance(call.message, Message)
    await campaigns.close_campaign(session, actor, callback_data.id, clock.now())
    await call.message.answer(_("已结束这次排查。"))


@router.message(Command("deadlines"))
async def list_deadlines(
    message: Message, session: AsyncSession, actor: Actor, clock: Clock
) -> None:
    rows = await campaigns.deadlines(session, actor, clock.today())
    if not rows:
        await message.answer(_("目前没有待办的截止时间。"))
        return
    lines = [_("<b>截止时间</b>")]
    current: Campaign | None = None
    for d in rows[:40]:
        if current is None or current.id != d.campaign.id:
            current = d.campaign
            lines.append(f"\n<b>{html.quote(current.name)}</b>")
        what = f" · {html.quote(d.stage.what)}" if d.stage.what else ""
        lines.append(f"• {html.quote(d.stage.title)} — {_due_text(d.stage, clock)}{what}")
    await message.answer("\n".join(lines))


@router.message(CampaignFlow.name)
@router.message(CampaignFlow.move)
@router.message(CampaignFlow.add_title)
@router.message(CampaignFlow.add_due)
async def fallback(message: Message) -> None:
    await message.answer(_("请用文字回答，或发送 /cancel 取消。"))
