"""Routes declared at import, Routers built per dispatcher.

aiogram attaches a Router to one parent for good, and the tests (and a restart
inside one process) build several dispatchers: so modules collect their
handlers on a ``Routes`` with aiogram's decorator style, and ``build()`` makes
a fresh ``Router`` each time (STYLE 14: nothing global is wired at import).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from magic_filter import MagicFilter

Handler = Callable[..., Any]


class Routes:
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[tuple[str, tuple[Any, ...], Handler]] = []
        self._filters: list[tuple[str, tuple[Any, ...]]] = []

    def filter(
        self, *filters: Any, events: tuple[str, ...] = ("message", "callback_query")
    ) -> None:
        """Router-level filters (access rules), applied to the given events."""
        for event in events:
            self._filters.append((event, filters))

    def _on(self, event: str, *filters: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers.append((event, filters, handler))
            return handler

        return register

    def message(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("message", *filters)

    def callback_query(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("callback_query", *filters)

    def build(self) -> Router:
        router = Router(name=self.name)
        for event, filters in self._filters:
            router.observers[event].filter(*map(_inline, filters))
        # Decorators run bottom-up on stacked handlers; registration order is kept as written.
        for event, filters, handler in self._handlers:
            router.observers[event].register(handler, *map(_inline, filters))
        return router


def _inline(check: Any) -> Any:
    """A plain callable filter (a ``State``, ``F.text``…) as an async ``Filter``.

    aiogram runs a filter that is not a coroutine function through
    ``asyncio.to_thread``: a hop to a worker thread and back for a comparison
    of two strings. Every update meets dozens of them on its way through the
    routers (issue 3: ~10 hops per /log tap, with the GIL to fight over), so
    they are called in place instead; the result is the same.
    """
    if isinstance(check, Filter) or inspect.iscoroutinefunction(check):
        return check
    if isinstance(check, MagicFilter):
        return _InlineMagic(check)
    if callable(check):
        return _InlineCall(check)
    return check


class _InlineMagic(Filter):
    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: Any) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return str(self.magic)


class _InlineCall(Filter):
    """Passes on the keyword arguments the callable names, as aiogram would."""

    def __init__(self, check: Callable[..., Any]) -> None:
        self.check = check
        _event, *rest = inspect.signature(check).parameters.values()
        self.takes_any = any(p.kind is p.VAR_KEYWORD for p in rest)
        self.names = {p.name for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    async def __call__(self, event: Any, **data: Any) -> Any:
        if not self.takes_any:
            data = {k: v for k, v in data.items() if k in self.names}
        return self.check(event, **data)

    def __str__(self) -> str:
        return str(self.check)
