"""Users who blocked the bot (403): bulk messages skip them until they write
again (issue 14, point 6).

``mark_blocked`` records ``User.blocked_at`` (the Sender's ``on_blocked``
hook, see ``blocked_hook``, and the scheduler's delivery); the user's next
update clears it in ``users.see_user``, which reads the row anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from storage.db import utc, write_tx
from storage.models import User


async def mark_blocked(session: AsyncSession, user_id: int, at: datetime) -> None:
    """Telegram answered 403 for this user: remember since when (the first
    time; a later 403 keeps the date)."""
    async with write_tx(session):
        await session.execute(
            update(User)
            .where(User.id == user_id, User.blocked_at.is_(None))
            .values(blocked_at=utc(at))
        )


def blocked_hook(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock
) -> Callable[[int], Awaitable[None]]:
    """The Sender's ``on_blocked``: ``Sender(on_blocked=blocked_hook(sm, clock))``."""

    async def on_blocked(chat_id: int) -> None:
        if chat_id <= 0:
            return  # a group or channel, not a user
        async with sessionmaker() as session:
            await mark_blocked(session, chat_id, clock.now())

    return on_blocked
