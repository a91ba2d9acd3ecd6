"""Update middlewares: private chats only, one database session per update,
the Actor (who is this user, which roles), the clock.

The session is closed (and anything uncommitted rolled back) after the
handler, whatever happens; services commit their own write units before the
bot says “已保存” (STYLE 15).

Each update is handled once (issue 17 point 4): the session, or the
conversation storage, records the update's id in its first write
transaction (``storage.services.processed``),
so a redelivered update stops at its first write (``DuplicateUpdate``),
changes nothing and says nothing; an uploaded file handled already is skipped
before its handler downloads it again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, html
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import apologise
from bot.i18n import locale_from_telegram
from domain.clock import Clock
from domain.errors import InvalidInput
from storage.services import processed
from storage.services.access import AccessDenied
from storage.services.processed import DuplicateUpdate, UpdateSession
from storage.services.users import see_user

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class PrivateOnlyMiddleware(BaseMiddleware):
    """R-ACL-PRIVATE: outside a private chat, say so and show no data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat = data.get("event_chat")
        if chat is None or chat.type == "private":
            return await handler(event, data)
        update: Update = event  # type: ignore[assignment]
        notice = _("本机器人只在私聊中使用，请直接私聊我。")
        if update.callback_query:
            await update.callback_query.answer(notice, show_alert=True)
        elif update.message and (update.message.text or "").startswith("/"):
            await update.message.answer(notice)
        return None


class DatabaseMiddleware(BaseMiddleware):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        update_id: int | None = getattr(event, "update_id", None)
        async with self.sessionmaker(sync_session_class=UpdateSession) as session:
            data["session"] = session
            data["clock"] = self.clock
            try:
                if (
                    update_id is not None
                    and _heavy(event)
                    and await processed.seen(session, update_id)
                ):
                    log.info("update %s was handled already; skipped", update_id)
                    return None
                if user is not None:
                    locale = locale_from_telegram(user.language_code)
                    data["actor"] = await see_user(
                        session, user.id, user.full_name, user.username, locale
                    )
                    # End the read so the connection goes back to the pool
                    # while the handler talks to Telegram (usually the read
                    # ran on its own and there is nothing to end).
                    if session.in_transaction():
                        await session.commit()
            except Exception as exc:
                await _apologise(event, exc)
                return None
            try:
                if update_id is None:
                    return await handler(event, data)
                # From here on, the first write unit (the session's or the
                # conversation's) also records the update.
                with processed.handling(session, update_id, self.clock.now()):
                    return await handler(event, data)
            except DuplicateUpdate as dup:  # an update no GuardMiddleware saw
                _already_done(dup)
                return None
            finally:
                if session.in_transaction():
                    await session.rollback()


def _heavy(event: TelegramObject) -> bool:
    """An uploaded file (a roster, a family workbook): its handler downloads
    and reads it before its first write, seconds for a large register, so a
    redelivery is looked up first (one read) and skipped when handled. Other
    updates skip that read (it would cost every tap about as much as loading
    the user does) and stop at their first write instead."""
    message = getattr(event, "message", None)
    return message is not None and message.document is not None


def _unchanged(exc: TelegramBadRequest) -> bool:
    """An edit to what the message already shows: a double tap, or the
    second of two taps landing after the first one's edit. What the handler
    saved before the edit stands, so it is no failure to apologise for."""
    return "message is not modified" in exc.message


def _already_done(dup: DuplicateUpdate) -> None:
    log.info("update %s was handled already (by another worker or delivery)", dup.update_id)


async def _apologise(event: TelegramObject, exc: Exception) -> None:
    """The database is unreachable before any handler ran: say so plainly
    (no locale is known yet, so in both languages) and log only the type."""
    log.error("could not load the user: %s", type(exc).__name__)
    await apologise(event)  # type: ignore[arg-type]  # the outer middleware sees the Update


class GuardMiddleware(BaseMiddleware):
    """Inner middleware on messages and callback queries: turns the service's
    refusals into answers, and any failure into a plain apology — never a
    stack trace (issue 2); an update handled already (``DuplicateUpdate``)
    gets no answer at all. Callback queries are answered once, through
    aiogram's CallbackAnswerMiddleware (``callback_answer`` in data)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except DuplicateUpdate as dup:
            # Another delivery of this update did it: end the transaction the
            # failed record left open, and say nothing (its callback was
            # answered by the first handling).
            session: AsyncSession | None = data.get("session")
            if session is not None:
                await session.rollback()
            answer = data.get("callback_answer")
            if answer is not None:
                answer.disable()
            _already_done(dup)
        except AccessDenied:
            await self._tell(event, data, _("无权限"))
        except InvalidInput as exc:
            await self._tell(event, data, exc.render(_))
        except TelegramBadRequest as exc:
            if not _unchanged(exc):
                await self._failed(event, data, exc)
        except Exception as exc:
            await self._failed(event, data, exc)
        return None

    async def _failed(self, event: TelegramObject, data: dict[str, Any], exc: Exception) -> None:
        # The message of a database error carries the row's values; log
        # only the type and the frames (R-CONFIDENTIAL).
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("update handling failed: %s\n%s", type(exc).__name__, frames)
        text = _("出了点问题，刚才的操作没有保存。请稍后再试；如果反复出现，请联系管理员。")
        await self._tell(event, data, text)

    @staticmethod
    async def _tell(event: TelegramObject, data: dict[str, Any], text: str) -> None:
        if isinstance(event, CallbackQuery):
            answer = data.get("callback_answer")
            if answer is not None and not answer.answered:
                answer.text, answer.show_alert = text[:200], True
            else:
                await event.answer(text[:200], show_alert=True)
        elif isinstance(event, Message):
            await event.answer(html.quote(text))
