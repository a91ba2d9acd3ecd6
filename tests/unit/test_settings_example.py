"""`.env.example` lists every setting (docs/deploy.md says it has the same list
as its table), and as written it is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def _named(text: str, pattern: str) -> set[str]:
    return {m.upper() for m in re.findall(pattern, text, flags=re.MULTILINE)}


def test_every_setting_is_in_the_example_and_the_deploy_table():
    fields = {name.upper() for name in Settings.model_fields}
    example = _named(EXAMPLE.read_text(encoding="utf-8"), r"^#?([A-Z_]+)=")
    table = _named(DEPLOY.read_text(encoding="utf-8"), r"`([A-Z_]+)`")
    assert fields - example == set(), "missing from .env.example"
    assert fields - table == set(), "missing from docs/deploy.md"


def test_the_example_as_written_is_a_valid_configuration():
    settings = Settings(_env_file=EXAMPLE, bot_token="123:abc")  # type: ignore[call-arg]
    assert settings.redis_url is None and settings.throttle_rate == 3.0
