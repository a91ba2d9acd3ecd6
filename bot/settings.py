"""Configuration (配置), read once at start from the environment or `.env`."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DB = "sqlite+aiosqlite:///./data/paicha.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = Field(default="", description="Token from @BotFather")
    bot_api_url: str | None = Field(
        default=None,
        description="Base URL of a self-hosted Bot API server (or the local emulator)",
    )
    database_url: str = DEFAULT_DB
    paicha_admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh"
    data_dir: Path = Path("./data")
    # Personal data is encrypted at rest (storage/crypto.py, bot/crypto_cli.py):
    # the data key (base64 of 32 bytes) from PAICHA_DATA_KEY, else from
    # DATA_DIR/data.key, created on first start with mode 0600. BACK IT UP:
    # without it the ID numbers, phones and addresses cannot be read.
    # PAICHA_DATA_OLD_KEYS: earlier keys (comma-separated) while
    # `paicha rotate-key` re-encrypts their rows under the current one.
    paicha_data_key: SecretStr | None = None
    paicha_data_old_keys: SecretStr | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    max_roster_rows: int = 100_000
    invitation_days: int = 7
    # Days after a transfer letter without a receipt before the member counts
    # as a pocket member (R-POCKET); no seed fixes the period.
    pocket_days: int = 90
    # Updates handled at once; the database pools are sized from it.
    max_concurrent_updates: int = 16
    # The scheduler (issue 14, R-REMIND), in local time (``timezone``): the daily
    # digest from digest_time, reminders and escalations from reminder_time,
    # nothing in quiet hours (start > end spans midnight); what falls in them
    # waits for the morning.
    digest_time: time = time(8, 30)
    reminder_time: time = time(9, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # `paicha run` runs the scheduler in the same process. Several processes
    # may all run it (workers, `paicha scheduler`): one leads at a time,
    # holding a lease of SCHEDULER_LEASE_SECONDS renewed every third of it, so
    # a leader that dies is replaced within about that long (issue 17).
    scheduler_enabled: bool = True
    scheduler_lease_seconds: int = 60
    # A claimed notification not confirmed within this many minutes (its
    # sender died between claim and send) is claimed and sent again.
    notify_stale_minutes: int = 5
    # Webhook mode (`paicha run --webhook`, issue 17): Telegram POSTs updates
    # to WEBHOOK_URL + WEBHOOK_PATH (the public address, e.g. behind nginx);
    # the bot listens on WEBHOOK_HOST:WEBHOOK_PORT. Every request must carry
    # WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -); unset, one is generated at
    # each start, which only suits a single worker.
    webhook_url: str | None = None
    webhook_path: str = "/telegram"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080
    # Telegram opens at most this many connections at once to the webhook
    # (1-100; Telegram's own default is 40). Each is held until its update is
    # handled, so with several workers it bounds their joint throughput.
    webhook_max_connections: int = Field(default=100, ge=1, le=100)
    # Several workers (issue 17): with REDIS_URL (redis://host:port/db) the
    # conversations live in Redis (aiogram's RedisStorage) and one user's
    # updates are handled one at a time across all workers (Redis locks);
    # unset, in the database (SqlStorage) with in-process locks, which suits
    # one process. REDIS_PREFIX starts every key, so workers of one bot
    # share it and two bots on one Redis do not.
    redis_url: str | None = None
    redis_prefix: str = "paicha"
    # Flood control (bot/throttle.py): per user, a burst of THROTTLE_BURST
    # updates, then THROTTLE_RATE a second; THROTTLE_RATE=0 turns it off.
    throttle_burst: int = Field(default=10, ge=1)
    throttle_rate: float = Field(default=3.0, ge=0)

    @field_validator("webhook_url", "webhook_secret", "redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `WEBHOOK_URL=` (or `REDIS_URL=`) in .env means not set.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("webhook_path")
    @classmethod
    def _rooted(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    @field_validator("paicha_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # Accept "1,2 3" from the environment as well as a JSON list.
        if isinstance(value, str):
            parts = value.replace(",", " ").split()
            return [int(p) for p in parts]
        if isinstance(value, int):
            return [value]
        return value
