"""The one place that sends messages (发送): a request middleware on the bot's
session, so `message.answer(...)`, `bot.send_message(...)` and the scheduler's
reminders all pass through it.

- Telegram refuses texts over 4,096 characters: long texts are split at line
  breaks (our HTML never opens a tag across lines), the keyboard goes on the
  last part.
- Rate limits (about 30 messages a second overall, bursts of a few per chat):
  a token bucket overall and one per chat. Edits and callback answers are not
  counted.
- Priority: a reply to a person's own tap or message goes before bulk
  messages. Bulk sends are marked with ``with bulk(): ...``; they wait while
  an interactive send is waiting, and they never take the last
  ``reserve`` tokens of the overall bucket, so an interactive reply finds one
  at once even while thousands of reminders are queued (issue 14, point 6).
- 429 Too Many Requests: wait ``retry_after`` and try again (up to five
  times), taking tokens again like any send.
- 5xx and network errors: try again with exponential backoff and jitter
  (about 0.5 s, 1 s, 2 s, 4 s; five tries in all). A 400 is our mistake and
  is never retried; neither is a 413 (too large).
- 403 (the user blocked the bot): remembered, the ``on_blocked`` hook is
  called (it records ``User.blocked_at``), and the error is raised again so
  the caller knows. A later successful send, or ``unblock``, forgets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    EditMessageText,
    GetUpdates,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
_SENDING = (SendMessage, SendDocument, SendPhoto)
_MAX_RETRIES = 5  # 429s waited out per request
_MAX_TRIES = 5  # tries in all on 5xx / network errors
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 4.0

Sleep = Callable[[float], Awaitable[Any]]
BlockedHook = Callable[[int], Awaitable[Any]]

_BULK: ContextVar[bool] = ContextVar("paicha_bulk_send", default=False)


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Mark the sends made inside as bulk (digests, reminders): they yield to
    replies to people's own taps and messages.

        with bulk():
            await bot.send_message(user_id, text)

    A ContextVar: tasks created inside inherit the mark."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def is_bulk() -> bool:
    return _BULK.get()


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


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before try ``attempt + 2``: 0.5, 1, 2, 4 s (capped),
    each between half and all of that ("equal jitter"), so many senders that
    failed together do not come back together."""
    full = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
    return full / 2 + rng() * full / 2


class TokenBucket:
    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens, self.stamp = capacity, time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self) -> None:
        if not self.lock.locked():  # nobody waiting: no lock to take (a fan-out's first send)
            self._refill()
            if self.tokens >= 1:
                self.tokens -= 1
                return
        async with self.lock:
            while True:
                self._refill()
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class PriorityBucket:
    """A token bucket with two queues: interactive waiters are served first,
    in order; bulk waiters only when no interactive one waits, and only while
    more than ``reserve`` tokens are left. In a long fan-out the bucket thus
    hovers at ``reserve`` tokens, and an interactive send takes one at once.

    No lock is held while waiting: waiters are futures granted by one timer,
    so a queue of thousands of bulk sends costs nothing to pass."""

    def __init__(self, rate: float, capacity: float, reserve: float = 10.0) -> None:
        self.rate = rate
        self.capacity = max(capacity, reserve + 1)
        self.reserve = reserve
        self.tokens, self.stamp = self.capacity, time.monotonic()
        self._interactive: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        # Seconds each recent interactive send waited for its token.
        self.interactive_waits: deque[float] = deque(maxlen=10_000)

    @property
    def waiting(self) -> tuple[int, int]:
        """(interactive, bulk) sends waiting for a token."""
        return len(self._interactive), len(self._bulk)

    async def take(self, bulk: bool = False) -> None:
        self._refill()
        if not self._interactive and (
            self.tokens >= 1 + self.reserve if bulk else self.tokens >= 1
        ):
            if not bulk or not self._bulk:  # nobody ahead in its queue
                self.tokens -= 1
                if not bulk:
                    self.interactive_waits.append(0.0)
                return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._bulk if bulk else self._interactive
        behind = bool(queue) and self._timer is not None  # the timer will come to it
        queue.append(future)
        if not behind:
            self._pump()
        start = time.monotonic()
        try:
            await future
            if not bulk:
                self.interactive_waits.append(time.monotonic() - start)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.tokens += 1  # granted just as we were cancelled: give it back
            with contextlib.suppress(ValueError):
                (self._bulk if bulk else self._interactive).remove(future)
            self._pump()
            raise

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    @staticmethod
    def _grant(queue: deque[asyncio.Future[None]]) -> bool:
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(None)
                return True
        return False

    def _pump(self) -> None:
        self._refill()
        while self.tokens >= 1 and self._grant(self._interactive):
            self.tokens -= 1
        while not self._interactive and self.tokens >= 1 + self.reserve:
            if not self._grant(self._bulk):
                break
            self.tokens -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._interactive or self._bulk:
            need = 1.0 if self._interactive else 1.0 + self.reserve
            delay = max(0.0, (need - self.tokens) / self.rate)
            self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._pump()


class Sender(BaseRequestMiddleware):
    """Constructor:

    - ``global_rate``, ``chat_rate``, ``chat_burst``: the buckets (messages
      per second overall; per chat, with its burst).
    - ``reserve``: overall tokens bulk sends never take (kept for replies).
    - ``on_blocked``: ``async (chat_id) -> None``, called after a 403 (the
      lead wires it to set ``User.blocked_at``); its failure is logged, the
      403 is raised in any case.
    - ``sleep``: ``async (seconds) -> None`` used for 429 waits and backoff,
      so tests need not wait in real time.
    - ``max_tries``: tries in all on 5xx / network errors.
    """

    def __init__(
        self,
        *,
        global_rate: float = 28.0,
        chat_rate: float = 1.0,
        chat_burst: float = 20.0,
        reserve: float = 10.0,
        on_blocked: BlockedHook | None = None,
        sleep: Sleep = asyncio.sleep,
        max_tries: int = _MAX_TRIES,
    ):
        self.global_bucket = PriorityBucket(global_rate, global_rate, reserve)
        self.chat_buckets: defaultdict[Any, TokenBucket] = defaultdict(
            lambda: TokenBucket(chat_rate, chat_burst)
        )
        self.blocked_chats: set[int] = set()
        self.on_blocked = on_blocked
        self.sleep = sleep
        self.max_tries = max_tries
        # What happened, for logs and benches.
        self.stats: dict[str, int] = defaultdict(int)

    # ---- 403 bookkeeping -------------------------------------------------

    def is_blocked(self, chat_id: int) -> bool:
        """Telegram answered 403 for this chat (in this process) and nothing
        has been delivered there since."""
        return chat_id in self.blocked_chats

    def unblock(self, chat_id: int) -> None:
        self.blocked_chats.discard(chat_id)

    # ---- the middleware --------------------------------------------------

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
        sending = isinstance(method, _SENDING)
        name = type(method).__name__
        waited_out, failures = 0, 0
        while True:
            if sending:
                # Every try takes its tokens, a retry too: retries after a
                # 429 must not arrive together on top of the steady flow.
                # The chat's bucket first: a send waiting for its chat holds
                # no overall token meanwhile.
                await self.chat_buckets[chat_id].take()
                await self.global_bucket.take(bulk=_BULK.get())
            try:
                response = await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self.stats["429"] += 1
                if waited_out == _MAX_RETRIES:
                    raise
                waited_out += 1
                log.warning("429 from Telegram on %s: waiting %ss", name, exc.retry_after)
                await self.sleep(exc.retry_after)
            except TelegramForbiddenError:
                self.stats["403"] += 1
                if isinstance(chat_id, int):
                    await self._blocked(chat_id)
                raise
            except (TelegramServerError, TelegramNetworkError) as exc:
                # GetUpdates: the dispatcher's polling has its own backoff.
                if isinstance(exc, TelegramEntityTooLarge) or isinstance(method, GetUpdates):
                    raise
                kind = "5xx" if isinstance(exc, TelegramServerError) else "network"
                self.stats[kind] += 1
                failures += 1
                if failures >= self.max_tries:
                    log.error("%s on %s: giving up after %d tries", kind, name, failures)
                    raise
                delay = backoff(failures - 1)
                log.warning(
                    "%s on %s (%s): try %d in %.1fs", kind, name, exc.message, failures + 1, delay
                )
                await self.sleep(delay)
            else:
                if sending and isinstance(chat_id, int) and chat_id in self.blocked_chats:
                    self.blocked_chats.discard(chat_id)  # delivered: not blocked any more
                return response

    async def _blocked(self, chat_id: int) -> None:
        self.blocked_chats.add(chat_id)
        if self.on_blocked is None:
            return
        try:
            await self.on_blocked(chat_id)
        except Exception as exc:  # the 403 matters more than the bookkeeping
            log.error("on_blocked hook failed: %s", type(exc).__name__)
