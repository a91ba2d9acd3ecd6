"""The daily digest (每日提醒) and /notify (issue 14): members who newly crossed a
threshold of SPEC §3, one message a day per secretary, counts per branch for
committee staff."""

from __future__ import annotations

from handlers.routes import Routes

router = Routes("digest")
