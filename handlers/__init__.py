"""One aiogram Router per workflow, in a fixed order (STYLE 16)."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import common, invite, member_add, members, roster_import

    routes = [
        common.router,  # /cancel, /start, /join first: they work in every state
        invite.router,
        roster_import.router,
        member_add.router,
        members.router,
        common.fallback_router,  # the catch-all last
    ]
    return [r.build() for r in routes]
