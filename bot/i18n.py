"""Chinese first (中文优先): gettext catalogues compiled at start.

Source strings are Chinese, so the zh catalogue is the identity; en holds the
English. The .po files are committed; the .mo files are built here at start so
that an edit to a .po needs no separate build step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SUPPORTED = ("zh", "en")


def compile_catalogues(path: Path = LOCALES_DIR) -> None:
    for po_path in path.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalogue)


def build_i18n(default_locale: str = "zh") -> I18n:
    compile_catalogues()
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def locale_from_telegram(language_code: str | None, default: str = "zh") -> str:
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return default


class LocaleMiddleware(I18nMiddleware):
    """The user's /lang choice, else their Telegram language, else Chinese."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        actor = data.get("actor")
        if actor is not None and actor.locale in SUPPORTED:
            return str(actor.locale)
        user: User | None = data.get("event_from_user")
        return locale_from_telegram(user.language_code if user else None, self.i18n.default_locale)
