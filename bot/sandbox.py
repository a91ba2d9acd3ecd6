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
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.demo import seed_demo
from bot.runner import Paicha, assemble
from bot.settings import Settings
from domain.clock import ShiftedClock
from emulator import BotApiEmulator, run_console
from emulator.console import LocalCommand

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


CLOCK_HELP = (
    "用法：/clock +7d（前进7天）、/clock +3h、/clock -1d、/clock 09:00（今天的几点）、"
    "/clock +7d 09:00、/clock reset（回到真实时间）；/clock 显示演示时间。"
)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def move_clock(clock: ShiftedClock, words: list[str]) -> None:
    """Apply ``+7d`` / ``-3h`` / ``09:00`` / ``reset`` to the sandbox's clock;
    ValueError names the word it could not read."""
    for word in words:
        if word == "reset":
            clock.shift(-clock.offset)
        elif word[:1] in "+-" and word[-1:] in _UNITS and word[1:-1].isdigit():
            amount = int(word[1:-1]) * (-1 if word[0] == "-" else 1)
            clock.shift(timedelta(**{_UNITS[word[-1]]: amount}))
        elif ":" in word:
            hour, _colon, minute = word.partition(":")
            if not (hour.isdigit() and minute.isdigit()):
                raise ValueError(word)
            clock.set(datetime.combine(clock.today(), time(int(hour), int(minute))))
        else:
            raise ValueError(word)


def _clock_command(app: Paicha, clock: ShiftedClock) -> LocalCommand:
    """The sandbox's ``/clock``: move the demo time, then run the scheduler's
    tick at once, so a digest or a reminder arrives without waiting a minute."""

    async def run(line: str) -> str:
        try:
            move_clock(clock, line.split()[1:])
        except ValueError as bad:
            return f"⚠️ 看不懂“{bad}”。{CLOCK_HELP}"
        shown = f"🕒 演示时间：{clock.now():%Y-%m-%d %H:%M}"
        if app.scheduler is None:
            return shown
        report = await app.scheduler.tick()
        return f"{shown}（定时任务已运行，发出{report.sent}条提醒）"

    return run


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
        clock = ShiftedClock(ZoneInfo(sandbox_settings.timezone))
        app = await assemble(sandbox_settings, clock, scheduler=True)
        async with app.sessionmaker() as session:
            await seed_demo(session, SANDBOX_USER, app.clock.today())
        polling = asyncio.create_task(app.poll())
        user = emulator.user(SANDBOX_USER, first_name="演示书记", language_code="zh-hans")
        transcript = files / "chat.txt"
        again = transcript.exists()
        print("排查 · 离线试用：您是“示范机关党委”的工作人员兼“第一党支部”书记。")
        print("先发送 /help 看看能做什么。数字=按按钮，/upload 路径=发文件，/quit 退出。")
        print("/clock +1d 09:00 把演示时间拨到明天9点，看每日提醒和截止提醒。")
        print(f"数据、对话和日志都保存在 {files}/（删除这个文件夹即可从头开始）。")
        if again:
            print(f"接着上次继续：之前的对话记录在 {transcript}。")
        if not again:
            # As a new Telegram user presses START: the chat exists from now on,
            # so the scheduler's digest and reminders can reach it.
            await user.send("/start")
            with contextlib.suppress(AssertionError):
                await user.reply()  # the greeting, before the console's first line
        try:
            with transcript.open("a", encoding="utf-8") as kept:
                await run_console(
                    emulator,
                    user,
                    files,
                    input_func=_script_input(script, kept) if script else None,
                    output=_Both(sys.stdout, kept),
                    echo=None if script else kept,
                    local={"/clock": _clock_command(app, clock)},
                )
        finally:
            with contextlib.suppress(RuntimeError):
                await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(polling, 5)
            await app.close()
    return 0
