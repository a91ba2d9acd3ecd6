"""A local Telegram Bot API over HTTP, so the real aiogram bot runs unchanged
in tests: it long-polls ``{base}/bot{token}/getUpdates`` here (or sets a
webhook on 127.0.0.1 and gets the updates POSTed, emulator/webhook.py) and
downloads files from ``{base}/file/bot{token}/{path}``, never touching the
internet."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections import Counter
from typing import Any

from aiohttp import web

from emulator.limits import FloodControl, RateLimits
from emulator.methods import BotMethods, Params, Upload, read_multipart
from emulator.validation import ApiError
from emulator.webhook import (
    Attempt,
    Webhook,
    WebhookDelivery,
    parse_allowed_updates,
    parse_set_webhook,
)

# Updates Telegram leaves out unless the bot asks for them explicitly.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class DropConnection(Exception):
    """Injected: the connection is closed without an answer (before the
    method runs, so nothing was sent)."""


class BotApiEmulator(BotMethods):
    """Start it, point ``TelegramAPIServer.from_base(emulator.base_url)`` at it,
    and script users with ``emulator.user(...)``."""

    def __init__(
        self,
        callback_timeout: float = 15.0,
        limits: RateLimits | None = None,
        *,
        webhook_timeout: float = 60.0,
        webhook_retry: tuple[float, float] = (0.1, 2.0),
        set_webhook_interval: float = 1.0,
    ) -> None:
        """``webhook_timeout``: seconds a webhook delivery waits for the bot's
        answer; ``webhook_retry``: (first delay, cap) between tries of an
        update the bot did not take; ``set_webhook_interval``: Telegram answers
        429 (retry after 1) to a second setWebhook with a URL within a second."""
        super().__init__(callback_timeout=callback_timeout)
        # Opt in: Telegram's flood limits, answered with 429 (emulator/limits.py).
        self.flood: FloodControl | None = FloodControl(limits) if limits else None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._poll_generation = 0
        self._allowed_updates: set[str] | None = None
        self._injected: dict[str, list[Exception]] = {}
        self._random_faults: dict[str, tuple[float, float, random.Random]] = {}
        self.faults: Counter[str] = Counter()  # random faults injected, by kind
        self.webhook_delivery = WebhookDelivery(self, webhook_timeout, webhook_retry)
        self.set_webhook_interval = set_webhook_interval
        self._next_set_webhook = 0.0

    # ---- lifecycle -------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> BotApiEmulator:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll whose client went away must not
        # linger; shutdown_timeout: stop() must never hang a test.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        sock_host, sock_port = server.sockets[0].getsockname()[:2]  # type: ignore[attr-defined]
        self._base_url = f"http://{sock_host}:{sock_port}"
        self._closing = False
        self.webhook_delivery.start()
        return self

    async def stop(self) -> None:
        self._closing = True
        self.signal.fire()  # release long polls
        await self.webhook_delivery.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("emulator not started")
        return self._base_url

    # ---- webhook ---------------------------------------------------------

    @property
    def webhook(self) -> Webhook | None:
        """The webhook set by the bot (None: the bot polls)."""
        return self.webhook_delivery.config

    @property
    def webhook_attempts(self) -> list[Attempt]:
        """Every POST of an update to the webhook, in order, failed ones too."""
        return self.webhook_delivery.attempts

    def webhook_info(self) -> dict[str, Any]:
        return self.webhook_delivery.info()

    def api_setwebhook(self, p: Params) -> bool:
        hook = parse_set_webhook(p)
        allowed = parse_allowed_updates(p)
        if hook is not None:
            now = time.monotonic()
            if now < self._next_set_webhook:
                raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
            self._next_set_webhook = now + self.set_webhook_interval
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        if allowed is not None:
            self._allowed_updates = set(allowed)
        if hook is not None and self.webhook is None:
            self._end_long_poll()
        self.webhook_delivery.install(hook)
        return True

    def api_deletewebhook(self, p: Params) -> bool:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook_delivery.install(None)
        return True

    def api_getwebhookinfo(self, p: Params) -> dict[str, Any]:
        return self.webhook_info()

    async def run_method(self, method: str, raw: dict[str, Any]) -> Any:
        """Run a method a webhook answer carried (as the bot that set it)."""
        return await self._dispatch(method, Params(raw, self._token))

    def delivery_hint(self) -> str:
        hook = self.webhook
        if hook is None:
            return super().delivery_hint()
        error = f", last error: {hook.last_error_message}" if hook.last_error_message else ""
        return f"is the bot serving its webhook {hook.url}{error}?"

    # ---- failure injection -----------------------------------------------

    def inject_error(
        self,
        method: str,
        code: int,
        description: str,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail with this error."""
        queue = self._injected.setdefault(method.lower(), [])
        queue.extend(ApiError(code, description, parameters) for _ in range(times))

    def inject_429(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        self.inject_error(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            times,
            {"retry_after": retry_after},
        )

    def inject_5xx(
        self, method: str, times: int = 1, code: int = 500, description: str | None = None
    ) -> None:
        """The next ``times`` calls to ``method`` fail with a server error."""
        text = description or {502: "Bad Gateway"}.get(code, "Internal Server Error")
        self.inject_error(method, code, text, times)

    def inject_disconnect(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` get no answer: the server
        closes the connection before the method runs (aiogram raises
        TelegramNetworkError)."""
        queue = self._injected.setdefault(method.lower(), [])
        queue.extend(DropConnection() for _ in range(times))

    def random_faults(
        self, method: str, server_error: float = 0.0, disconnect: float = 0.0, seed: int = 0
    ) -> None:
        """From now on, each call to ``method`` fails with 500 with probability
        ``server_error``, or loses its connection with ``disconnect`` (0 and 0
        turn it off). ``faults`` counts what was injected."""
        if server_error or disconnect:
            self._random_faults[method.lower()] = (server_error, disconnect, random.Random(seed))
        else:
            self._random_faults.pop(method.lower(), None)

    def enforce_limits(self, limits: RateLimits | None = None) -> FloodControl:
        """Turn Telegram's flood limits on (or replace them); returns the
        bookkeeping (``.refused``: 429s answered, by limit)."""
        self.flood = FloodControl(limits or RateLimits())
        return self.flood

    # ---- HTTP ------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        self.tokens.add(token)
        self._token = token
        try:
            params = Params(await self._read_params(request), token)
            result = await self._dispatch(method, params)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code)
        except DropConnection:
            if request.transport is not None:
                request.transport.close()
            # The handler is cancelled as the connection goes (handler_cancellation).
            await asyncio.sleep(60)
            raise web.HTTPServiceUnavailable() from None
        return web.json_response({"ok": True, "result": result})

    async def _dispatch(self, method: str, params: Params) -> Any:
        name = method.lower()
        handler = getattr(self, f"api_{name}", None)
        if name == "getupdates":
            handler = self._get_updates
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        self.calls.append((method, _loggable(params.raw)))
        injected = self._injected.get(name)
        if injected:
            raise injected.pop(0)
        if name in self._random_faults:
            server_error, disconnect, rng = self._random_faults[name]
            draw = rng.random()
            if draw < server_error:
                self.faults["500"] += 1
                raise ApiError(500, "Internal Server Error")
            if draw < server_error + disconnect:
                self.faults["disconnect"] += 1
                raise DropConnection()
        if self.flood is not None:
            self.flood.check(name, params.raw.get("chat_id"))
        if inspect.iscoroutinefunction(handler):
            return await handler(params)
        return handler(params)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return raw
        if request.content_type == "application/json":
            raw.update(await request.json())
        elif request.content_type == "multipart/form-data":
            raw.update(await read_multipart(await request.multipart()))
        else:
            raw.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        return raw

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        record = self.file_by_path(request.match_info["path"])
        if record is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(body, status=404)
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )

    # ---- long polling ----------------------------------------------------

    async def _get_updates(self, p: Params) -> list[dict[str, Any]]:
        """Real long polling: wait up to ``timeout`` seconds for an update.

        A newer getUpdates ends an older one with 409, as on Telegram, so a
        bot that polls twice shows up in tests."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._end_long_poll()
        generation = self._poll_generation
        allowed = p.obj("allowed_updates")
        if allowed is not None:
            self._allowed_updates = set(allowed)
        offset, limit = p.integer("offset"), p.integer("limit") or 100
        if offset is not None:
            self._confirm(offset)
        timeout = max(0, p.integer("timeout") or 0)

        def ready() -> bool:
            return self._closing or generation != self._poll_generation or self.drop_unwanted()

        await self.signal.wait_for(ready, timeout)
        if generation != self._poll_generation and not self._closing:
            if self.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return self._updates[: max(1, min(limit, 100))]

    def _end_long_poll(self) -> None:
        """A waiting getUpdates ends (with 409) at once."""
        self._poll_generation += 1
        self.signal.fire()

    @property
    def allowed_updates(self) -> set[str] | None:
        """The update types the bot asked for (getUpdates or setWebhook)."""
        return self._allowed_updates

    def confirm_update(self, update_id: int) -> None:
        """The bot has this update (a webhook answered 2xx)."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def drop_unwanted(self) -> bool:
        """Forget updates of types the bot did not ask for; True if any remain."""
        wanted = self._allowed_updates

        def accepted(update: dict[str, Any]) -> bool:
            kind = next(k for k in update if k != "update_id")
            return kind in wanted if wanted else kind not in _OPT_IN_UPDATES

        self._updates = [u for u in self._updates if accepted(u)]
        return bool(self._updates)


def _loggable(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"<upload {v.filename} {len(v.data)} bytes>" if isinstance(v, Upload) else v)
        for k, v in raw.items()
    }
