"""/template and roster upload (党员名册导入) — filled in when the importer lands."""

from __future__ import annotations

from aiogram import Router

router = Router(name="roster_import")
