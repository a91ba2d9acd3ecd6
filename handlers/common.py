"""Onboarding and the everyday commands (入门): /start, /join, /help, /lang,
/cancel, and the catch-all that answers anything else."""

from __future__ import annotations

from aiogram import Bot, F, html
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.errors import InvalidInput
from handlers.routes import Routes
from storage.services import invitations, users
from storage.services.access import Actor, Role, load_actor

router = Routes("common")
fallback_router = Routes("fallback")

# (command, description, roles that see it; empty = everyone known)
COMMANDS: tuple[tuple[str, object, tuple[Role, ...]], ...] = (
    ("members", __("党员名册：查看、搜索、修改"), (Role.SECRETARY, Role.COMMITTEE)),
    ("add", __("登记一名党员"), (Role.SECRETARY,)),
    ("template", __("下载党员名册导入模板"), (Role.SECRETARY,)),
    ("lost", __("失联党员（超过6个月未联系）"), (Role.SECRETARY, Role.COMMITTEE)),
    ("log", __("记录一次查找"), (Role.SECRETARY,)),
    ("meeting", __("记录组织生活/交纳党费"), (Role.SECRETARY,)),
    ("mobile", __("流动党员"), (Role.SECRETARY, Role.COMMITTEE)),
    ("pocket", __("“口袋”党员"), (Role.SECRETARY, Role.COMMITTEE)),
    ("campaign", __("排查工作：新建、查看、结束"), (Role.COMMITTEE,)),
    ("deadlines", __("截止时间"), (Role.SECRETARY, Role.COMMITTEE)),
    ("sweep", __("集中摸排：逐人五核查；党委查看按人员类别统计"), (Role.SECRETARY, Role.COMMITTEE)),
    ("todo", __("待完善和有问题的事项"), (Role.SECRETARY,)),
    ("review", __("各党支部核查进度"), (Role.COMMITTEE,)),
    ("pending", __("待办：等待办理或审批的处置"), (Role.SECRETARY, Role.COMMITTEE)),
    ("recheck", __("回头看：检视已作出的处置"), (Role.COMMITTEE,)),
    ("summary", __("排查进展一览"), (Role.SECRETARY, Role.COMMITTEE)),
    ("export", __("导出登记表、汇总表和报告"), (Role.SECRETARY, Role.COMMITTEE)),
    ("categories", __("设置人员类别（如教职工/学生）"), (Role.COMMITTEE,)),
    ("notify", __("每日提醒：开启或关闭"), (Role.SECRETARY, Role.COMMITTEE)),
    ("invite", __("生成邀请码"), (Role.COMMITTEE, Role.ADMIN)),
    ("revoke", __("收回用户的角色"), (Role.COMMITTEE, Role.ADMIN)),
    ("audit", __("操作记录：谁对哪名党员做了什么"), (Role.COMMITTEE,)),
    ("lang", __("切换语言 / Language"), ()),
    ("cancel", __("取消当前操作"), ()),
    ("help", __("帮助"), ()),
)


def commands_for(actor: Actor) -> list[tuple[str, str]]:
    return [
        (name, str(text))
        for name, text, roles in COMMANDS
        if not roles or any(actor.has_role(r) for r in roles)
    ]


async def publish_commands(bot: Bot, actor: Actor) -> None:
    """setMyCommands for this user's chat, so the menu shows only what they can use."""
    await bot.set_my_commands(
        [BotCommand(command=c, description=d) for c, d in commands_for(actor)],
        scope=BotCommandScopeChat(chat_id=actor.user_id),
    )


async def publish_default_commands(bot: Bot) -> None:
    """What everyone sees before joining: how to join, help, language."""
    await bot.set_my_commands(
        [
            BotCommand(command="join", description="输入邀请码加入"),
            BotCommand(command="help", description="帮助"),
            BotCommand(command="lang", description="切换语言 / Language"),
        ]
    )
    await bot.set_my_commands(
        [
            BotCommand(command="join", description="Join with an invitation code"),
            BotCommand(command="help", description="Help"),
            BotCommand(command="lang", description="Language / 语言"),
        ],
        language_code="en",
    )


def stranger_text() -> str:
    return _(
        "您好！这是党员组织关系集中排查工作助手“排查”。\n"
        "只有受邀的党支部书记和党委工作人员可以使用。\n"
        "请向上级党委（或系统管理员）索取邀请码，然后发送：\n"
        "<code>/join 邀请码</code>"
    )


def help_text(actor: Actor) -> str:
    lines = [_("<b>可用命令</b>")]
    lines += [f"/{name} — {html.quote(text)}" for name, text in commands_for(actor)]
    return "\n".join(lines)


async def _redeem(message: Message, session: AsyncSession, clock: Clock, code: str) -> None:
    assert message.from_user is not None
    try:
        org = await invitations.redeem(
            session, user_id=message.from_user.id, code=code, now=clock.now()
        )
    except InvalidInput as exc:
        await message.answer(html.quote(exc.render(_)))
        return
    actor = await load_actor(session, message.from_user.id)
    await message.answer(
        _("欢迎！您已加入“{org}”。").format(org=html.quote(org.name)) + "\n\n" + help_text(actor)
    )
    if message.bot:
        await publish_commands(message.bot, actor)


@router.message(CommandStart(deep_link=True))
async def start_with_code(
    message: Message, command: CommandObject, session: AsyncSession, clock: Clock
) -> None:
    await _redeem(message, session, clock, command.args or "")


@router.message(Command("join"))
async def join(
    message: Message, command: CommandObject, session: AsyncSession, clock: Clock
) -> None:
    if not command.args:
        await message.answer(_("请在 /join 后面写上邀请码，例如：<code>/join ABCD234567</code>"))
        return
    await _redeem(message, session, clock, command.args)


@router.message(CommandStart())
@router.message(Command("help"))
async def start(message: Message, actor: Actor) -> None:
    if not actor.is_known:
        await message.answer(stranger_text())
        return
    await message.answer(help_text(actor))
    if message.bot:
        await publish_commands(message.bot, actor)


@router.message(Command("cancel"))
@router.message(F.text.in_({"取消", "cancel"}))
async def cancel(message: Message, state: FSMContext) -> None:
    had = await state.get_state()
    await state.clear()
    await message.answer(_("已取消。") if had else _("当前没有进行中的操作。"))


@router.callback_query(F.data == "cancel")
async def cancel_button(call: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    if isinstance(call.message, Message):
        await call.message.edit_text(_("已取消。"))


@router.message(Command("lang"))
async def choose_language(message: Message) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="中文", callback_data="lang:zh"),
                InlineKeyboardButton(text="English", callback_data="lang:en"),
            ]
        ]
    )
    await message.answer(_("请选择语言 / Choose a language"), reply_markup=keyboard)


@router.callback_query(F.data.in_({"lang:zh", "lang:en"}))
async def set_language(call: CallbackQuery, session: AsyncSession, actor: Actor) -> None:
    locale = (call.data or "lang:zh").split(":")[1]
    await users.set_locale(session, actor.user_id, locale)
    language = "中文" if locale == "zh" else "English"
    text = _("语言已切换为：{language}", locale=locale).format(language=language)
    if isinstance(call.message, Message):
        await call.message.edit_text(text)


@fallback_router.message(StateFilter(None))
async def anything_else(message: Message, actor: Actor) -> None:
    if not actor.is_known:
        await message.answer(stranger_text())
        return
    await message.answer(_("没有看懂这条消息。发送 /help 查看可用命令。"))


@fallback_router.callback_query()
async def stale_button(call: CallbackQuery, actor: Actor, callback_answer) -> None:  # type: ignore[no-untyped-def]
    # Old buttons (e.g. from before a restart or a finished flow) land here.
    callback_answer.text = _("这个按钮已失效，请重新发送命令。") if actor.is_known else _("无权限")
    callback_answer.show_alert = True
