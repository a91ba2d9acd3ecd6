"""Router filters run in place (issue 3): aiogram hands a filter that is not a
coroutine function (an FSM state, ``F.text``) to a worker thread, ten times
per /log tap. Every router filter is now awaited in place, and still decides
the same way."""

from __future__ import annotations

from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message

from handlers import get_routers
from handlers.routes import Routes


class Walk(StatesGroup):
    step = State()


def test_no_router_filter_is_handed_to_a_thread():
    thread_run = [
        (router.name, event, str(f.callback))
        for router in get_routers()
        for event, observer in router.observers.items()
        for handler in [observer._handler, *observer.handlers]
        for f in handler.filters or []
        if not f.awaitable
    ]
    assert thread_run == []


async def test_state_and_magic_filters_decide_as_before():
    routes = Routes("probe")
    routes.message(Walk.step, F.text == "好")(lambda message: None)
    router = routes.build()
    state_filter, text_filter = router.message.handlers[0].filters or []
    message = Message.model_validate(
        {"message_id": 1, "date": 0, "chat": Chat(id=1, type="private"), "text": "好"}
    )

    assert await state_filter.call(message, raw_state="Walk:step", event_chat=None)
    assert not await state_filter.call(message, raw_state="Walk:other")
    assert await text_filter.call(message)
    assert not await text_filter.call(message.model_copy(update={"text": "不"}))
