"""The one place that sends messages (发送): a request middleware on the bot's
session, so `message.answer(...)`, `bot.send_message(...)` and the scheduler's
reminders all pass through it.

- Telegram refuses texts over 4,096 characters: long texts are split at line
  breaks (our HTML never opens a tag across lines), the keyboard goes on the
  last part.
- Rate limits (about 30 messages a second overall, bursts of a few per chat):
  a token bucket overall and one per chat.
- 429 Too Many Requests: wait ``retry_after`` and try again (a few times).
- 403 (the user blocked the bot): remembered, so reminders can skip them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import EditMessageText, SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
_SENDING = (SendMessage, SendDocument, SendPhoto)
_MAX_RETRIES = 3


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut at line breaks; a single line longer than the limit is cut hard."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


class TokenBucket:
    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens, self.stamp = capacity, time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Sender(BaseRequestMiddleware):
    def __init__(
        self, *, global_rate: float = 28.0, chat_rate: float = 1.0, chat_burst: float = 20.0
    ):
        self.global_bucket = TokenBucket(global_rate, global_rate)
        self.chat_buckets: defaultdict[Any, TokenBucket] = defaultdict(
            lambda: TokenBucket(chat_rate, chat_burst)
        )
        self.blocked_chats: set[int] = set()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SendMessage) and len(method.text) > TEXT_LIMIT:
            return await self._send_in_parts(make_request, bot, method)
        if isinstance(method, EditMessageText) and len(method.text) > TEXT_LIMIT:
            # An edit cannot grow into several messages: keep the first part.
            method.text = split_text(method.text)[0]
        return await self._send(make_request, bot, method)

    async def _send_in_parts(self, make_request, bot, method: SendMessage):  # type: ignore[no-untyped-def]
        parts = split_text(method.text)
        response = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            piece = method.model_copy(
                update={"text": part, "reply_markup": method.reply_markup if last else None}
            )
            response = await self._send(make_request, bot, piece)
        return response

    async def _send(self, make_request, bot, method):  # type: ignore[no-untyped-def]
        chat_id = getattr(method, "chat_id", None)
        if isinstance(method, _SENDING):
            await self.global_bucket.take()
            await self.chat_buckets[chat_id].take()
        for attempt in range(_MAX_RETRIES + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == _MAX_RETRIES:
                    raise
                log.warning(
                    "429 from Telegram on %s: waiting %ss", type(method).__name__, exc.retry_after
                )
                await asyncio.sleep(exc.retry_after)
            except TelegramForbiddenError:
                if isinstance(chat_id, int):
                    self.blocked_chats.add(chat_id)
                raise
        raise AssertionError("unreachable")
