"""Sending a built file to the user who asked, in this private chat
(R-ACL-PRIVATE, R-CONFIDENTIAL): Telegram's “sending a file…” while it is
built, then the document, its caption repeating the marking (issue 18 §6).
/export and /audit both send through here."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import gettext as _


def uploading(message: Message, bot: Bot) -> ChatActionSender:
    """“Sending a file…” in the user's chat for as long as the block runs: a
    workbook can take seconds, and the chat should not look dead meanwhile."""
    return ChatActionSender.upload_document(bot=bot, chat_id=message.chat.id)


async def send_file(message: Message, content: bytes, filename: str, caption: str) -> None:
    await message.answer_document(BufferedInputFile(content, filename=filename), caption=caption)


async def send_form(message: Message, content: bytes, filename: str, title: str) -> None:
    """One official form (or the audit workbook), named in the caption."""
    caption = _("《{title}》 内部资料 注意保密，请勿转发。").format(title=title)
    await send_file(message, content, filename, caption)
