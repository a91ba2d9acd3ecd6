"""The Bot API methods the emulator answers. Each ``api_<lowercase name>``
takes the request's parameters and returns the ``result`` or raises
``ApiError`` with Telegram's own wording, so aiogram raises the same
exception classes it would in production."""

from __future__ import annotations

import json
import mimetypes
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader

from emulator.core import DOWNLOAD_LIMIT, UPLOAD_LIMIT, EmulatorCore
from emulator.models import ChatState, FileRecord, SentMessage
from emulator.validation import (
    ApiError,
    bad_request,
    check_caption,
    check_commands,
    check_markup,
    check_text,
)

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None


async def read_multipart(reader: MultipartReader) -> dict[str, Any]:
    """Fields and uploads of a multipart body (a request, or a webhook's
    answer); an upload over 50 MB is read to the end (so the client sees the
    answer, not a broken pipe) then refused."""
    raw: dict[str, Any] = {}
    too_big = False
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            raw[part.name] = await part.text()
            continue
        data = bytearray()
        while chunk := await part.read_chunk():
            if not too_big:
                data += chunk
                too_big = len(data) > UPLOAD_LIMIT
        content_type = part.headers.get("Content-Type")
        raw[part.name] = Upload(part.filename, bytes(data), content_type)
    if too_big:
        raise ApiError(413, "Request Entity Too Large")
    return raw


class Params:
    """Request parameters: form fields arrive as strings (nested objects as
    JSON text), JSON bodies arrive typed; both read the same way here."""

    def __init__(self, raw: dict[str, Any], token: str) -> None:
        self.raw = raw
        self.token = token

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None or isinstance(value, Upload) else str(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return self.raw.get(name) in (True, "true", "True", "1", 1)

    def obj(self, name: str) -> Any:
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None


class BotMethods(EmulatorCore):
    # ---- plumbing --------------------------------------------------------

    def api_getme(self, p: Params) -> dict[str, Any]:
        return self.bot_user(p.token)

    def api_close(self, p: Params) -> bool:
        return True

    def api_logout(self, p: Params) -> bool:
        return True

    def api_setchatmenubutton(self, p: Params) -> bool:
        return True

    def api_setmydescription(self, p: Params) -> bool:
        return True

    def api_setmyshortdescription(self, p: Params) -> bool:
        return True

    def api_sendchataction(self, p: Params) -> bool:
        self.sendable_chat(p.text("chat_id"))
        return True

    def api_getchat(self, p: Params) -> dict[str, Any]:
        return self.chat_dict(self.sendable_chat(p.text("chat_id")))

    # ---- commands --------------------------------------------------------

    def _commands_key(self, p: Params) -> tuple[str, str]:
        scope = p.obj("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.text("language_code") or ""

    def api_setmycommands(self, p: Params) -> bool:
        commands = p.obj("commands") or []
        check_commands(commands)
        self.commands[self._commands_key(p)] = commands
        return True

    def api_getmycommands(self, p: Params) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(p), [])

    def api_deletemycommands(self, p: Params) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    # ---- sending ---------------------------------------------------------

    def _markup(self, p: Params) -> dict[str, Any] | None:
        markup = p.obj("reply_markup")
        check_markup(markup)
        return markup

    def api_sendmessage(self, p: Params) -> dict[str, Any]:
        chat = self.sendable_chat(p.text("chat_id"))
        text, parse_mode = p.text("text"), p.text("parse_mode")
        check_text(text, parse_mode)
        sent = self.record_send(chat, text, parse_mode, self._markup(p))
        return self.message_dict(chat, sent)

    def _input_file(self, p: Params, field: str, kind: str) -> FileRecord:
        value = p.raw.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.raw.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            if len(value.data) > UPLOAD_LIMIT:
                raise ApiError(413, "Request Entity Too Large")
            if not value.data:
                raise bad_request("file must be non-empty")
            mime = mimetypes.guess_type(value.filename or "")[0]
            if mime is None and value.content_type != "application/octet-stream":
                mime = value.content_type
            return self.store_file(value.data, value.filename, mime, kind)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {field} in the request")

    def _send_media(self, p: Params, field: str) -> dict[str, Any]:
        chat = self.sendable_chat(p.text("chat_id"))
        caption, parse_mode = p.text("caption"), p.text("parse_mode")
        check_caption(caption, parse_mode)
        markup = self._markup(p)
        kind = "documents" if field == "document" else "photos"
        record = self._input_file(p, field, kind)
        media = {field: record}
        sent = self.record_send(chat, caption, parse_mode, markup, **media)
        return self.message_dict(chat, sent)

    def api_senddocument(self, p: Params) -> dict[str, Any]:
        return self._send_media(p, "document")

    def api_sendphoto(self, p: Params) -> dict[str, Any]:
        return self._send_media(p, "photo")

    def api_getfile(self, p: Params) -> dict[str, Any]:
        record = self.files.get(p.text("file_id") or "")
        if record is None:
            raise bad_request("invalid file_id")
        if record.file_size > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
            "file_path": record.file_path,
        }

    # ---- editing ---------------------------------------------------------

    def _target(self, p: Params, missing: str) -> tuple[ChatState, SentMessage]:
        if p.text("inline_message_id"):
            raise bad_request(missing)
        chat = self.sendable_chat(p.text("chat_id"))
        sent = chat.messages.get(p.integer("message_id") or 0)
        if sent is None or sent.deleted:
            raise bad_request(missing)
        return chat, sent

    def api_editmessagetext(self, p: Params) -> dict[str, Any]:
        chat, sent = self._target(p, "message to edit not found")
        current = sent.current
        if current.document or current.photo:
            raise bad_request("there is no text in the message to edit")
        text, parse_mode = p.text("text"), p.text("parse_mode")
        check_text(text, parse_mode)
        # Like Telegram: an edit without reply_markup drops the inline keyboard.
        markup = self._markup(p)
        if text == current.raw_text and markup == current.reply_markup:
            raise bad_request(_NOT_MODIFIED)
        self.record_edit(chat, sent, raw_text=text, parse_mode=parse_mode, reply_markup=markup)
        return self.message_dict(chat, sent)

    def api_editmessagecaption(self, p: Params) -> dict[str, Any]:
        chat, sent = self._target(p, "message to edit not found")
        current = sent.current
        if not (current.document or current.photo):
            raise bad_request("there is no caption in the message to edit")
        caption, parse_mode = p.text("caption"), p.text("parse_mode")
        check_caption(caption, parse_mode)
        markup = self._markup(p)
        if caption == current.raw_text and markup == current.reply_markup:
            raise bad_request(_NOT_MODIFIED)
        self.record_edit(chat, sent, raw_text=caption, parse_mode=parse_mode, reply_markup=markup)
        return self.message_dict(chat, sent)

    def api_editmessagereplymarkup(self, p: Params) -> dict[str, Any]:
        chat, sent = self._target(p, "message to edit not found")
        markup = self._markup(p)
        if markup == sent.current.reply_markup:
            raise bad_request(_NOT_MODIFIED)
        self.record_edit(chat, sent, reply_markup=markup)
        return self.message_dict(chat, sent)

    def api_deletemessage(self, p: Params) -> bool:
        _, sent = self._target(p, "message to delete not found")
        sent.deleted = True
        self.signal.fire()
        return True

    # ---- callback queries ------------------------------------------------

    def api_answercallbackquery(self, p: Params) -> bool:
        record = self.callbacks.get(p.text("callback_query_id") or "")
        too_old = record is not None and (
            time.monotonic() - record.pressed_at > self.callback_timeout
        )
        if record is None or record.answered or too_old:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.text("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.text = text
        record.show_alert = p.flag("show_alert")
        record.url = p.text("url")
        self.signal.fire()
        return True
