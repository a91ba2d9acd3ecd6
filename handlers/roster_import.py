"""/template and roster upload (党员名册导入) — filled in when the importer lands."""

from __future__ import annotations

from handlers.routes import Routes

router = Routes("roster_import")
