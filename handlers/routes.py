"""Routes declared at import, Routers built per dispatcher.

aiogram attaches a Router to one parent for good, and the tests (and a restart
inside one process) build several dispatchers: so modules collect their
handlers on a ``Routes`` with aiogram's decorator style, and ``build()`` makes
a fresh ``Router`` each time (STYLE 14: nothing global is wired at import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

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
            router.observers[event].filter(*filters)
        # Decorators run bottom-up on stacked handlers; registration order is kept as written.
        for event, filters, handler in self._handlers:
            router.observers[event].register(handler, *filters)
        return router
