"""Which branch? Asked only when the user has more than one (few taps)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.member_view import BranchPick
from storage.models import Organisation
from storage.services.access import Actor
from storage.services.orgs import branches_for


async def pick_branch(
    message: Message, session: AsyncSession, actor: Actor, purpose: str, *, write: bool
) -> Organisation | None:
    """The one branch, or None after asking the user to tap one."""
    branches = await branches_for(session, actor, write=write)
    if len(branches) == 1:
        return branches[0]
    if not branches:
        await message.answer(_("您还没有负责的党支部。"))
        return None
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=b.name, callback_data=BranchPick(purpose=purpose, branch_id=b.id).pack()
                )
            ]
            for b in branches
        ]
    )
    await message.answer(_("请选择党支部："), reply_markup=keyboard)
    return None
