"""Plain records the emulator keeps, so tests can assert on what the bot did
without parsing HTTP traffic: stored files, bot messages (every version, so
edits are visible), callback queries and their answers, and a wake-up signal
that lets waiters sleep on events instead of polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.validation import html_to_plain


@dataclass
class FileRecord:
    """Bytes held by the emulator; uploads from either side land here so the
    bot can `getFile` + download them and tests can read what the bot sent."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str

    @property
    def file_size(self) -> int:
        return len(self.data)

    def as_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc

    def as_photo(self) -> list[dict[str, Any]]:
        # Real Telegram returns several sizes; one is enough for aiogram.
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": 320,
                "height": 320,
                "file_size": self.file_size,
            }
        ]


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the user sees it: name and bytes (plus ids for reuse)."""

    name: str | None
    data: bytes
    mime_type: str | None
    file_id: str


@dataclass(frozen=True)
class BotMessage:
    """One state of a bot message: what the user saw after a send or an edit.

    ``text`` is what the user reads (HTML tags stripped, entities unescaped);
    ``raw_text`` is exactly what the bot sent. Captions count as text."""

    chat_id: int
    message_id: int
    date: int
    raw_text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    document: DocumentInfo | None = None
    photo: DocumentInfo | None = None
    edited: bool = False

    @property
    def text(self) -> str:
        if self.raw_text is None:
            return ""
        if (self.parse_mode or "").lower() == "html":
            return html_to_plain(self.raw_text)
        return self.raw_text

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (text, callback_data); url buttons give None."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    @property
    def keyboard(self) -> list[list[str]]:
        """Reply keyboard rows (texts), empty if this message set none."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [[b if isinstance(b, str) else b.get("text", "") for b in row] for row in rows]

    def __str__(self) -> str:
        extra = f" 📄{self.document.name}" if self.document else (" 🖼" if self.photo else "")
        buttons = f" {self.button_texts}" if self.button_texts else ""
        edited = " (edited)" if self.edited else ""
        return f"#{self.message_id}{edited}: {self.text!r}{extra}{buttons}"


@dataclass
class SentMessage:
    """A bot message over its lifetime; ``versions[-1]`` is what is shown now."""

    chat_id: int
    message_id: int
    versions: list[BotMessage]
    deleted: bool = False

    @property
    def current(self) -> BotMessage:
        return self.versions[-1]


@dataclass
class CallbackRecord:
    """A button press and the bot's answerCallbackQuery (if any)."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    pressed_at: float = field(default_factory=time.monotonic)
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class ChatState:
    """Everything that happened in one chat. ``events`` is the ordered feed of
    sends and edits that ``ChatUser.reply`` walks through."""

    id: int
    type: str
    title: str | None = None
    next_message_id: int = 1
    messages: dict[int, SentMessage] = field(default_factory=dict)
    events: list[BotMessage] = field(default_factory=list)
    send_times: list[float] = field(default_factory=list)
    reply_keyboard: list[list[str]] = field(default_factory=list)

    def as_chat(self, user: dict[str, Any] | None = None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and user:
            chat["first_name"] = user.get("first_name", "")
            if user.get("username"):
                chat["username"] = user["username"]
        else:
            chat["title"] = self.title or "测试群"
        return chat

    def take_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


class Signal:
    """Wakes every waiter whenever something changes (new update, new bot
    message, answered callback). Waiters re-check their own condition, so one
    signal serves them all and nobody sleeps in a polling loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:  # noqa: ASYNC109
        """True once ``predicate()`` holds; False if ``timeout`` passes first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            event = self._event
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109
        """True if anything fired within ``timeout``."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True
