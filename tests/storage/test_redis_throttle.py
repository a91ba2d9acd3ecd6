"""Flood control shared by every worker (issue 17 point 6, bot/throttle.py):
with REDIS_URL the token buckets live in Redis, so a flood spread over two
workers gets the rate once, not twice; the Lua bucket decides exactly as the
in-process one; a bucket key expires once full again; without Redis a worker
falls back to its own buckets. Needs Redis (PAICHA_TEST_REDIS_URL)."""

from __future__ import annotations

import random

from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.app import _flood_buckets
from bot.settings import Settings
from bot.throttle import RedisTokenBuckets, TokenBuckets, Verdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_733_400_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_flood_over_two_workers_gets_one_burst_and_one_notice(redis_prefix):
    client, prefix = redis_prefix
    clock = FakeClock()
    workers = [RedisTokenBuckets(client, prefix, 10, 3.0, clock=clock) for _ in range(2)]
    verdicts = [await workers[i % 2].check(1) for i in range(1000)]  # one instant
    assert verdicts[:10] == [Verdict.PASS] * 10
    assert verdicts[10] is Verdict.WARN and set(verdicts[11:]) == {Verdict.DROP}
    assert await workers[1].check(2) is Verdict.PASS  # another user is untouched


async def test_the_shared_bucket_decides_as_the_in_process_one(redis_prefix):
    """The same taps, at the same times: the same verdicts, tap for tap.
    (Rate 4 and quarter-second gaps keep the token counts exact in both.)"""
    client, prefix = redis_prefix
    clock = FakeClock()
    shared = RedisTokenBuckets(client, prefix, 10, 4.0, clock=clock)
    local = TokenBuckets(10, 4.0, clock=clock)
    rng = random.Random(17)
    for _ in range(600):
        clock.now += rng.choice((0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 3.0))
        assert await shared.check(7) is local.take(7)


async def test_a_bucket_full_again_is_forgotten(redis_prefix):
    client, prefix = redis_prefix
    buckets = RedisTokenBuckets(client, prefix, 10, 3.0)
    await buckets.check(1)
    left = await client.pttl(f"{prefix}:flood:1")
    assert 0 < left <= 10 / 3 * 1000 + 1


async def test_without_redis_a_worker_counts_on_its_own_and_asks_redis_again_later(caplog):
    unreachable = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    buckets = RedisTokenBuckets(unreachable, "paicha", 10, 3.0)
    verdicts = [await buckets.check(1) for _ in range(12)]
    assert verdicts == [Verdict.PASS] * 10 + [Verdict.WARN, Verdict.DROP]
    # One failed attempt, then the fallback alone until RETRY_SECONDS pass: a
    # flood during an outage does not wait for a connection on every update.
    assert caplog.text.count("Redis unavailable") == 1
    await unreachable.aclose()


def test_the_bot_shares_the_buckets_where_it_shares_the_conversations():
    settings = Settings(_env_file=None, bot_token="1:a", redis_prefix="p")  # type: ignore[call-arg]
    redis_storage = RedisStorage(Redis(), key_builder=DefaultKeyBuilder(prefix="p"))
    assert isinstance(_flood_buckets(settings, redis_storage), RedisTokenBuckets)
    assert isinstance(_flood_buckets(settings, object()), TokenBuckets)  # type: ignore[arg-type]
