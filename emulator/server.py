"""A local Telegram Bot API over HTTP, so the real aiogram bot runs unchanged
in tests: it long-polls ``{base}/bot{token}/getUpdates`` here and downloads
files from ``{base}/file/bot{token}/{path}``, never touching the internet."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections import Counter
from typing import Any

from aiohttp import BodyPartReader, web

from emulator.core import UPLOAD_LIMIT
from emulator.limits import FloodControl, RateLimits
from emulator.methods import BotMethods, Params, Upload
from emulator.validation import ApiError

# Updates Telegram leaves out unless the bot asks for them explicitly.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class DropConnection(Exception):
    """Injected: the connection is closed without an answer (before the
    method runs, so nothing was sent)."""


class BotApiEmulator(BotMethods):
    """Start it, point ``TelegramAPIServer.from_base(emulator.base_url)`` at it,
    and script users with ``emulator.user(...)``."""

    def __init__(self, callback_timeout: float = 15.0, limits: RateLimits | None = None) -> None:
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
        return self

    async def stop(self) -> None:
        self._closing = True
        self.signal.fire()  # release long polls
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
            raw.update(await _read_multipart(request))
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
        self._poll_generation += 1
        generation = self._poll_generation
        self.signal.fire()
        allowed = p.obj("allowed_updates")
        if allowed is not None:
            self._allowed_updates = set(allowed)
        offset, limit = p.integer("offset"), p.integer("limit") or 100
        if offset is not None:
            self._confirm(offset)
        timeout = max(0, p.integer("timeout") or 0)

        def ready() -> bool:
            return self._closing or generation != self._poll_generation or self._drop_unwanted()

        await self.signal.wait_for(ready, timeout)
        if generation != self._poll_generation and not self._closing:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return self._updates[: max(1, min(limit, 100))]

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _drop_unwanted(self) -> bool:
        """Forget updates of types the bot did not ask for; True if any remain."""
        wanted = self._allowed_updates

        def accepted(update: dict[str, Any]) -> bool:
            kind = next(k for k in update if k != "update_id")
            return kind in wanted if wanted else kind not in _OPT_IN_UPDATES

        self._updates = [u for u in self._updates if accepted(u)]
        return bool(self._updates)


async def _read_multipart(request: web.Request) -> dict[str, Any]:
    """Fields and uploads of a multipart body; an upload over 50 MB is read to
    the end (so the client sees the answer, not a broken pipe) then refused."""
    raw: dict[str, Any] = {}
    too_big = False
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            raw[part.name] = await part.text()
            continue
        data = bytearray()
        while chunk := await part.read_chunk():
            if not too_big:
                data += chunk
                too_big = len(data) > UPLOAD_LIMIT
        content_type = part.headers.get("Content-Type")
        raw[part.name] = Upload(part.filename, bytes(data), content_type)
    if too_big:
        raise ApiError(413, "Request Entity Too Large")
    return raw


def _loggable(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"<upload {v.filename} {len(v.data)} bytes>" if isinstance(v, Upload) else v)
        for k, v in raw.items()
    }
