"""Webhooks as Telegram runs them: ``setWebhook`` validated with Telegram's own
refusals, ``getWebhookInfo``, and the queued updates POSTed to the bot.

Delivery follows telegram-bot-api's WebhookActor:

- each update is a JSON body with the header ``X-Telegram-Bot-Api-Secret-Token``
  when a secret was set;
- updates of one chat go one at a time and in order (the next waits until
  the bot answered the previous with 2xx); different chats go side by side,
  at most ``max_connections`` at once;
- an answer other than 2xx, a refused or dropped connection or no answer
  within ``timeout`` is an error: ``last_error_date`` and
  ``last_error_message`` say which (Telegram's words), and the update is
  sent again after a delay that doubles up to a cap (a ``Retry-After``
  header is honoured); it stays in ``pending_update_count`` meanwhile;
- a 2xx answer may carry a method (``{"method": "sendMessage", ...}`` as
  JSON, form or multipart): it is run as Telegram runs it, result unseen.

For us only: ``http://`` is accepted for 127.0.0.1 (Telegram wants HTTPS),
any port is accepted there, and nothing is ever sent beyond 127.0.0.1: a
webhook on another host is registered but its deliveries fail."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from emulator.methods import Params, read_multipart
from emulator.validation import ApiError, bad_request

if TYPE_CHECKING:
    from emulator.server import BotApiEmulator

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LOOPBACK = "127.0.0.1"
TELEGRAM_PORTS = frozenset({80, 88, 443, 8443})
DEFAULT_MAX_CONNECTIONS = 40
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]*")
# Methods Telegram does not run from a webhook's answer.
_NOT_FROM_ANSWER = ("deletewebhook", "setwebhook", "close", "logout")


@dataclass
class Webhook:
    """The webhook as registered, and how its deliveries went."""

    url: str
    secret_token: str | None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    last_error_date: int | None = None
    last_error_message: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def local(self) -> bool:
        """Deliverable from here: only 127.0.0.1 is ever contacted."""
        return self.host == LOOPBACK

    def same_target(self, other: Webhook) -> bool:
        return (self.url, self.secret_token, self.max_connections) == (
            other.url,
            other.secret_token,
            other.max_connections,
        )


@dataclass
class Attempt:
    """One POST of one update (``status`` None: no HTTP answer at all)."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Queue:
    """Retry state of one chat's queue."""

    failures: int = 0
    wakeup_at: float = 0.0


def parse_set_webhook(p: Params) -> Webhook | None:
    """The webhook ``setWebhook`` asks for (None: an empty url removes it), or
    Telegram's refusal."""
    url = (p.text("url") or "").strip()
    if not url:
        return None
    if "://" not in url:
        url = "https://" + url  # Telegram reads a bare host as HTTPS
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad_request("invalid webhook URL specified") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise bad_request("invalid webhook URL specified")
    if host != LOOPBACK:
        if scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if port is not None and port not in TELEGRAM_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
    secret = p.text("secret_token") or ""
    if len(secret) > 256:
        raise bad_request("secret token is too long")
    if not _SECRET_RE.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    connections = p.integer("max_connections")
    # Telegram clamps max_connections to 1..100 rather than refusing it.
    connections = DEFAULT_MAX_CONNECTIONS if connections is None else min(100, max(1, connections))
    return Webhook(url=url, secret_token=secret or None, max_connections=connections)


def parse_allowed_updates(p: Params) -> list[str] | None:
    allowed = p.obj("allowed_updates")
    if allowed is None:
        return None
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise bad_request("can't parse allowed_updates JSON object")
    return allowed


def queue_key(update: dict[str, Any]) -> Hashable:
    """Updates with the same key are delivered one at a time, in order: those
    of one chat (a button press counts in its message's chat)."""
    body = next((v for k, v in update.items() if k != "update_id"), None)
    if isinstance(body, dict):
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update["update_id"])


class WebhookDelivery:
    """Sends the emulator's queued updates to the webhook while one is set.

    ``timeout``: seconds to wait for the bot's answer (Telegram: about 60).
    ``retry``: (first delay, cap) in seconds between tries of a failed update;
    Telegram's go from 1-2 s up to 60-120 s, the emulator's default is
    quicker so tests do not wait."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        timeout: float = 60.0,
        retry: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.emulator = emulator
        self.timeout = timeout
        self.retry_first, self.retry_cap = retry
        self.config: Webhook | None = None
        self.attempts: list[Attempt] = []
        self.answer_errors: list[tuple[str, str]] = []  # methods in answers that failed
        self._queues: dict[Hashable, _Queue] = {}
        self._busy: dict[Hashable, int] = {}  # chat queue -> update id in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._running = False

    # ---- configuration ---------------------------------------------------

    def install(self, hook: Webhook | None) -> None:
        """Set, change or (None) remove the webhook. The same URL, secret and
        max_connections again keep the queue's state and last error, as on
        Telegram; anything else starts afresh."""
        current = self.config
        if hook is not None and current is not None and current.same_target(hook):
            return
        self.config = hook
        self._queues.clear()
        self.emulator.signal.fire()

    def info(self) -> dict[str, Any]:
        """getWebhookInfo's result."""
        hook = self.config
        result: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.emulator.pending_updates()),
        }
        if hook is None:
            return result
        if hook.last_error_date is not None:
            result["last_error_date"] = hook.last_error_date
            result["last_error_message"] = hook.last_error_message
        result["max_connections"] = hook.max_connections
        result["ip_address"] = LOOPBACK if hook.local else "<unknown>"
        allowed = self.emulator.allowed_updates
        if allowed is not None:
            result["allowed_updates"] = sorted(allowed)
        return result

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> None:
        self._running = True
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.create_task(self._pump_forever())

    async def stop(self) -> None:
        # The flag too: on Python 3.11 wait_for() swallows a cancellation
        # that arrives as the signal fires.
        self._running = False
        self.emulator.signal.fire()
        tasks = [t for t in (self._pump_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump_task = None
        self._tasks.clear()
        self._busy.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- delivery --------------------------------------------------------

    async def _pump_forever(self) -> None:
        while self._running:
            wait = self._pump(asyncio.get_running_loop().time())
            # Anything that changes the queue fires the signal; a failed
            # chat's retry is due after ``wait`` seconds.
            await self.emulator.signal.wait(3600.0 if wait is None else wait)

    def _pump(self, now: float) -> float | None:
        """Start every delivery that may go now; seconds until the next retry
        is due (None: nothing waits for a time)."""
        hook = self.config
        if hook is None:
            return None
        self.emulator.drop_unwanted()
        seen: set[Hashable] = set()
        next_due: float | None = None
        for update in self.emulator.pending_updates():
            key = queue_key(update)
            if key in seen:
                continue  # a chat's later updates wait for its first
            seen.add(key)
            if key in self._busy:
                continue
            queue = self._queues.get(key)
            if queue is not None and queue.wakeup_at > now:
                due = queue.wakeup_at - now
                next_due = due if next_due is None else min(next_due, due)
                continue
            if len(self._busy) >= hook.max_connections:
                break
            self._busy[key] = update["update_id"]
            task = asyncio.create_task(self._deliver(hook, key, update))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return next_due

    async def _deliver(self, hook: Webhook, key: Hashable, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        status: int | None = None
        error: str | None = None
        retry_after = 0.0
        answer: dict[str, Any] | None = None
        try:
            if not hook.local:
                error = f"Connection refused: the emulator sends only to {LOOPBACK}"
            else:
                status, error, retry_after, answer = await self._post(hook, update)
        finally:
            self._busy.pop(key, None)
        self.attempts.append(Attempt(update_id, hook.url, status, error))
        if error is None:
            self._queues.pop(key, None)
            self.emulator.confirm_update(update_id)
            if answer is not None:
                await self._run_answer(answer)
        else:
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            queue = self._queues.setdefault(key, _Queue())
            delay = retry_after or min(self.retry_cap, self.retry_first * 2**queue.failures)
            queue.failures += 1
            queue.wakeup_at = asyncio.get_running_loop().time() + delay
        self.emulator.signal.fire()

    async def _post(
        self, hook: Webhook, update: dict[str, Any]
    ) -> tuple[int | None, str | None, float, dict[str, Any] | None]:
        """(status, error, retry_after, method in the answer)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        try:
            async with self._session.post(
                hook.url,
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                ssl=False,  # a self-signed certificate on 127.0.0.1 is fine here
            ) as response:
                if not 200 <= response.status <= 299:
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
                    return response.status, error, _retry_after(response), None
                return response.status, None, 0.0, await _read_answer(response)
        except TimeoutError:
            return None, "Read timeout expired", 0.0, None
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            message = "Connection refused" if refused else "Can't connect to the webhook"
            return None, message, 0.0, None
        except aiohttp.ClientError:
            return None, "Webhook connection closed", 0.0, None

    async def _run_answer(self, answer: dict[str, Any]) -> None:
        method = str(answer.pop("method", ""))
        name = method.lower()
        if not name or name in _NOT_FROM_ANSWER or name.startswith("get"):
            return
        try:
            await self.emulator.run_method(method, answer)
        except ApiError as exc:
            self.answer_errors.append((method, exc.description))
        except Exception as exc:  # dropped connection injected, etc.
            self.answer_errors.append((method, type(exc).__name__))


def _retry_after(response: aiohttp.ClientResponse) -> float:
    try:
        return max(0.0, min(3600.0, float(response.headers.get("Retry-After", 0))))
    except ValueError:
        return 0.0


async def _read_answer(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The method a bot put in its answer to a webhook request, if any."""
    kind = response.content_type
    raw: dict[str, Any]
    try:
        if kind == "multipart/form-data":
            raw = await read_multipart(aiohttp.MultipartReader(response.headers, response.content))
        elif kind == "application/x-www-form-urlencoded":
            raw = dict(parse_qsl(await response.text()))
        elif kind == "application/json":
            body = json.loads(await response.read() or b"null")
            raw = body if isinstance(body, dict) else {}
        else:
            return None
    except (ValueError, ApiError):
        return None
    return raw if raw.get("method") else None
