"""/revoke — taking a role back (收回角色, issue 18 point 5): committee staff
over the secretaries of their branches, admins over any grant.

A list of the grants the user may revoke (name, role, organisation: no phone,
no member data), a button each, a confirmation, then the service. The Actor
is read afresh on every update, so the revoked user's next command or button
is refused at once; they are told once, through the one sending path, and
their command menu and any half-done conversation are cleared.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import N_
from handlers.common import publish_commands
from handlers.filters import HasRole
from handlers.routes import Routes
from storage.services import users
from storage.services.access import Actor, Role, load_actor

log = logging.getLogger(__name__)

router = Routes("revoke")
router.filter(HasRole(Role.ADMIN, Role.COMMITTEE))

PER_PAGE = 8
ROLE_NAMES = {
    Role.SECRETARY: N_("支部书记"),
    Role.COMMITTEE: N_("党委工作人员"),
    Role.ADMIN: N_("系统管理员"),
}


class RevokeAct(CallbackData, prefix="rv"):
    """Ids only; the service checks every one again."""

    action: str  # page | pick | yes
    grant_id: int = 0
    page: int = 0


def _who(line: users.GrantLine) -> str:
    return line.user_name or _("用户{id}").format(id=line.user_id)


def _label(line: users.GrantLine) -> str:
    parts = [_who(line), _(ROLE_NAMES[line.role])]
    if line.org_name:
        parts.append(line.org_name)
    return " · ".join(parts)


def _grant_words(line: users.GrantLine) -> dict[str, str]:
    """``who``, ``role`` and ``org`` of a grant, as the confirmation and the
    answer after it name them (user text escaped, STYLE 19)."""
    return {
        "who": html.quote(_who(line)),
        "role": _(ROLE_NAMES[line.role]),
        "org": _("（{org}）").format(org=html.quote(line.org_name)) if line.org_name else "",
    }


def _button(text: str, **data: int | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RevokeAct(**data).pack())  # type: ignore[arg-type]


async def _listing(
    session: AsyncSession, actor: Actor, page: int, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    page = max(0, page)
    lines, total = await users.revocable_grants(
        session,
        actor,
        offset=page * PER_PAGE,
        limit=PER_PAGE,
        fixed_admins=settings.paicha_admin_ids,
    )
    if total == 0:
        return _("没有可以收回的角色。"), None
    rows = [[_button(_label(line), action="pick", grant_id=line.grant_id)] for line in lines]
    nav = []
    if page > 0:
        nav.append(_button("◀", action="page", page=page - 1))
    if (page + 1) * PER_PAGE < total:
        nav.append(_button("▶", action="page", page=page + 1))
    if nav:
        rows.append(nav)
    text = _("收回谁的角色？（共{n}项，点选后还会再确认）").format(n=total)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("revoke"))
async def list_grants(
    message: Message, session: AsyncSession, actor: Actor, settings: Settings
) -> None:
    text, keyboard = await _listing(session, actor, 0, settings)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(RevokeAct.filter(F.action == "page"))
async def page(
    call: CallbackQuery,
    callback_data: RevokeAct,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    text, keyboard = await _listing(session, actor, callback_data.page, settings)
    await call.message.edit_text(text, reply_markup=keyboard)


@router.callback_query(RevokeAct.filter(F.action == "pick"))
async def confirm(
    call: CallbackQuery,
    callback_data: RevokeAct,
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    line = await users.revocable_grant(
        session, actor, callback_data.grant_id, settings.paicha_admin_ids
    )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(_("确定收回"), action="yes", grant_id=line.grant_id),
                InlineKeyboardButton(text=_("取消"), callback_data="cancel"),
            ]
        ]
    )
    await call.message.edit_text(
        _("确定收回 {who} 的“{role}”角色{org}吗？收回后对方立即不能再使用这个角色。").format(
            **_grant_words(line)
        ),
        reply_markup=keyboard,
    )


@router.callback_query(RevokeAct.filter(F.action == "yes"))
async def revoke(
    call: CallbackQuery,
    callback_data: RevokeAct,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    bot: Bot,
    fsm_storage: BaseStorage,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    line = await users.revoke_role(
        session, actor, callback_data.grant_id, clock.now(), settings.paicha_admin_ids
    )
    if line is None:  # a replayed confirmation: already done, nobody told twice
        await call.message.edit_text(_("这个角色已经收回了。"))
        return
    await call.message.edit_text(
        _("已收回 {who} 的“{role}”角色{org}。").format(**_grant_words(line))
    )
    await _tell_revoked(session, bot, fsm_storage, line)


async def _tell_revoked(
    session: AsyncSession, bot: Bot, storage: BaseStorage, line: users.GrantLine
) -> None:
    """Once, at the moment of revoking: the message, the menu of what is
    left, and no conversation half-way through a role they no longer hold."""
    key = StorageKey(bot_id=bot.id, chat_id=line.user_id, user_id=line.user_id)
    await FSMContext(storage=storage, key=key).clear()
    locale = await users.user_locale(session, line.user_id) or "zh"
    role = _(ROLE_NAMES[line.role], locale=locale)
    if line.org_name:
        text = _("您在“{org}”的“{role}”角色已被收回，相关功能不能再使用。", locale=locale)
        text = text.format(org=html.quote(line.org_name), role=role)
    else:
        text = _("您的“{role}”角色已被收回，相关功能不能再使用。", locale=locale).format(role=role)
    remaining = await load_actor(session, line.user_id, locale)
    try:
        await bot.send_message(line.user_id, text)
        if remaining.is_known:
            await publish_commands(bot, remaining)
        else:  # back to the menu strangers see: /join, /help, /lang
            await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=line.user_id))
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        # They blocked the bot or never opened a chat: the refusal holds all the same.
        log.info("revoked user not told: %s", type(exc).__name__)
