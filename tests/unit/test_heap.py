"""The start-up heap is left out of the collector's full passes (issue 17
point 5: the event loop never late by more than 100 ms, also during a
100,000-row import; bench/log_attempts.py --import-lag measures it)."""

from __future__ import annotations

import gc
import weakref

from bot.runner import freeze_startup_heap


class _Node:
    me: _Node


def test_objects_alive_at_start_are_frozen_and_garbage_is_not():
    built_at_start = [[index] for index in range(1000)]
    cycle = _Node()
    cycle.me = cycle
    gone = weakref.ref(cycle)
    del cycle  # garbage before the freeze: collected, never frozen
    try:
        freeze_startup_heap()
        assert gone() is None
        assert gc.get_freeze_count() >= len(built_at_start)
        full_pass = {id(o) for o in gc.get_objects(generation=2)}
        assert not any(id(row) in full_pass for row in built_at_start)
    finally:
        gc.unfreeze()
