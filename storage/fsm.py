"""aiogram FSM storage in our database (会话状态存储): conversations survive restarts.

aiogram ships no SQL storage, and ``MemoryStorage`` forgets every conversation
when the bot restarts; a secretary half-way through /add would have to start
over. ``SqlStorage`` keeps state and data in ``fsm_record``, one row per
conversation key, shaped like aiogram's ``RedisStorage``: a ``KeyBuilder``
turns the ``StorageKey`` into the row's key and data is stored as JSON.

Every call runs on a connection of its own from the sessionmaker's engine
(never the handler's session): a read is one statement without a
transaction (``read_alone``), a write one unit of work (``write_alone``, as
``write_tx`` does for sessions). A write made while an update is handled
records the update's id in the same unit when nothing has yet
(``storage.services.processed``): a conversation step delivered twice moves
the conversation on once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from storage.db import read_alone, write_alone
from storage.models import FsmRecord
from storage.services import processed

_KEY_MAX = FsmRecord.__table__.c.key.type.length
_STATE_MAX = FsmRecord.__table__.c.state.type.length
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}

_Record = tuple[str | None, dict[str, Any]]
_T = TypeVar("_T")

# Built once, with the key as a parameter: building a statement costs more
# than running it (issue 3).
_TABLE = FsmRecord.__table__
_KEY_IS = _TABLE.c.key == bindparam("row_key")
_SELECT = select(_TABLE.c.state, _TABLE.c.data).where(_KEY_IS)
_DELETE = delete(_TABLE).where(_KEY_IS)
# Clearing one column: the row goes if the other is empty, else the column is emptied.
_DELETE_IF_EMPTY = {
    "state": delete(_TABLE).where(_KEY_IS, _TABLE.c.data.is_(None)),
    "data": delete(_TABLE).where(_KEY_IS, _TABLE.c.state.is_(None)),
}
_CLEAR = {
    column: update(_TABLE).where(_KEY_IS).values({column: None, "updated_at": func.now()})
    for column in ("state", "data")
}
_UPDATE = (
    update(_TABLE)
    .where(_KEY_IS)
    .values(state=bindparam("new_state"), data=bindparam("new_data"), updated_at=func.now())
)


def _state_name(state: StateType) -> str | None:
    name = state.state if isinstance(state, State) else state
    if name is not None and len(name) > _STATE_MAX:
        msg = f"FSM state name is longer than {_STATE_MAX} characters: {name!r}"
        raise ValueError(msg)
    return name


class SqlStorage(BaseStorage):
    """FSM storage on SQLAlchemy (SQLite or PostgreSQL); conversations survive restarts.

    One ``fsm_record`` row holds both the state and the JSON data of a key;
    the row is deleted as soon as both are empty, so finished conversations
    leave nothing behind.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        """
        :param sessionmaker: the application's sessionmaker; the storage opens
            its own short transactions from it
        :param key_builder: turns a ``StorageKey`` into the row key; by default
            ``DefaultKeyBuilder(with_destiny=True, with_bot_id=True,
            with_business_connection_id=True)`` so that no two conversations
            (bots, chats, topics, users, destinies, business connections) share a row
        """
        if key_builder is None:
            key_builder = DefaultKeyBuilder(
                with_bot_id=True,
                with_business_connection_id=True,
                with_destiny=True,
            )
        bind = sessionmaker.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            msg = "SqlStorage needs a sessionmaker bound to an AsyncEngine"
            raise TypeError(msg)
        self.sessionmaker = sessionmaker
        self.key_builder = key_builder
        # Each call is one statement or one small write: it runs on a
        # connection of its own, straight on the engine, without an ORM
        # session (issue 3: most of a /log tap's database time was the session).
        self._bind = bind.sync_engine
        self._insert = _INSERTS[bind.dialect.name]
        self._upserts: dict[tuple[str, ...], Executable] = {}
        self._lock = (
            self._insert(_TABLE)
            .values(key=bindparam("row_key"), state=None, data=None)
            .on_conflict_do_update(index_elements=[_TABLE.c.key], set_={"updated_at": func.now()})
            .returning(_TABLE.c.state, _TABLE.c.data)
        )

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the application, which
        disposes it (other parts of the bot still use it after the dispatcher
        shuts down)."""

    # -- reads ---------------------------------------------------------------

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self._read(key)
        return state

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self._read(key)
        return data

    # -- writes --------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        new_state = _state_name(state)
        if new_state is None:
            await self._clear_column(key, "state")
        else:
            await self._upsert(key, state=new_state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        if data:
            await self._upsert(key, data=self._dumps(key, dict(data)))
        else:
            await self._clear_column(key, "data")

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``data`` into the stored data (like ``dict.update``), atomically:
        the read, the merge and the write happen in one write transaction with
        the row locked, so concurrent updates of one key never lose each other."""
        if not isinstance(data, Mapping):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        self._dumps(key, dict(data))  # refuse before touching the database

        def merge(state: str | None, current: dict[str, Any]) -> _Record:
            current.update(data)
            return state, current

        _, merged = await self._write(key, merge)
        return merged.copy()

    # -- both at once (one transaction instead of two; see ``replace``/``advance``) --

    async def set_record(self, key: StorageKey, state: StateType, data: Mapping[str, Any]) -> None:
        """``set_state(state)`` then ``set_data(data)``, in one statement."""
        new_state, new_data = _state_name(state), dict(data)
        if new_state is None and not new_data:
            await self._delete(key)
        else:
            raw = self._dumps(key, new_data) if new_data else None
            await self._upsert(key, state=new_state, data=raw)

    async def update_record(
        self, key: StorageKey, state: StateType, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``update_data(data)`` then ``set_state(state)``, in one transaction."""
        new_state = _state_name(state)
        self._dumps(key, dict(data))  # refuse before touching the database

        def merge(_state: str | None, current: dict[str, Any]) -> _Record:
            current.update(data)
            return new_state, current

        _, merged = await self._write(key, merge)
        return merged.copy()

    # -- internals -----------------------------------------------------------

    def _key(self, key: StorageKey) -> str:
        # One row holds state and data, so the key has no "state"/"data" part.
        row_key = self.key_builder.build(key)
        if len(row_key) > _KEY_MAX:
            msg = f"FSM key is longer than {_KEY_MAX} characters: {row_key!r}"
            raise ValueError(msg)
        return row_key

    @staticmethod
    def _dumps(key: StorageKey | str, data: dict[str, Any]) -> str:
        try:
            return json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            msg = (
                f"FSM data for {key} must be JSON-serialisable (dict, list, str, int, "
                f"float, bool, None); store e.g. dates as ISO strings and objects by id: {exc}"
            )
            raise TypeError(msg) from exc

    @staticmethod
    def _loads(raw: str | None) -> dict[str, Any]:
        return json.loads(raw) if raw else {}

    async def _read(self, key: StorageKey) -> _Record:
        params = {"row_key": self._key(key)}
        row = await read_alone(self._bind, lambda c: c.execute(_SELECT, params).one_or_none())
        if row is None:
            return None, {}
        return row.state, self._loads(row.data)

    async def _upsert(self, key: StorageKey, **values: str | None) -> None:
        """Insert the row or overwrite ``values`` in it: one statement, atomic
        on both engines, so no read and no row lock are needed first."""
        columns = tuple(sorted(values))
        statement = self._upserts.get(columns)
        if statement is None:
            insert = self._insert(_TABLE)
            statement = insert.values(
                key=bindparam("row_key"), **{c: bindparam(f"new_{c}") for c in columns}
            ).on_conflict_do_update(
                index_elements=[_TABLE.c.key],
                set_={**{c: insert.excluded[c] for c in columns}, "updated_at": func.now()},
            )
            self._upserts[columns] = statement
        params = {"row_key": self._key(key), **{f"new_{c}": v for c, v in values.items()}}
        await self._unit(lambda c: c.execute(statement, params))

    async def _clear_column(self, key: StorageKey, column: str) -> None:
        """Empty ``state`` or ``data``; the row goes when the other is empty too."""
        params = {"row_key": self._key(key)}

        def clear(connection: Connection) -> None:
            connection.execute(_DELETE_IF_EMPTY[column], params)
            connection.execute(_CLEAR[column], params)

        await self._unit(clear)

    async def _delete(self, key: StorageKey) -> None:
        params = {"row_key": self._key(key)}
        await self._unit(lambda c: c.execute(_DELETE, params))

    async def _write(
        self, key: StorageKey, change: Callable[[str | None, dict[str, Any]], _Record]
    ) -> _Record:
        """Lock (or create) the row, apply ``change(state, data) -> (state, data)``,
        then update the row, or delete it when both state and data are empty.

        Why ``INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING`` first, not a
        plain SELECT then INSERT/UPDATE: on SQLite, ``write_alone`` begins
        IMMEDIATE, so writers are serialised and either would do. On
        PostgreSQL (READ COMMITTED) a SELECT takes no lock — two transactions
        could both read the old data and the second write would silently drop
        the first (lost update), and two could both miss the row and both
        INSERT (unique violation). ``SELECT ... FOR UPDATE`` only locks a row
        that already exists. ``ON CONFLICT DO UPDATE`` is atomic on both
        engines (SQLite ≥ 3.35 for RETURNING): it inserts the row or locks the
        existing one, and returns its committed values, so the
        read-modify-write below runs under that row lock until commit.
        """
        row_key = self._key(key)
        lock = self._lock

        def write(connection: Connection) -> _Record:
            row = connection.execute(lock, {"row_key": row_key}).one()
            state, data = change(row.state, self._loads(row.data))
            if state is None and not data:
                connection.execute(_DELETE, {"row_key": row_key})
            else:
                raw = self._dumps(key, data) if data else None
                connection.execute(
                    _UPDATE, {"row_key": row_key, "new_state": state, "new_data": raw}
                )
            return state, data

        return await self._unit(write)

    async def _unit(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` as one write unit; the update being handled, if not yet
        recorded, is recorded in it (a redelivery raises DuplicateUpdate
        before anything is written)."""
        mark = processed.pending()
        if mark is None:
            return await write_alone(self._bind, work)

        def recorded_work(connection: Connection) -> _T:
            processed.record_on(connection, mark)
            return work(connection)

        result = await write_alone(self._bind, recorded_work)
        mark.recorded = True
        return result


async def replace(context: FSMContext, state: StateType, data: Mapping[str, Any]) -> None:
    """``context.set_state(state)`` then ``context.set_data(data)``: one write
    instead of two on ``SqlStorage`` (each write waits its turn for SQLite's lock)."""
    if isinstance(context.storage, SqlStorage):
        await context.storage.set_record(context.key, state, data)
    else:
        await context.set_state(state)
        await context.set_data(data)


async def advance(context: FSMContext, state: StateType, **data: Any) -> dict[str, Any]:
    """``context.update_data(**data)`` then ``context.set_state(state)``, as one write."""
    if isinstance(context.storage, SqlStorage):
        return await context.storage.update_record(context.key, state, data)
    merged = await context.update_data(data)
    await context.set_state(state)
    return merged
