"""Where workbooks are built (生成报表的进程): a small process pool, so a
100,000-row register is CPU work on another core, not on the event loop that
answers everyone's /log (issue 15, “known traps”).

Spawned, not forked: the bot's process holds database threads and an event
loop, which a forked child would copy half-way. The pool starts on the first
export and is shut down with the bot.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol


class Job(Protocol):
    @property
    def render(self) -> Any: ...

    @property
    def args(self) -> tuple[Any, ...]: ...


_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()
WORKERS = 1  # two cores: one for the loop, one for workbooks
# A workbook can wait a second; a person's reply cannot. The worker runs at a
# lower CPU priority, so on a busy machine the scheduler gives the bot's
# process (and the database) the core first.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # not on this platform, or not allowed: build anyway
        pass


def _init_worker(keyring: Any, key_file: Any) -> None:
    """In each worker: the lower priority, and the parent's data keyring, so
    the worker reads the encrypted personal data (storage/crypto.py)."""
    from storage import crypto

    _lower_priority()
    crypto.install(keyring, key_file)


def _executor() -> ProcessPoolExecutor:
    global _pool
    from storage import crypto

    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(crypto.installed(), crypto.key_file()),
            )
        return _pool


async def render(job: Job) -> bytes:
    """``job.render(*job.args)`` in the worker process."""
    loop = asyncio.get_running_loop()
    data: bytes = await loop.run_in_executor(_executor(), job.render, *job.args)
    return data


def shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
