"""Router-level access filters (STYLE 16). The service checks every id again."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from storage.services.access import Actor, Role


class Known(Filter):
    """The user holds at least one role: strangers only redeem invitations."""

    async def __call__(self, event: TelegramObject, actor: Actor | None = None) -> bool:
        return actor is not None and actor.is_known


class HasRole(Filter):
    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    async def __call__(self, event: TelegramObject, actor: Actor | None = None) -> bool:
        return actor is not None and any(actor.has_role(r) for r in self.roles)
