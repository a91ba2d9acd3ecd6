"""The last answer (兜底): an error that escaped every middleware of ours.

aiogram's own outer middlewares run before ours; the conversation state is
read there (``FSMContextMiddleware``), so when the database is down the error
is raised before DatabaseMiddleware can apologise, and aiogram would only log
it — the user would see silence. The dispatcher's error observer (documented:
``dp.errors``) catches what is left: the user gets a plain apology in both
languages (no locale is known this early) and the log gets the type only,
because a database error's message can carry a row's values (R-CONFIDENTIAL).
"""

from __future__ import annotations

import logging

from aiogram.types import ErrorEvent, Update

log = logging.getLogger(__name__)

UNAVAILABLE = "系统暂时无法使用，请稍后再试。/ Temporarily unavailable, please try again later."


async def on_unhandled_error(event: ErrorEvent) -> bool:
    log.error(
        "update %s failed outside the handlers: %s",
        event.update.update_id,
        type(event.exception).__name__,
    )
    await apologise(event.update)
    return True


async def apologise(update: Update, text: str = UNAVAILABLE) -> None:
    try:
        if update.callback_query:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message and update.message.chat.type == "private":
            await update.message.answer(text)
    except Exception:  # Telegram itself may be the problem; nothing more to do
        log.error("could not send the apology either")
