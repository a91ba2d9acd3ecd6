"""Flood control (限流, issue 17 point 6): a user sending faster than a person
can is slowed down politely, and one user's flood delays no one else.

Each user has a token bucket: it holds at most ``burst`` tokens (10), refills
at ``rate`` tokens a second (3) and every message or button press takes one.
Why these figures:

- a person reads the bot's answer before tapping again; even a secretary who
  knows the menus by heart taps about once a second, two or three times in a
  quick run (a double tap, 上一页/下一页). 3 a second sustained is above any
  person and far below a script or a stuck key;
- Telegram itself delivers a burst of up to 10 at once when a person acts
  once: a forwarded batch or an album of 10 photos or files is 10 updates;
  a burst of 10 lets that through whole;
- a full bucket after a pause (10 / 3 ≈ 3.3 s) means an honest user who was
  slowed down is back to normal after a short wait, as the message says.

The first update over the limit is answered once with "操作太快了，请稍等几秒再试。"
(a button press as its callback answer, a message as one reply); the rest
of that flood is dropped without a word, so a flood of 1,000 costs at most one
answer. The notice is in the user's Telegram language (their /lang choice is
in the database, which a dropped update does not touch). The flood ends, and the next one is told again, once the user's
bucket is full again (the user paused). A dropped update is confirmed to
Telegram like a handled one: it is not sent again.

The middleware runs in the dispatcher before the conversation lock, the FSM
state read and the database session (bot/app.py), so a dropped update costs
one dictionary lookup: no lock waited for, no statement, no other user
delayed. Buckets are per user in this process with no global lock; a bucket
that would be full again is indistinguishable from a new one and is
forgotten, so memory is O(users active in the last few seconds), capped at
``max_users``.

With several workers (REDIS_URL) the buckets live in Redis
(``RedisTokenBuckets``): the same bucket, refilled and taken in one Lua
script (atomic, one round trip of about 0.1 ms), whichever worker the
update reached, so N workers do not give a flood N times the rate. The
script reads the workers' wall clocks (a bucket moves between processes; a
clock a little behind counts as no time passed). A bucket key expires once
it would be full again, as the in-process one is forgotten. If Redis does
not answer, the worker falls back to its own buckets: a flood is still
slowed, per worker, and no one is refused for Redis's sake.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.i18n import locale_from_telegram
from domain.errors import N_

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

TOO_FAST = N_("操作太快了，请稍等几秒再试。")
# What a person sends; the updates Telegram sends about the bot itself
# (my_chat_member: blocked, unblocked) are never throttled.
THROTTLED_TYPES = frozenset({"message", "edited_message", "callback_query"})


class Verdict(enum.Enum):
    PASS = "pass"  # handle it
    WARN = "warn"  # drop it, and tell the user once
    DROP = "drop"  # drop it silently


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when ``tokens`` was counted
    warned: bool = False


class TokenBuckets:
    """One token bucket per user: ``burst`` tokens at most, ``rate`` a second
    back. ``clock`` gives seconds (monotonic; a fake one in tests)."""

    def __init__(
        self,
        burst: int = 10,
        rate: float = 3.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        if burst < 1 or rate <= 0:
            msg = "a token bucket needs burst >= 1 and rate > 0"
            raise ValueError(msg)
        self.burst = float(burst)
        self.rate = float(rate)
        self.clock = clock
        self.max_users = max_users
        # Seconds of quiet after which a bucket is full again: then it is the
        # same as a new one and can be forgotten.
        self.refill_seconds = self.burst / self.rate
        # Least recently seen first: eviction looks at the front only.
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, user_id: int) -> Verdict:
        now = self.clock()
        self._evict(now)
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(tokens=self.burst, at=now)
        else:
            self._buckets.move_to_end(user_id)
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.at = now
            if bucket.tokens >= self.burst:
                bucket.warned = False  # paused long enough: a new flood is told again
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.PASS
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN

    def _evict(self, now: float) -> None:
        """Forget the buckets full again (amortised O(1): each is removed once),
        and the least recent beyond ``max_users``."""
        buckets = self._buckets
        while buckets:
            user_id, oldest = next(iter(buckets.items()))
            if now - oldest.at < self.refill_seconds and len(buckets) < self.max_users:
                break
            del buckets[user_id]

    async def check(self, user_id: int) -> Verdict:
        """``take``, as the middleware asks every kind of buckets."""
        return self.take(user_id)


# KEYS[1]: the user's bucket; ARGV: burst, rate, now (seconds). The same
# arithmetic as TokenBuckets.take; returns 0 PASS, 1 WARN, 2 DROP.
_TAKE = """
local burst, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'warned')
local tokens, warned = burst, false
if held[1] then
  local elapsed = math.max(0, now - tonumber(held[2]))
  tokens = math.min(burst, tonumber(held[1]) + elapsed * rate)
  warned = held[3] == '1' and tokens < burst
end
local verdict = 0
if tokens >= 1 then
  tokens = tokens - 1
elseif warned then
  verdict = 2
else
  warned, verdict = true, 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now),
  'warned', warned and '1' or '0')
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000))
return verdict
"""
_VERDICTS = (Verdict.PASS, Verdict.WARN, Verdict.DROP)
RETRY_SECONDS = 30.0


class RedisTokenBuckets:
    """The buckets of every worker in Redis (module docstring); ``fallback``
    (this process's own) while Redis does not answer."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        burst: int = 10,
        rate: float = 3.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fallback = TokenBuckets(burst, rate)
        self.prefix = prefix
        self.clock = clock
        self._take = redis.register_script(_TAKE)
        self._args = (self.fallback.burst, self.fallback.rate)
        # While Redis fails, it is asked again only after RETRY_SECONDS: a
        # connection attempt (with the client's retries) would otherwise be
        # waited for on every update.
        self._retry_at: float | None = None

    async def check(self, user_id: int) -> Verdict:
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            return self.fallback.take(user_id)
        try:
            code = await self._take(
                keys=[f"{self.prefix}:flood:{user_id}"], args=[*self._args, self.clock()]
            )
        except RedisError as exc:
            if self._retry_at is None:
                log.warning(
                    "Flood control: Redis unavailable (%s); counting here", type(exc).__name__
                )
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return self.fallback.take(user_id)
        self._retry_at = None
        return _VERDICTS[int(code)]


class ThrottleMiddleware(BaseMiddleware):
    """Outer update middleware: drops what a user sends over their bucket's
    rate, telling them once per flood (module docstring)."""

    def __init__(self, buckets: TokenBuckets | RedisTokenBuckets, i18n: I18n) -> None:
        self.buckets = buckets
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not isinstance(event, Update) or event.event_type not in THROTTLED_TYPES:
            return await handler(event, data)
        verdict = await self.buckets.check(user.id)
        if verdict is Verdict.PASS:
            return await handler(event, data)
        if verdict is Verdict.WARN:
            log.info("Flood control: user %s is sending too fast; slowed down", user.id)
            await self._tell(event, user)
        return None

    async def _tell(self, update: Update, user: User) -> None:
        locale = locale_from_telegram(user.language_code, self.i18n.default_locale)
        text = self.i18n.gettext(TOO_FAST, locale=locale)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text)
            elif update.message is not None:
                await update.message.answer(text)
        except TelegramAPIError as exc:
            # Too old a button, the bot blocked: the flood is dropped anyway.
            log.info("Flood control notice not delivered: %s", type(exc).__name__)
