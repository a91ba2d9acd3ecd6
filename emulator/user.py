"""A scripted Telegram user: sends texts, presses buttons, uploads files and
waits for the bot's answers, so end-to-end tests read like a conversation.

Replies are read from the chat's feed of sends *and* edits. Each action
(``send``, ``press``, ``upload``…) moves the user's cursor to the end of the
feed, so ``reply()`` returns what the bot did in response to that action."""

from __future__ import annotations

import asyncio
import mimetypes
from typing import TYPE_CHECKING, Any

from emulator.models import BotMessage, CallbackRecord, ChatState, SentMessage

if TYPE_CHECKING:
    from emulator.core import EmulatorCore


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class ChatUser:
    def __init__(
        self,
        emulator: EmulatorCore,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        blocked: bool = False,
    ) -> None:
        self.emulator = emulator
        self.user_id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username
        self.blocked = blocked  # the bot gets 403 when writing to a blocked user
        self._cursors: dict[int, int] = {}
        self._active_chat = user_id

    def as_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    # ---- acting ----------------------------------------------------------

    def _act_in(self, chat: ChatState) -> ChatState:
        """Later replies are counted from here on, in this chat."""
        self._active_chat = chat.id
        self._cursors[chat.id] = len(chat.events)
        return chat

    def _private(self) -> ChatState:
        return self._act_in(self.emulator.chat(self.user_id, "private"))

    async def _text(self, chat: ChatState, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self.emulator.user_message(self, self._act_in(chat), **content)

    async def send(self, text: str) -> dict[str, Any]:
        """A private message; '/…' texts carry a bot_command entity."""
        return await self._text(self.emulator.chat(self.user_id, "private"), text)

    async def send_in_group(
        self, text: str, chat_id: int = -100123, title: str = "测试群"
    ) -> dict[str, Any]:
        return await self._text(self.emulator.chat(chat_id, "supergroup", title), text)

    async def press_reply_button(self, text: str) -> dict[str, Any]:
        """Tap a reply-keyboard button (it just sends its text)."""
        chat = self.emulator.chats.get(self._active_chat)
        shown = [t for row in (chat.reply_keyboard if chat else []) for t in row]
        if text not in shown:
            raise AssertionError(f"no reply-keyboard button {text!r}; shown: {shown}")
        assert chat is not None
        return await self._text(chat, text)

    async def press(
        self, label_or_index: int | str, message: BotMessage | int | None = None
    ) -> str:
        """Press an inline button; returns the callback query id.

        ``label_or_index``: 1-based index in reading order, the exact button
        text, or a unique substring of it. ``message`` defaults to the latest
        bot message with an inline keyboard in the current chat."""
        sent = self._pressable(message)
        buttons = [b for row in sent.current.buttons for b in row]
        listing = ", ".join(f"[{i}] {t!r}" for i, (t, _) in enumerate(buttons, 1))
        chosen: list[tuple[str, str | None]]
        if isinstance(label_or_index, int):
            ok = 1 <= label_or_index <= len(buttons)
            chosen = [buttons[label_or_index - 1]] if ok else []
        else:
            chosen = [b for b in buttons if b[0] == label_or_index] or [
                b for b in buttons if label_or_index in b[0]
            ]
        if len(chosen) != 1:
            why = "ambiguous" if chosen else "not found"
            raise AssertionError(f"button {label_or_index!r} {why}; buttons: {listing}")
        text, data = chosen[0]
        if data is None:
            raise AssertionError(f"button {text!r} has no callback_data (URL button?)")
        self._act_in(self.emulator.chats[sent.chat_id])
        return self.emulator.press_button(self, sent, data)

    async def press_data(self, data: str, message: BotMessage | int | None = None) -> str:
        """Send a callback query with arbitrary (e.g. forged) callback_data, as a
        modified client could; returns the callback query id."""
        sent = self._pressable(message)
        self._act_in(self.emulator.chats[sent.chat_id])
        return self.emulator.press_button(self, sent, data)

    def _pressable(self, message: BotMessage | int | None) -> SentMessage:
        chat_id = message.chat_id if isinstance(message, BotMessage) else self._active_chat
        chat = self.emulator.chats.get(chat_id)
        live = [s for s in (chat.messages.values() if chat else []) if not s.deleted]
        if message is None:
            with_buttons = [s for s in live if s.current.buttons]
            if not with_buttons:
                raise AssertionError(
                    f"no bot message with inline buttons in chat {chat_id}; "
                    f"messages: {[str(s.current) for s in live[-5:]]}"
                )
            return with_buttons[-1]
        message_id = message.message_id if isinstance(message, BotMessage) else message
        found = [s for s in live if s.message_id == message_id]
        if not found:
            raise AssertionError(f"message {message_id} not in chat {chat_id} (deleted?)")
        return found[0]

    async def upload(
        self,
        file_name: str,
        data: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Send a document; its bytes stay downloadable via getFile."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        record = self.emulator.store_file(data, file_name, mime)
        content: dict[str, Any] = {"document": record.as_document()}
        if caption is not None:
            content["caption"] = caption
        return self.emulator.user_message(self, self._private(), **content)

    async def send_photo(self, data: bytes, caption: str | None = None) -> dict[str, Any]:
        record = self.emulator.store_file(data, None, "image/jpeg", "photos")
        content: dict[str, Any] = {"photo": record.as_photo()}
        if caption is not None:
            content["caption"] = caption
        return self.emulator.user_message(self, self._private(), **content)

    # ---- waiting ---------------------------------------------------------

    def _events(self, chat_id: int) -> list[BotMessage]:
        chat = self.emulator.chats.get(chat_id)
        return chat.events if chat else []

    def _pending(self, chat_id: int) -> int:
        """Updates from this chat the bot has not fetched and confirmed yet."""
        count = 0
        for update in self.emulator.pending_updates():
            body = update.get("message") or update.get("callback_query", {}).get("message", {})
            count += body.get("chat", {}).get("id") == chat_id
        return count

    def _failure(self, what: str, chat_id: int) -> AssertionError:
        recent = "\n  ".join(str(m) for m in self._events(chat_id)[-5:]) or "(none)"
        pending = self._pending(chat_id)
        hint = f"\n{pending} update(s) never fetched by the bot: {self.emulator.delivery_hint()}"
        return AssertionError(
            f"{what} in chat {chat_id}; last bot messages:\n  {recent}" + (hint if pending else "")
        )

    async def reply(self, timeout: float = 5.0, chat_id: int | None = None) -> BotMessage:  # noqa: ASYNC109
        """The next message or edit by the bot after the last action."""
        chat_id = self._active_chat if chat_id is None else chat_id
        cursor = self._cursors.get(chat_id, 0)
        arrived = await self.emulator.chat_signal(chat_id).wait_for(
            lambda: len(self._events(chat_id)) > cursor, timeout
        )
        if not arrived:
            raise self._failure(f"no reply within {timeout}s", chat_id)
        self._cursors[chat_id] = cursor + 1
        return self._events(chat_id)[cursor]

    async def replies(self, n: int, timeout: float = 5.0) -> list[BotMessage]:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        return [await self.reply(max(0.0, deadline - loop.time())) for _ in range(n)]

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> list[BotMessage]:  # noqa: ASYNC109
        """Everything the bot sends or edits until it has been quiet for
        ``quiet`` seconds (and has fetched all of this chat's updates)."""
        chat_id = self._active_chat
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        collected: list[BotMessage] = []
        while True:
            events = self._events(chat_id)
            cursor = self._cursors.get(chat_id, 0)
            collected.extend(events[cursor:])
            self._cursors[chat_id] = len(events)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._failure(f"bot still busy after {timeout}s", chat_id)
            window = min(quiet, remaining)
            size = len(events)
            more = await self.emulator.signal.wait_for(
                lambda size=size: len(self._events(chat_id)) > size, window
            )
            if not more and window >= quiet and not self._pending(chat_id):
                return collected

    async def callback_answer(self, callback_id: str, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109
        """The bot's answerCallbackQuery for a press (text, show_alert)."""
        record = self.emulator.callbacks[callback_id]
        if not await self.emulator.signal.wait_for(lambda: record.answered, timeout):
            raise self._failure(
                f"callback {record.data!r} not answered within {timeout}s", record.chat_id
            )
        return record

    # ---- state -----------------------------------------------------------

    @property
    def messages(self) -> list[BotMessage]:
        """Bot messages in the current chat as shown now (deleted ones left out)."""
        chat = self.emulator.chats.get(self._active_chat)
        sent = chat.messages.values() if chat else []
        return [s.current for s in sent if not s.deleted]

    @property
    def last(self) -> BotMessage | None:
        messages = self.messages
        return messages[-1] if messages else None
