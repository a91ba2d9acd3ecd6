"""One bot process for bench/load.py, configured by the environment like
`paicha run`, but with the relaxed Sender (no deliberate rate limit) so the
bench measures the bot, not Telegram's 30 messages a second.

    python bench/load_worker.py paicha-poll | paicha-webhook | echo-poll

The process watches its own event loop (a task that sleeps 10 ms and
records how late it wakes: issue 17 point 5, the bot's loop alone, without
the harness's users beside it) from SIGUSR1 (the users begin) and, with
PAICHA_BENCH_REPORT set, writes the lags and its CPU seconds since then to
that file as JSON when SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiogram import Bot  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from log_attempts import LagMonitor, echo_dispatcher, relaxed_sender  # noqa: E402

from bot.runner import assemble, freeze_startup_heap  # noqa: E402
from bot.settings import Settings  # noqa: E402


async def paicha(webhook: bool) -> None:
    app = await assemble(Settings(), sender=relaxed_sender())
    freeze_startup_heap()  # as `paicha run` does
    try:
        await (app.serve_webhook() if webhook else app.poll())
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
    dispatcher = echo_dispatcher()
    freeze_startup_heap()  # the same process set-up as the bots it is compared with
    await dispatcher.start_polling(bot, handle_signals=False)


class Watch:
    """The loop lag and CPU seconds from the harness's SIGUSR1 (its users
    begin) to the end: the bot's own figures for the measured run, without
    start-up. SIGTERM stops the bot however it runs."""

    def __init__(self) -> None:
        self.monitor = LagMonitor()
        self.cpu_at_start = 0.0
        self.full_passes: list[float] = []  # the collector's, in seconds
        self._pass_began = 0.0
        gc.callbacks.append(self._collector)

    def begin(self) -> None:
        self.monitor.take()
        self.cpu_at_start = _cpu()
        self.full_passes.clear()

    def _collector(self, phase: str, info: dict[str, int]) -> None:
        """How long each full pass of the garbage collector stops the loop."""
        if info["generation"] != 2:
            return
        if phase == "start":
            self._pass_began = time.perf_counter()
        else:
            self.full_passes.append(time.perf_counter() - self._pass_began)

    async def run(self, bot: Coroutine[Any, Any, None]) -> dict[str, object]:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(bot)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        loop.add_signal_handler(signal.SIGUSR1, self.begin)
        self.monitor.start()
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            await self.monitor.stop()
        return {
            "lags": self.monitor.take(),
            "cpu": _cpu() - self.cpu_at_start,
            "full_passes": self.full_passes,
        }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    kind = sys.argv[1]
    bot = echo() if kind == "echo-poll" else paicha(webhook=kind == "paicha-webhook")
    figures = asyncio.run(Watch().run(bot))
    report = os.environ.get("PAICHA_BENCH_REPORT")
    if report:
        Path(report).write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
