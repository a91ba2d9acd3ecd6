"""The one assembly (STYLE 14): `paicha run`, the sandbox and the tests all
build the bot and the dispatcher here; nothing global is created at import."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.strategy import FSMStrategy
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.flows import LeaveFlowMiddleware
from bot.i18n import LocaleMiddleware, build_i18n
from bot.middlewares import DatabaseMiddleware, GuardMiddleware, PrivateOnlyMiddleware
from bot.sender import Sender
from bot.settings import Settings
from domain.clock import Clock
from handlers import get_routers
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


def build_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    storage: BaseStorage | None = None,
) -> Dispatcher:
    from aiogram.fsm.storage.base import DefaultKeyBuilder  # noqa: F401  (documented key shape)
    from aiogram.fsm.storage.memory import SimpleEventIsolation

    dp = Dispatcher(
        storage=storage or SqlStorage(sessionmaker),
        fsm_strategy=FSMStrategy.USER_IN_CHAT,
        # One user's quick taps are handled in order (aiogram issue 1317).
        events_isolation=SimpleEventIsolation(),
    )
    dp["settings"] = settings
    dp.update.outer_middleware(DatabaseMiddleware(sessionmaker, clock))
    dp.update.outer_middleware(LocaleMiddleware(build_i18n(settings.default_locale)))
    dp.update.outer_middleware(PrivateOnlyMiddleware())
    # A command always does what it says, in every step (issue 13).
    dp.message.outer_middleware(LeaveFlowMiddleware())
    dp.callback_query.middleware(CallbackAnswerMiddleware())
    dp.callback_query.middleware(GuardMiddleware())
    dp.message.middleware(GuardMiddleware())
    dp.include_routers(*get_routers())
    return dp
