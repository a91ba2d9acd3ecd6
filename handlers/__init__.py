"""One aiogram Router per workflow, in a fixed order (STYLE 16)."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        attempts,
        audit,
        campaigns,
        categories,
        common,
        deadlines,
        digest,
        dispositions,
        dossier,
        export,
        family,
        form_walk,
        invite,
        meetings,
        member_add,
        members,
        outcomes,
        review,
        revoke,
        roster_import,
        search_log,
        situations,
        summary,
        sweep,
        sweep_stats,
    )

    routes = [
        common.router,  # /cancel, /start, /join first: they work in every state
        invite.router,
        revoke.router,
        roster_import.router,
        member_add.router,
        members.router,
        family.router,
        situations.router,
        search_log.router,
        meetings.router,
        outcomes.router,
        attempts.router,
        form_walk.router,
        dossier.router,
        dispositions.router,
        campaigns.router,
        deadlines.router,
        digest.router,
        categories.router,
        sweep.router,
        sweep_stats.router,  # /sweep for committee staff, after the secretaries' walk
        review.router,
        export.router,
        audit.router,  # /audit, and 🧾 on the card (after members: its own action)
        summary.router,
        common.fallback_router,  # the catch-all last
    ]
    return [r.build() for r in routes]
