"""Webhook mode (`paicha run --webhook`, issue 17): Telegram POSTs each update
to WEBHOOK_URL + WEBHOOK_PATH; aiogram's aiohttp handler
(``SimpleRequestHandler``) feeds it to the dispatcher. The pieces
``Paicha.serve_webhook()`` (bot/runner.py) puts together live here.

- Every request must carry the header ``X-Telegram-Bot-Api-Secret-Token`` with
  WEBHOOK_SECRET; without it, or with another, the answer is 401 and nothing
  is handled.
- Telegram's answer waits until the update is handled
  (``handle_in_background=False``): a worker that dies while handling an
  update, or does not answer in time, gets no 2xx in, so Telegram sends the
  update again (to this worker once restarted, or to another behind the same
  address). An error in a handler is logged and answered 200, as polling
  confirms such an update: sent again it would repeat what the handler did
  before failing (a reply to a user who blocked the bot would fail forever).
- At most MAX_CONCURRENT_UPDATES updates are handled at once per process,
  as in polling (the database pools are sized from it); more wait.
- ``GET /healthz`` answers 200 for load balancers.

Several workers behind one address share the webhook: each registers the same
URL and secret at start (the same again changes nothing at Telegram), so they
must all have the same WEBHOOK_SECRET; a generated one suits one worker only.
A worker that stops does **not** delete the webhook: the others may still be
serving it, and updates sent while no one answers wait at Telegram and are
retried. `paicha run` (polling) deletes the webhook when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import TYPE_CHECKING

from aiogram.types import ErrorEvent
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.runner import Paicha

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
# On shutdown, updates being handled get this long to finish before the bot's
# session closes (Telegram waits about 60 s for an answer).
DRAIN_SECONDS = 55.0
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

NO_WEBHOOK_URL = """webhook 模式需要 WEBHOOK_URL：Telegram 访问本机器人的公网 HTTPS 地址，
例如 WEBHOOK_URL=https://bot.example.org（参见 .env.example）。
(Webhook mode needs WEBHOOK_URL, the public HTTPS base address; see .env.example.)"""
BAD_WEBHOOK_URL = """WEBHOOK_URL 应以 https:// 开头（参见 .env.example）。
(WEBHOOK_URL must start with https://.)"""
BAD_SECRET = """WEBHOOK_SECRET 只能包含 A-Z a-z 0-9 _ -，长度 1–256（参见 .env.example）。
(WEBHOOK_SECRET: 1-256 characters of A-Z a-z 0-9 _ - only.)"""


class WebhookConfigError(ValueError):
    """The settings do not allow webhook mode (the message says why)."""


def webhook_problem(settings: Settings) -> str | None:
    """Why webhook mode cannot start with these settings, or None."""
    url = settings.webhook_url
    if not url:
        return NO_WEBHOOK_URL
    if not url.startswith(("https://", "http://")):
        return BAD_WEBHOOK_URL
    secret = settings.webhook_secret
    if secret is not None and not _SECRET_RE.fullmatch(secret.get_secret_value()):
        return BAD_SECRET  # never the value itself
    return None


def webhook_endpoint(settings: Settings) -> str:
    """The URL registered with Telegram: the public base and the path."""
    assert settings.webhook_url
    return settings.webhook_url.rstrip("/") + settings.webhook_path


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or one generated for this start (logged as generated,
    never its value)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    log.warning(
        "WEBHOOK_SECRET is not set: generated a random webhook secret for this start. "
        "Several workers behind one address need the same WEBHOOK_SECRET."
    )
    return secrets.token_urlsafe(32)  # A-Z a-z 0-9 _ -, 43 characters


class InFlight:
    """The webhook requests being handled: at most ``limit`` at once, and a way
    to wait on shutdown until they are done. A request without the right
    secret takes no turn (aiogram answers it 401 at once)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._turns = asyncio.Semaphore(limit)
        self._idle = asyncio.Event()
        self._idle.set()

    def middleware(self, path: str, webhook: SimpleRequestHandler) -> Middleware:
        @web.middleware
        async def in_flight(request: web.Request, handler: Handler) -> web.StreamResponse:
            secret = request.headers.get(SECRET_HEADER, "")
            if request.path != path or not webhook.verify_secret(secret, webhook.bot):
                return await handler(request)
            self.count += 1
            self._idle.clear()
            try:
                async with self._turns:
                    return await handler(request)
            finally:
                self.count -= 1
                if self.count == 0:
                    self._idle.set()

        return in_flight

    async def drained(self, timeout: float) -> bool:  # noqa: ASYNC109
        """True once no request is being handled; False if ``timeout`` passed."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def _logged_not_resent(event: ErrorEvent) -> bool:
    """An error in a handler: logged, and the update counts as handled (200)."""
    exc = event.exception
    log.error(
        "Update %s failed (%s); answered so it is not sent again",
        event.update.update_id,
        type(exc).__name__,
        exc_info=exc,
    )
    return True


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def build_webhook_app(app: Paicha, secret: str) -> web.Application:
    """The aiohttp application: the webhook route (aiogram's handler), the
    health route, the dispatcher's startup, shutdown and errors handler. On
    shutdown the updates being handled finish, then the scheduler stops, then
    aiogram closes the bot's session."""
    settings = app.settings
    handler = SimpleRequestHandler(
        dispatcher=app.dp,
        bot=app.bot,
        secret_token=secret,
        handle_in_background=False,
    )
    in_flight = InFlight(settings.max_concurrent_updates)
    web_app = web.Application(middlewares=[in_flight.middleware(settings.webhook_path, handler)])

    async def drain(_: web.Application) -> None:
        # Registered before the handler's own shutdown (which closes the
        # bot's session), so it runs first.
        if not await in_flight.drained(DRAIN_SECONDS):
            log.warning("%d webhook update(s) still running at shutdown", in_flight.count)
        if app.scheduler is not None:
            await app.scheduler.stop()

    web_app.on_shutdown.append(drain)
    app.dp.errors.register(_logged_not_resent)
    handler.register(web_app, path=settings.webhook_path)
    web_app.router.add_get(HEALTH_PATH, _healthz)
    setup_application(web_app, app.dp, bot=app.bot)
    return web_app
