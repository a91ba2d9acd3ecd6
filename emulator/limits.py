"""Telegram-like flood limits, opt in (``BotApiEmulator(limits=RateLimits())``
or ``emulator.enforce_limits()``): about 30 messages a second overall, about
one a second per chat with a burst, 20 a minute per group. A send over a
limit is refused with 429 and ``retry_after``, and nothing is delivered, as
on Telegram. Only sends count (sendMessage, sendDocument, sendPhoto…); edits
and callback answers do not. Off by default, so other tests are unaffected."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

from emulator.validation import ApiError

LIMITED_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "sendvideo",
        "sendaudio",
        "sendvoice",
        "sendanimation",
        "sendsticker",
        "sendmediagroup",
        "sendlocation",
        "sendcontact",
        "sendpoll",
        "copymessage",
        "forwardmessage",
    }
)


@dataclass
class RateLimits:
    per_second: float = 30.0  # all chats together
    burst: float = 30.0
    chat_per_second: float = 1.0  # one private chat, sustained
    chat_burst: float = 20.0  # the same burst the bot's Sender allows itself
    group_per_minute: float = 20.0  # one group or channel (negative chat id)


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def wait(self, now: float) -> float:
        """0 if a token is there (nothing taken yet), else seconds until one."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodControl:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.overall = _Bucket(limits.per_second, limits.burst)
        self.chats: dict[int, _Bucket] = {}
        self.refused: Counter[str] = Counter()  # which limit answered 429

    def _chat_bucket(self, chat_id: int) -> _Bucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            if chat_id < 0:
                rate = self.limits.group_per_minute / 60
                bucket = _Bucket(rate, self.limits.group_per_minute)
            else:
                bucket = _Bucket(self.limits.chat_per_second, self.limits.chat_burst)
            self.chats[chat_id] = bucket
        return bucket

    def check(self, method: str, chat_id: object) -> None:
        """Take a token for this send, or raise 429 (taking none)."""
        if method not in LIMITED_METHODS:
            return
        now = time.monotonic()
        buckets = [("overall", self.overall)]
        try:
            buckets.append(
                ("group" if int(chat_id) < 0 else "chat", self._chat_bucket(int(chat_id)))
            )  # type: ignore[call-overload]
        except (TypeError, ValueError):
            pass  # the method itself will refuse the chat id
        worst = max(((bucket.wait(now), name) for name, bucket in buckets), default=(0.0, ""))
        if worst[0] > 0:
            self.refused[worst[1]] += 1
            retry_after = max(1, math.ceil(worst[0]))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        for _, bucket in buckets:
            bucket.tokens -= 1
