"""The emulator's setWebhook refuses what Telegram refuses, with Telegram's
words (telegram-bot-api's Client.cpp and WebhookActor.cpp), and accepts
plain HTTP only on 127.0.0.1, for the tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator import BotApiEmulator
from emulator.methods import Params
from emulator.validation import ApiError
from emulator.webhook import parse_allowed_updates, parse_set_webhook, queue_key


def _params(**raw: Any) -> Params:
    return Params(raw, "4242:TEST")


def _refusal(**raw: Any) -> str:
    with pytest.raises(ApiError) as caught:
        parse_set_webhook(_params(**raw))
    assert caught.value.code == 400
    return caught.value.description


@pytest.mark.parametrize(
    ("url", "registered"),
    [
        ("https://bot.example.org/telegram", "https://bot.example.org/telegram"),
        ("https://bot.example.org:8443/t", "https://bot.example.org:8443/t"),
        ("https://bot.example.org:88/t", "https://bot.example.org:88/t"),
        ("bot.example.org/telegram", "https://bot.example.org/telegram"),  # HTTPS assumed
        ("http://127.0.0.1:54321/telegram", "http://127.0.0.1:54321/telegram"),
        ("https://127.0.0.1:54321/telegram", "https://127.0.0.1:54321/telegram"),
    ],
)
def test_accepted_urls(url: str, registered: str) -> None:
    hook = parse_set_webhook(_params(url=url))
    assert hook is not None and hook.url == registered


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://bot.example.org/telegram", "An HTTPS URL must be provided for webhook"),
        ("http://10.0.0.5:8080/telegram", "An HTTPS URL must be provided for webhook"),
        ("http://localhost:8080/telegram", "An HTTPS URL must be provided for webhook"),
        (
            "https://bot.example.org:8080/t",
            "Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        ("ftp://bot.example.org/t", "invalid webhook URL specified"),
        ("https://", "invalid webhook URL specified"),
        ("https://bot.example.org:99999/t", "invalid webhook URL specified"),
    ],
)
def test_refused_urls(url: str, description: str) -> None:
    assert _refusal(url=url).startswith("Bad Request: ")
    assert description in _refusal(url=url)


def test_http_is_refused_with_telegrams_words() -> None:
    assert _refusal(url="http://bot.example.org/t") == (
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )


def test_an_empty_url_removes_the_webhook() -> None:
    assert parse_set_webhook(_params()) is None
    assert parse_set_webhook(_params(url="")) is None


def test_secret_token_is_1_to_256_of_the_allowed_characters() -> None:
    url = "https://bot.example.org/t"
    allowed = "AZaz09_-" * 32
    hook = parse_set_webhook(_params(url=url, secret_token=allowed))
    assert hook is not None and hook.secret_token == allowed  # 256 characters
    no_secret = parse_set_webhook(_params(url=url, secret_token=""))
    assert no_secret is not None and no_secret.secret_token is None
    assert _refusal(url=url, secret_token="a" * 257) == "Bad Request: secret token is too long"
    for bad in ("a b", "a.b", "a+b", "a/b", "a=b", "123456:TOKEN", "秘密"):
        assert _refusal(url=url, secret_token=bad) == (
            "Bad Request: secret token contains unallowed characters"
        )


def test_max_connections_is_clamped_like_telegram() -> None:
    url = "https://bot.example.org/t"

    def connections(value: Any) -> int:
        hook = parse_set_webhook(_params(url=url, max_connections=value))
        assert hook is not None
        return hook.max_connections

    assert connections(None) == 40
    assert (connections("0"), connections(5), connections(1000)) == (1, 5, 100)


def test_allowed_updates_is_a_json_list_of_names() -> None:
    assert parse_allowed_updates(_params()) is None
    assert parse_allowed_updates(_params(allowed_updates='["message"]')) == ["message"]
    assert parse_allowed_updates(_params(allowed_updates=["callback_query"])) == ["callback_query"]
    for bad in ('"message"', "[1]", "{oops"):
        with pytest.raises(ApiError, match="allowed_updates"):
            parse_allowed_updates(_params(allowed_updates=bad))


def test_updates_queue_per_chat() -> None:
    message = {"update_id": 1, "message": {"chat": {"id": 7}, "from": {"id": 7}}}
    press = {"update_id": 2, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 7}}}}
    group = {"update_id": 3, "message": {"chat": {"id": -100}, "from": {"id": 7}}}
    inline = {"update_id": 4, "inline_query": {"from": {"id": 7}}}
    assert queue_key(message) == queue_key(press) != queue_key(group)
    assert queue_key(inline) == ("user", 7)
    assert queue_key({"update_id": 5, "poll": {"id": "x"}}) == ("update", 5)


def _call(emulator: BotApiEmulator, method: str, **raw: Any) -> Any:
    handler = getattr(emulator, f"api_{method.lower()}")
    return handler(_params(**raw))


def test_set_get_and_delete_through_the_api() -> None:
    emulator = BotApiEmulator(set_webhook_interval=0)
    assert _call(emulator, "getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    emulator.user(7)
    emulator.push_update("message", {"chat": {"id": 7}})
    url = "https://bot.example.org/t"
    assert _call(
        emulator,
        "setWebhook",
        url=url,
        secret_token="s3cret",
        allowed_updates=json.dumps(["message", "callback_query"]),
    )
    info = _call(emulator, "getWebhookInfo")
    assert info["url"] == url and info["pending_update_count"] == 1
    assert info["allowed_updates"] == ["callback_query", "message"]
    assert info["max_connections"] == 40 and "last_error_message" not in info
    assert emulator.webhook is not None and emulator.webhook.secret_token == "s3cret"

    assert _call(emulator, "deleteWebhook", drop_pending_updates="true")
    assert emulator.webhook is None
    assert _call(emulator, "getWebhookInfo")["pending_update_count"] == 0


def test_refused_set_webhook_changes_nothing() -> None:
    emulator = BotApiEmulator(set_webhook_interval=0)
    with pytest.raises(ApiError):
        _call(emulator, "setWebhook", url="http://bot.example.org/t")
    with pytest.raises(ApiError):
        _call(emulator, "setWebhook", url="https://bot.example.org/t", secret_token="a b")
    assert emulator.webhook is None


def test_set_webhook_twice_within_a_second_is_429() -> None:
    emulator = BotApiEmulator()
    assert _call(emulator, "setWebhook", url="https://bot.example.org/t")
    with pytest.raises(ApiError) as caught:
        _call(emulator, "setWebhook", url="https://bot.example.org/t")
    assert caught.value.code == 429 and caught.value.parameters == {"retry_after": 1}
    assert _call(emulator, "setWebhook", url="")  # removing is never limited
    assert emulator.webhook is None
