"""Per-user conversation locks across workers (issue 17, faults: kill -9 of a
worker in a conversation): the lock a worker holds lives a few seconds and is
renewed while its handler runs, so a killed worker holds the user for at most
``LOCK_SECONDS`` (aiogram's default: 60 s) and a long handler keeps its turn.
Needs Redis (PAICHA_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis.asyncio import Redis

from storage.redis_fsm import LOCK_SECONDS, LeasedRedisIsolation

KEY = StorageKey(bot_id=42, chat_id=101, user_id=101)


@pytest.fixture
def redis(redis_prefix: tuple[Redis, str]) -> tuple[Redis, DefaultKeyBuilder]:
    client, prefix = redis_prefix
    return client, DefaultKeyBuilder(prefix=prefix)


async def test_a_held_lock_expires_within_seconds_not_a_minute(redis):
    """What a worker killed mid-update leaves behind: a lock that ends by itself
    within LOCK_SECONDS."""
    client, keys = redis
    isolation = LeasedRedisIsolation(client, keys)
    async with isolation.lock(KEY):
        left = await client.pttl(keys.build(KEY, "lock"))
    assert 0 < left <= LOCK_SECONDS * 1000
    assert await client.exists(keys.build(KEY, "lock")) == 0  # released on the way out


async def test_a_long_handler_keeps_its_lock_and_the_next_update_waits(redis):
    """A handler running three lock lifetimes still holds the user: the other
    worker's update for the same user runs after it, never beside it."""
    client, keys = redis
    first = LeasedRedisIsolation(client, keys, seconds=0.3)
    second = LeasedRedisIsolation(client, keys, seconds=0.3)
    order: list[str] = []
    started = asyncio.Event()

    async def long_handler() -> None:
        async with first.lock(KEY):
            order.append("first begins")
            started.set()
            await asyncio.sleep(0.9)  # three lifetimes of the lock
            order.append("first ends")

    async def next_update() -> None:
        await started.wait()
        async with second.lock(KEY):
            order.append("second")

    await asyncio.wait_for(asyncio.gather(long_handler(), next_update()), 30)
    assert order == ["first begins", "first ends", "second"]


async def test_a_dead_workers_lock_is_taken_over_once_it_expires(redis):
    """The hold of a worker that died (never renewed, never released) ends, and
    the user's next update on another worker runs."""
    client, keys = redis
    dead = client.lock(keys.build(KEY, "lock"), timeout=0.3)
    assert await dead.acquire(blocking=False)
    survivor = LeasedRedisIsolation(client, keys, seconds=0.3)
    ran = False

    async def next_update() -> None:
        nonlocal ran
        async with survivor.lock(KEY):
            ran = True

    await asyncio.wait_for(next_update(), 30)
    assert ran
