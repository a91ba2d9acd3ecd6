"""Conversations in Redis (several workers): a storage that records the
update a conversation step belongs to (issue 17 point 4), and per-user locks
that a killed worker does not hold for long.

aiogram's ``RedisStorage`` as it is, but a state or data write made while an
update is handled first commits the update's id to ``processed_update``
(``storage.services.processed``) when nothing has yet. Redis and the database
cannot share a transaction, so the order is chosen for the failure that
matters: the id first, then the conversation. A second delivery of the step
(a webhook retry, two workers) stops at its write with DuplicateUpdate and
moves the conversation on no further; a worker killed between the two loses
that one step, which the user types again, rather than applying it twice.

``LeasedRedisIsolation``: aiogram's RedisEventIsolation keeps one user's
updates in order across workers with a Redis lock that expires after 60 s,
so a worker killed while handling a user's tap left that user waiting a
minute. Here the lock lives ``LOCK_SECONDS`` and is renewed while the
handler runs: a dead worker's hold ends within seconds, and a long handler
(a 100,000-row import) keeps its lock as long as it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from aiogram.fsm.storage.base import KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import write_alone
from storage.services import processed

log = logging.getLogger(__name__)

# A killed worker's hold on a user ends within this; a live one renews it
# three times as often, so a slow Redis round trip never lets it lapse.
LOCK_SECONDS = 10.0


class RecordingRedisStorage(RedisStorage):
    """``RedisStorage`` whose writes record the update being handled."""

    def __init__(self, *args: Any, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bind = engine.sync_engine

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._record()
        await super().set_state(key, state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        # update_data (aiogram's BaseStorage) comes here too.
        await self._record()
        await super().set_data(key, data)

    async def _record(self) -> None:
        mark = processed.pending()
        if mark is None:
            return

        def record(connection: Connection) -> None:
            processed.record_on(connection, mark)

        await write_alone(self._bind, record, one_statement=True)
        mark.recorded = True


class LeasedRedisIsolation(RedisEventIsolation):
    """One user's updates one at a time across workers, on a lock that lives
    ``seconds`` and is renewed while the handler runs (module docstring)."""

    def __init__(
        self, redis: Redis, key_builder: KeyBuilder | None = None, *, seconds: float = LOCK_SECONDS
    ) -> None:
        super().__init__(redis, key_builder, lock_kwargs={"timeout": seconds})
        self.seconds = seconds

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        name = self.key_builder.build(key, "lock")
        async with self.redis.lock(name=name, timeout=self.seconds, lock_class=Lock) as held:
            renewing = asyncio.create_task(self._renew(held))
            try:
                yield None
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing

    async def _renew(self, held: Lock) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                await held.reacquire()
            except (LockError, RedisError) as exc:
                # Lost (Redis restarted, or too slow): the handler goes on; the
                # user's next update may now run beside it, as after a crash.
                log.warning("could not renew a conversation lock: %s", type(exc).__name__)
                return
