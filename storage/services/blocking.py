"""Users who blocked the bot (403): bulk messages skip them until they write
again (issue 14, point 6).

``mark_blocked`` records ``User.blocked_at`` (the Sender's ``on_blocked``
hook, see ``blocked_hook``); ``writes_again`` runs for every incoming update
and clears it. It must cost nothing for the many users who never blocked the
bot: the ids with ``blocked_at`` set are read once per engine at most every
``REFRESH`` seconds (one small query, whatever the traffic), and only a user
in that set costs a write. A 403 met in this process enters the set at once;
one met by another process (``paicha scheduler``) within ``REFRESH``.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from storage.db import read_alone, utc, write_tx
from storage.models import User

REFRESH = 60.0  # seconds a process trusts its list of blocked users

_BLOCKED_IDS = select(User.id).where(User.blocked_at.is_not(None))


class _Seen:
    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.read_at: float | None = None


_seen: weakref.WeakKeyDictionary[Engine, _Seen] = weakref.WeakKeyDictionary()


def _for(bind: Engine) -> _Seen:
    seen = _seen.get(bind)
    if seen is None:
        seen = _seen[bind] = _Seen()
    return seen


async def writes_again(
    session: AsyncSession, user_id: int, *, now: Callable[[], float] = time.monotonic
) -> bool:
    """The user sent an update: if they were marked blocked, they are not any
    more (``blocked_at`` cleared). True if that happened."""
    bind = session.get_bind()
    seen = _for(bind)
    if seen.read_at is None or now() - seen.read_at >= REFRESH:
        seen.read_at = now()
        seen.ids = set(await read_alone(bind, lambda c: list(c.scalars(_BLOCKED_IDS))))
    if user_id not in seen.ids:
        return False
    async with write_tx(session):
        await session.execute(update(User).where(User.id == user_id).values(blocked_at=None))
    seen.ids.discard(user_id)
    return True


async def mark_blocked(session: AsyncSession, user_id: int, at: datetime) -> None:
    """Telegram answered 403 for this user: remember since when (the first
    time; a later 403 keeps the date)."""
    async with write_tx(session):
        await session.execute(
            update(User)
            .where(User.id == user_id, User.blocked_at.is_(None))
            .values(blocked_at=utc(at))
        )
    _for(session.get_bind()).ids.add(user_id)


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
