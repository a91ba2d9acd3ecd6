"""One bot process for bench/load.py, configured by the environment like
`paicha run`, but with the relaxed Sender (no deliberate rate limit) so the
bench measures the bot, not Telegram's 30 messages a second.

    python bench/load_worker.py paicha-poll | paicha-webhook | echo-poll
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from log_attempts import echo_dispatcher, relaxed_sender  # noqa: E402

from bot.runner import assemble  # noqa: E402
from bot.settings import Settings  # noqa: E402


async def paicha(webhook: bool) -> None:
    app = await assemble(Settings(), sender=relaxed_sender())
    try:
        await (app.serve_webhook(handle_signals=True) if webhook else app.poll())
    finally:
        await app.close()


async def echo() -> None:
    """The bare aiogram echo bot with the same relaxed Sender (the baseline)."""
    settings = Settings()
    assert settings.bot_api_url
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
    session.middleware(relaxed_sender())
    bot = Bot(settings.bot_token, session=session)
    await bot.delete_webhook(drop_pending_updates=False)
    await echo_dispatcher().start_polling(bot, handle_signals=True)


def main() -> None:
    kind = sys.argv[1]
    if kind == "echo-poll":
        asyncio.run(echo())
    else:
        asyncio.run(paicha(webhook=kind == "paicha-webhook"))


if __name__ == "__main__":
    main()
