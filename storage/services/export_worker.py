"""Collect and build one export inside the worker process (导出工作进程).

Reading 100,000 rows and turning them into cells is work for the event loop's
thread if it runs in the bot: measured, a 100,000-member register held the
loop for over a second. So the bot sends the worker only what was asked (the
form's key and the checked ``ExportContext``); the worker opens its own
connection to the same database, runs the same collector and renderer, and
returns the file's bytes. Access was checked in the bot before the job left.
"""

from __future__ import annotations

import asyncio

from storage.db import create_engine, make_sessionmaker
from storage.services.form_data import ExportContext


def collect_and_render(database_url: str, key: str, ctx: ExportContext) -> bytes:
    return asyncio.run(_collect_and_render(database_url, key, ctx))


async def _collect_and_render(database_url: str, key: str, ctx: ExportContext) -> bytes:
    from storage.services.exports import COLLECTORS

    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            job = await COLLECTORS[key](session, ctx)
    finally:
        await engine.dispose()
    return job.render(*job.args)
