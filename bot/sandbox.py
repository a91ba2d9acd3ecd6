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
from typing import TextIO

from bot.demo import seed_demo
from bot.runner import assemble
from bot.settings import Settings
from emulator import BotApiEmulator, run_console

SANDBOX_USER = 10001
SANDBOX_TOKEN = "100000:SANDBOX"


class _Both:
    """The terminal and the transcript kept in the sandbox's folder."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def _script_input(path: str, kept: TextIO):  # type: ignore[no-untyped-def]
    lines = iter(Path(path).read_text(encoding="utf-8").splitlines())

    async def next_line(prompt: str) -> str:
        try:
            line = next(lines)
        except StopIteration:
            raise EOFError from None
        _Both(sys.stdout, kept).write(f"{prompt}{line}\n")
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
            await seed_demo(session, SANDBOX_USER, app.clock.today())
        polling = asyncio.create_task(app.poll())
        user = emulator.user(SANDBOX_USER, first_name="演示书记", language_code="zh-hans")
        transcript = files / "chat.txt"
        again = transcript.exists()
        print("排查 · 离线试用：您是“示范机关党委”的工作人员兼“第一党支部”书记。")
        print("先发送 /help 看看能做什么。数字=按按钮，/upload 路径=发文件，/quit 退出。")
        print(f"数据、对话和日志都保存在 {files}/（删除这个文件夹即可从头开始）。")
        if again:
            print(f"接着上次继续：之前的对话记录在 {transcript}。")
        try:
            with transcript.open("a", encoding="utf-8") as kept:
                await run_console(
                    emulator,
                    user,
                    files,
                    input_func=_script_input(script, kept) if script else None,
                    output=_Both(sys.stdout, kept),
                    echo=None if script else kept,
                )
        finally:
            with contextlib.suppress(RuntimeError):
                await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(polling, 5)
            await app.close()
    return 0
