"""/invite — single-use invitation codes (邀请码): admins invite committee
staff; committee staff invite the secretaries of their branches."""

from __future__ import annotations

from aiogram import html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.clock import Clock
from domain.errors import N_
from handlers.filters import HasRole
from handlers.routes import Routes
from storage.services import invitations
from storage.services.access import Actor, Role
from storage.services.orgs import invitable_orgs

router = Routes("invite")
router.filter(HasRole(Role.ADMIN, Role.COMMITTEE))

ROLE_NAMES = {"committee": N_("党委工作人员"), "secretary": N_("支部书记")}


class InviteInto(CallbackData, prefix="inv"):
    org_id: int
    role: str


@router.message(Command("invite"))
async def choose_target(message: Message, session: AsyncSession, actor: Actor) -> None:
    pairs = await invitable_orgs(session, actor)
    if not pairs:
        await message.answer(
            _("还没有可以邀请的组织。管理员可用 <code>paicha admin</code> 先建立党委和党支部。")
        )
        return
    rows = [
        [
            InlineKeyboardButton(
                text=f"{org.name} · {_(ROLE_NAMES[role])}",
                callback_data=InviteInto(org_id=org.id, role=role).pack(),
            )
        ]
        for org, role in pairs
    ]
    await message.answer(
        _("邀请谁？请选择组织和角色："), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(InviteInto.filter())
async def make_invitation(
    call: CallbackQuery,
    callback_data: InviteInto,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    settings: Settings,
) -> None:
    assert isinstance(call.message, Message)
    invitation = await invitations.create_invitation(
        session,
        actor=actor,
        org_id=callback_data.org_id,
        role=callback_data.role,
        now=clock.now(),
        days=settings.invitation_days,
    )
    me = await call.bot.me() if call.bot else None
    link = f"https://t.me/{me.username}?start={invitation.code}" if me and me.username else ""
    expires = invitation.expires_at.astimezone(clock.tz).strftime("%Y-%m-%d %H:%M")
    text = _(
        "邀请码：<code>{code}</code>\n角色：{role}\n有效期至：{expires}\n只能使用一次。\n"
        "请对方私聊本机器人发送 <code>/join {code}</code>"
    ).format(code=invitation.code, role=_(ROLE_NAMES[invitation.role]), expires=expires)
    if link:
        text += "\n" + _("或打开链接：{link}").format(link=html.quote(link))
    await call.message.answer(text)
