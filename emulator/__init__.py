"""A local Telegram Bot API emulator for end-to-end tests and a sandbox
console: the real aiogram bot talks HTTP to it instead of api.telegram.org."""

from emulator.console import run_console
from emulator.limits import RateLimits
from emulator.models import BotMessage, CallbackRecord, DocumentInfo
from emulator.server import BotApiEmulator
from emulator.user import ChatUser

__all__ = [
    "BotApiEmulator",
    "BotMessage",
    "CallbackRecord",
    "ChatUser",
    "DocumentInfo",
    "RateLimits",
    "run_console",
]
