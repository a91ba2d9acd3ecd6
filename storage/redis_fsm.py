"""Conversations in Redis (several workers) that record the update a
conversation step belongs to (issue 17 point 4).

aiogram's ``RedisStorage`` as it is, but a state or data write made while an
update is handled first commits the update's id to ``processed_update``
(``storage.services.processed``) when nothing has yet. Redis and the database
cannot share a transaction, so the order is chosen for the failure that
matters: the id first, then the conversation. A second delivery of the step
(a webhook retry, two workers) stops at its write with DuplicateUpdate and
moves the conversation on no further; a worker killed between the two loses
that one step, which the user types again, rather than applying it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import write_alone
from storage.services import processed


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

        await write_alone(self._bind, record)
        mark.recorded = True
