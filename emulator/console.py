"""Chat with the bot from a terminal, against the emulator, to try flows by
hand in the sandbox without a Telegram account or network access."""

from __future__ import annotations

import asyncio
import mimetypes
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TextIO

from emulator.models import BotMessage
from emulator.server import BotApiEmulator
from emulator.user import ChatUser

InputFunc = Callable[[str], Awaitable[str]]
LocalCommand = Callable[[str], Awaitable[str]]

HELP = (
    "输入文字直接发送；输入数字 N 按下最新一条消息的第 N 个按钮（没有这个按钮时作为文字发送）；"
    "/upload 路径 上传文件；/quit 退出。"
)


async def _stdin_input(prompt: str) -> str:
    # In a thread, so the bot keeps running while we wait for the keyboard.
    return await asyncio.to_thread(input, prompt)


def _read_file(raw: str) -> tuple[str, bytes] | None:
    path = Path(raw).expanduser()
    if not raw or not path.is_file():
        return None
    return path.name, path.read_bytes()


def _unique_path(directory: Path, name: str) -> Path:
    path = directory / name
    n = 1
    while path.exists():
        path = directory / f"{Path(name).stem}_{n}{Path(name).suffix}"
        n += 1
    return path


def format_message(message: BotMessage) -> str:
    """Plain text, then the inline buttons numbered in reading order."""
    head = "🤖 (已编辑) " if message.edited else "🤖 "
    media = " 🖼 [图片]" if message.photo else ""
    if message.document:
        media = f" 📄 [{message.document.name or '文件'}]"
    lines = [head + (message.text or "") + media]
    n = 0
    for row in message.buttons:
        cells = []
        for text, _ in row:
            n += 1
            cells.append(f"[{n}] {text}")
        lines.append("   " + "  ".join(cells))
    if message.keyboard:
        lines.append("   ⌨️ 键盘: " + " | ".join(t for row in message.keyboard for t in row))
    return "\n".join(lines)


class _Console:
    def __init__(
        self, emulator: BotApiEmulator, user: ChatUser, files_dir: Path, output: TextIO
    ) -> None:
        self.emulator, self.user, self.files_dir, self.output = emulator, user, files_dir, output
        self.shown = 0  # events of the private chat already printed
        self.pending_callback: str | None = None

    def say(self, text: str) -> None:
        self.output.write(text + "\n")
        self.output.flush()

    def _events(self) -> list[BotMessage]:
        chat = self.emulator.chats.get(self.user.user_id)
        return chat.events if chat else []

    def show_new(self) -> None:
        events = self._events()
        for message in events[self.shown :]:
            self.say(format_message(message))
            if message.document is not None and not message.edited:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = _unique_path(self.files_dir, message.document.name or "file.bin")
                path.write_bytes(message.document.data)
                self.say(f"📄 已保存: {path}")
        self.shown = len(events)

    async def printer(self) -> None:
        """Print bot messages as they arrive, even while waiting for input."""
        while True:
            await self.emulator.signal.wait_for(lambda: len(self._events()) > self.shown, None)
            self.show_new()

    async def settle(self, quiet: float, limit: float = 10.0) -> None:
        """Let the bot answer before the next prompt, so output reads in order."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            size = len(self._events())
            if not await self.emulator.signal.wait_for(
                lambda size=size: len(self._events()) > size, quiet
            ):
                break
        self.show_new()

    def button_count(self) -> int:
        """Buttons on the latest message in the chat (0 when it has none)."""
        chat = self.emulator.chats.get(self.user.user_id)
        live = [s for s in (chat.messages.values() if chat else []) if not s.deleted]
        if not live:
            return 0
        latest = max(live, key=lambda sent: sent.message_id).current
        return sum(len(row) for row in latest.buttons)

    async def handle(self, line: str) -> None:
        # A number presses a button only when it is one of the latest message's
        # buttons; anything else ("13900001234", an ID number) is typed text.
        if line.isdigit() and 1 <= int(line) <= self.button_count():
            callback_id = await self.user.press(int(line))
            self.pending_callback = callback_id
        elif line.startswith("/upload"):
            raw = line.removeprefix("/upload").strip().strip("'\"")
            found = await asyncio.to_thread(_read_file, raw)
            if found is None:
                self.say(f"⚠️ 文件不存在: {raw or '(未指定)'}")
                return
            name, data = found
            await self.user.upload(name, data, mime_type=mimetypes.guess_type(name)[0])
            self.say(f"📤 已上传: {name}")
        else:
            await self.user.send(line)

    def show_callback_answer(self, callback_id: str) -> None:
        record = self.emulator.callbacks.get(callback_id)
        if record and record.answered and record.text:
            self.say(("⚠️ 弹窗: " if record.show_alert else "💬 提示: ") + record.text)


async def run_console(
    emulator: BotApiEmulator,
    user: ChatUser,
    files_dir: Path,
    input_func: InputFunc | None = None,
    output: TextIO = sys.stdout,
    settle: float = 0.5,
    echo: TextIO | None = None,
    local: Mapping[str, LocalCommand] | None = None,
) -> None:
    """REPL against a running bot; returns on /quit or end of input. ``echo``
    receives each typed line (a transcript beside the terminal); ``local``
    holds the console's own commands (the sandbox's ``/clock``), answered here
    instead of being sent to the bot."""
    read = input_func or _stdin_input
    console = _Console(emulator, user, Path(files_dir), output)
    console.say(f"💬 与机器人对话（用户 {user.first_name}，ID {user.user_id}）。{HELP}")
    console.show_new()
    printer = asyncio.create_task(console.printer())
    try:
        while True:
            try:
                line = (await read("你> ")).strip()
            except EOFError:
                break
            if echo is not None:
                echo.write(f"你> {line}\n")
            if line == "/quit":
                break
            if not line:
                continue
            console.pending_callback = None
            own = (local or {}).get(line.split(maxsplit=1)[0])
            if own is not None:
                console.say(await own(line))
            else:
                await console.handle(line)
            await console.settle(settle)
            if console.pending_callback:
                console.show_callback_answer(console.pending_callback)
    finally:
        printer.cancel()
        try:
            await printer
        except asyncio.CancelledError:
            pass
        console.show_new()
    console.say("👋 再见")
