"""Telegram's refusals, reproduced so the bot's mistakes fail in tests the way
they would fail in production: too-long texts, broken HTML, oversized
callback_data, malformed commands."""

from __future__ import annotations

import html
import re
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

# Tags Telegram's HTML parse mode accepts; aliases map to the same entity.
_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
    "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class ApiError(Exception):
    """An error reply: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> str:
    """Check tag balance like Telegram and return the visible text.

    Raises the same "can't parse entities" errors Telegram gives for unknown
    tags, stray ``<`` and unbalanced or crossed tags."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    while True:
        lt = text.find("<", pos)
        if lt < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:lt])
        match = _TAG_RE.match(text, lt)
        if match is None:
            raise bad_request(
                f"can't parse entities: Unclosed start tag at byte offset {_offset(text, lt)}"
            )
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _TAGS:
            kind = "end" if closing else "start"
            raise bad_request(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" '
                f"at byte offset {_offset(text, lt)}"
            )
        if not closing:
            stack.append((name, lt))
        elif not stack:
            raise bad_request(
                f"can't parse entities: Unexpected end tag at byte offset {_offset(text, lt)}"
            )
        elif stack[-1][0] != name:
            raise bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {_offset(text, lt)}, "
                f'expected "</{stack[-1][0]}>", found "</{name}>"'
            )
        else:
            stack.pop()
        pos = match.end()
    if stack:
        raise bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    return html.unescape("".join(out))


def html_to_plain(text: str) -> str:
    """Visible text of an HTML message; lenient (for display of stored text)."""
    try:
        return parse_html(text)
    except ApiError:
        return html.unescape(_TAG_RE.sub("", text))


def visible_text(text: str | None, parse_mode: str | None) -> str:
    """What the user would read, after entity parsing and trimming."""
    if text is None:
        return ""
    if (parse_mode or "").lower() == "html":
        text = parse_html(text)
    return text.strip()


def check_text(text: str | None, parse_mode: str | None) -> None:
    visible = visible_text(text, parse_mode)
    if not visible:
        raise bad_request("message text is empty")
    if len(visible) > TEXT_LIMIT:
        raise bad_request("message is too long")


def check_caption(caption: str | None, parse_mode: str | None) -> None:
    if caption is None:
        return
    if len(visible_text(caption, parse_mode)) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")


def check_markup(markup: dict[str, Any] | None) -> None:
    """Inline buttons need exactly sane callback_data (1–64 UTF-8 bytes) or a url."""
    if not markup:
        return
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                size = len(str(button["callback_data"]).encode("utf-8"))
                if not 1 <= size <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not re.match(r"^(https?|tg)://", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
    for row in markup.get("keyboard") or []:
        for button in row:
            text = button if isinstance(button, str) else button.get("text")
            if not text:
                raise bad_request("keyboard button text is empty")


def check_commands(commands: list[dict[str, Any]]) -> None:
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not _COMMAND_RE.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
