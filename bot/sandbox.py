"""`paicha sandbox` — the real bot, offline (离线试用).

Starts the project's Bot API emulator on 127.0.0.1, points the bot at it, seeds
a demo committee with two branches and invented members, and opens a chat in
the terminal. A trainer can click through every workflow without Telegram.
The sandbox keeps its own database under the files folder, never the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from bot.demo import seed_demo
from bot.runner import assemble
from bot.settings import Settings
from emulator import BotApiEmulator, run_console

SANDBOX_USER = 10001
SANDBOX_TOKEN = "100000:SANDBOX"


def _script_input(path: str):  # type: ignore[no-untyped-def]
    lines = iter(Path(path).read_text(encoding="utf-8").splitlines())

    async def next_line(prompt: str) -> str:
        try:
            line = next(lines)
        except StopIteration:
            raise EOFError from None
        print(f"{prompt}{line}")
        return line

    return next_line


async def run_sandbox(settings: Settings, *, data_dir: str, script: str | None = None) -> int:
    files = Path(data_dir)  # made by the CLI before the loop starts
    async with BotApiEmulator() as emulator:
        sandbox_settings = settings.model_copy(
            update={
                "bot_token": SANDBOX_TOKEN,
                "bot_api_url": emulator.base_url,
                "database_url": f"sqlite+aiosqlite:///{(files / 'sandbox.sqlite3').resolve()}",
            }
        )
        app = await assemble(sandbox_settings)
        async with app.sessionmaker() as session:
            await seed_demo(session, SANDBOX_USER)
        polling = asyncio.create_task(app.poll())
        user = emulator.user(SANDBOX_USER, first_name="演示书记", language_code="zh-hans")
        print("排查 · 离线试用：您是“示范机关党委”的工作人员兼“第一党支部”书记。")
        print("先发送 /help 看看能做什么。数字=按按钮，/upload 路径=发文件，/quit 退出。")
        try:
            await run_console(
                emulator,
                user,
                files,
                input_func=_script_input(script) if script else None,
                output=sys.stdout,
            )
        finally:
            with contextlib.suppress(RuntimeError):
                await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(polling, 5)
            await app.close()
    return 0
