"""The emulated Telegram world: chats, users, files, callback queries and the
update queue. Kept apart from the HTTP layer so the scripted users and the
API methods share one source of truth."""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import time
from typing import TYPE_CHECKING, Any

from emulator.models import (
    BotMessage,
    CallbackRecord,
    ChatState,
    DocumentInfo,
    FileRecord,
    SentMessage,
    Signal,
)
from emulator.validation import ApiError, bad_request

if TYPE_CHECKING:
    from emulator.user import ChatUser

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files
UPLOAD_LIMIT = 50 * 1024 * 1024  # bots may upload at most this much


class EmulatorCore:
    def __init__(self, callback_timeout: float = 15.0) -> None:
        self.signal = Signal()
        # Per chat too: a user waiting for a reply in its own chat is not woken
        # by every other chat's messages (500 waiting users: 500 wake-ups per event).
        self.chat_signals: dict[int, Signal] = {}
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, ChatUser] = {}
        self.files: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.tokens: set[str] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.send_log: list[tuple[float, int]] = []
        self.callback_timeout = callback_timeout
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._token = "123456:TEST"

    # ---- users and chats -------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "测试",
        language_code: str | None = "zh-hans",
        username: str | None = None,
        blocked: bool = False,
    ) -> ChatUser:
        """The scripted user with this id (created once, then reused)."""
        from emulator.user import ChatUser

        if user_id not in self.users:
            self.users[user_id] = ChatUser(
                self, user_id, first_name, language_code, username, blocked=blocked
            )
        return self.users[user_id]

    def chat(self, chat_id: int, type_: str = "private", title: str | None = None) -> ChatState:
        """The chat's state, created on first contact from a user."""
        if chat_id not in self.chats:
            self.chats[chat_id] = ChatState(id=chat_id, type=type_, title=title)
        return self.chats[chat_id]

    def chat_dict(self, chat: ChatState) -> dict[str, Any]:
        user = self.users.get(chat.id)
        return chat.as_chat(user.as_dict() if user else None)

    def bot_user(self, token: str | None = None) -> dict[str, Any]:
        left = (token or self._token).split(":", 1)[0]
        bot_id = int(left) if left.isdigit() else abs(hash(left)) % 10**9
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": "排查",
            "username": "paicha_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def sendable_chat(self, raw: Any) -> ChatState:
        """The chat a bot may write to, or Telegram's refusal."""
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        user = self.users.get(chat_id)
        if chat.type == "private" and user is not None and user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    # ---- updates ---------------------------------------------------------

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self.signal.fire()
        return update_id

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (via getUpdates offset, or a
        webhook's 2xx answer)."""
        return list(self._updates)

    def delivery_hint(self) -> str:
        """What to check when the bot does not take its updates."""
        return "is polling running?"

    def user_message(self, user: ChatUser, chat: ChatState, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": chat.take_id(),
            "from": user.as_dict(),
            "chat": self.chat_dict(chat),
            "date": int(time.time()),
            **content,
        }
        self.push_update("message", message)
        return message

    def press_button(self, user: ChatUser, sent: SentMessage, data: str) -> str:
        callback_id = str(secrets.randbits(63))
        self.callbacks[callback_id] = CallbackRecord(
            id=callback_id,
            user_id=user.user_id,
            chat_id=sent.chat_id,
            message_id=sent.message_id,
            data=data,
        )
        payload = {
            "id": callback_id,
            "from": user.as_dict(),
            "message": self.message_dict(self.chats[sent.chat_id], sent),
            "chat_instance": str(sent.chat_id),
            "data": data,
        }
        self.push_update("callback_query", payload)
        return callback_id

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        """Presses the bot never answered (Telegram shows a spinner for those)."""
        return [cb for cb in self.callbacks.values() if not cb.answered]

    # ---- files -----------------------------------------------------------

    def store_file(
        self, data: bytes, file_name: str | None, mime_type: str | None, kind: str = "documents"
    ) -> FileRecord:
        n = next(self._file_ids)
        suffix = f"_{file_name}" if file_name else (".jpg" if kind == "photos" else "")
        record = FileRecord(
            file_id=f"F{n:06d}{secrets.token_hex(8)}",
            file_unique_id=f"U{n:06d}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{kind}/file_{n}{suffix}",
        )
        self.files[record.file_id] = record
        return record

    def file_by_path(self, path: str) -> FileRecord | None:
        return next((f for f in self.files.values() if f.file_path == path), None)

    # ---- bot messages ----------------------------------------------------

    def record_send(
        self,
        chat: ChatState,
        raw_text: str | None,
        parse_mode: str | None,
        markup: dict[str, Any] | None,
        document: FileRecord | None = None,
        photo: FileRecord | None = None,
    ) -> SentMessage:
        message = BotMessage(
            chat_id=chat.id,
            message_id=chat.take_id(),
            date=int(time.time()),
            raw_text=raw_text,
            parse_mode=parse_mode,
            reply_markup=markup,
            document=_info(document),
            photo=_info(photo),
        )
        sent = SentMessage(chat.id, message.message_id, [message])
        chat.messages[message.message_id] = sent
        chat.events.append(message)
        now = time.monotonic()
        chat.send_times.append(now)
        self.send_log.append((now, chat.id))
        if markup and "keyboard" in markup:
            chat.reply_keyboard = message.keyboard
        elif markup and markup.get("remove_keyboard"):
            chat.reply_keyboard = []
        self._fire(chat.id)
        return sent

    def record_edit(self, chat: ChatState, sent: SentMessage, **changes: Any) -> BotMessage:
        version = dataclasses.replace(sent.current, edited=True, **changes)
        sent.versions.append(version)
        chat.events.append(version)
        self._fire(chat.id)
        return version

    def chat_signal(self, chat_id: int) -> Signal:
        """Fires when the bot sends or edits a message in this chat."""
        return self.chat_signals.setdefault(chat_id, Signal())

    def _fire(self, chat_id: int) -> None:
        self.signal.fire()
        signal = self.chat_signals.get(chat_id)
        if signal is not None:
            signal.fire()

    def message_dict(self, chat: ChatState, sent: SentMessage) -> dict[str, Any]:
        """The Message object Telegram would return for this bot message."""
        current = sent.current
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": self.bot_user(),
            "chat": self.chat_dict(chat),
            "date": current.date,
        }
        media = current.document or current.photo
        if media is not None:
            record = self.files[media.file_id]
            if current.document:
                body["document"] = record.as_document()
            else:
                body["photo"] = record.as_photo()
            if current.raw_text is not None:
                body["caption"] = current.text
        else:
            body["text"] = current.text
        if current.reply_markup and "inline_keyboard" in current.reply_markup:
            body["reply_markup"] = current.reply_markup
        if current.edited:
            body["edit_date"] = int(time.time())
        return body

    def max_rate(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Most messages the bot sent within any ``window`` seconds."""
        stamps = [t for t, c in self.send_log if chat_id is None or c == chat_id]
        best, start = 0, 0
        for end, stamp in enumerate(stamps):
            while stamp - stamps[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


def _info(record: FileRecord | None) -> DocumentInfo | None:
    if record is None:
        return None
    return DocumentInfo(record.file_name, record.data, record.mime_type, record.file_id)
