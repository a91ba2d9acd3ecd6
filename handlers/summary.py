"""/summary (see issue 15)."""

from __future__ import annotations

from handlers.routes import Routes

router = Routes("summary")
