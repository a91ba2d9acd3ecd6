"""The one assembly (STYLE 14): `paicha run`, the sandbox and the tests all
build the bot and the dispatcher here; nothing global is created at import."""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.fsm.strategy import FSMStrategy
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import on_unhandled_error
from bot.flows import LeaveFlowMiddleware
from bot.i18n import LocaleMiddleware, build_i18n
from bot.middlewares import DatabaseMiddleware, GuardMiddleware, PrivateOnlyMiddleware
from bot.sender import Sender
from bot.settings import Settings
from bot.throttle import RedisTokenBuckets, ThrottleMiddleware, TokenBuckets
from domain.clock import Clock
from handlers import get_routers
from storage import crypto
from storage.fsm import SqlStorage


class KeepResponseModels(BaseRequestMiddleware):
    """pydantic caches a parametrised model such as ``Response[Message]`` only
    weakly; the garbage collector drops it between replies and aiogram rebuilds
    it (about 6 ms of CPU) for the next one. Holding each one used keeps it."""

    def __init__(self) -> None:
        self.kept: dict[object, type] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.kept:
            self.kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def build_bot(settings: Settings, sender: Sender | None = None) -> Bot:
    api = TelegramAPIServer.from_base(settings.bot_api_url) if settings.bot_api_url else None
    session = AiohttpSession(api=api) if api else AiohttpSession()
    session.middleware(KeepResponseModels())
    session.middleware(sender or Sender())
    return Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


# A half-way conversation's data holds what was typed (an ID number, a
# phone): in Redis it is encrypted with the data key as in fsm_record
# (issue 18, storage/crypto.py), through RedisStorage's json_dumps/json_loads.
_FSM_AAD = b"redis.fsm.data"


def _seal_fsm_data(data: Any) -> str:
    return crypto.keyring().encrypt(json.dumps(data, ensure_ascii=False), _FSM_AAD)


def _open_fsm_data(text: str) -> Any:
    return json.loads(crypto.keyring().decrypt(text, _FSM_AAD))


def build_fsm_storage(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Where conversations live, and how one user's updates are kept in order.

    With REDIS_URL: aiogram's RedisStorage, shared by every worker, so a
    conversation started on one continues on another, and its Redis locks
    (LeasedRedisIsolation) keep one user's taps in order across workers. Its
    keys are shaped as SqlStorage's rows (bot, business connection, chat,
    user, destiny) under REDIS_PREFIX, and the data is encrypted with the
    data key; a conversation step records its update as SqlStorage's does
    (storage.redis_fsm). Without: SqlStorage on ``sessionmaker`` and in-process locks
    (SimpleEventIsolation), for one process (aiogram issue 1317: quick taps
    are handled in order)."""
    if settings.redis_url:
        from storage.redis_fsm import LeasedRedisIsolation, RecordingRedisStorage

        keys = DefaultKeyBuilder(
            prefix=f"{settings.redis_prefix}:fsm",
            with_bot_id=True,
            with_business_connection_id=True,
            with_destiny=True,
        )
        engine = sessionmaker.kw["bind"]
        redis = RecordingRedisStorage.from_url(
            settings.redis_url,
            engine=engine,
            key_builder=keys,
            json_dumps=_seal_fsm_data,
            json_loads=_open_fsm_data,
        )
        return redis, LeasedRedisIsolation(redis.redis, keys)
    return SqlStorage(sessionmaker), SimpleEventIsolation()


def _flood_buckets(settings: Settings, storage: BaseStorage) -> TokenBuckets | RedisTokenBuckets:
    """Per user: in Redis beside the conversations when several workers share
    them (so N workers do not give a flood N times the rate), else here."""
    burst, rate = settings.throttle_burst, settings.throttle_rate
    if isinstance(storage, RedisStorage):
        return RedisTokenBuckets(storage.redis, settings.redis_prefix, burst, rate)
    return TokenBuckets(burst, rate)


def build_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> Dispatcher:
    """``storage`` and ``events_isolation``: from build_fsm_storage (the
    default: the one it picks, with the FSM state on ``sessionmaker``)."""
    if storage is None:
        storage, events_isolation = build_fsm_storage(settings, sessionmaker)
    i18n = build_i18n(settings.default_locale)
    dp = Dispatcher(
        storage=storage,
        fsm_strategy=FSMStrategy.USER_IN_CHAT,
        events_isolation=events_isolation or SimpleEventIsolation(),
        # Registered below, after flood control (documented: disabling the
        # FSM middleware also leaves out its isolation; dp.fsm is both).
        disable_fsm=True,
    )
    dp["settings"] = settings
    # Flood control first (bot/throttle.py): a dropped update waits for no
    # lock and costs no FSM read and no database session.
    if settings.throttle_rate > 0:
        dp.update.outer_middleware(ThrottleMiddleware(_flood_buckets(settings, storage), i18n))
    # The conversation: one user's updates one at a time, then the state.
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(DatabaseMiddleware(sessionmaker, clock))
    dp.update.outer_middleware(LocaleMiddleware(i18n))
    dp.update.outer_middleware(PrivateOnlyMiddleware())
    # A command always does what it says, in every step (issue 13).
    dp.message.outer_middleware(LeaveFlowMiddleware())
    dp.callback_query.middleware(CallbackAnswerMiddleware())
    dp.callback_query.middleware(GuardMiddleware())
    dp.message.middleware(GuardMiddleware())
    dp.include_routers(*get_routers())
    dp.errors.register(on_unhandled_error)
    return dp
