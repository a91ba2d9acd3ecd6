"""Telegram refuses texts over 4,096 characters: the sender splits them."""

from __future__ import annotations

from bot.sender import TEXT_LIMIT, split_text


def test_short_text_is_one_part():
    assert split_text("短消息") == ["短消息"]


def test_long_text_splits_at_line_breaks_within_the_limit():
    lines = [f"{i}. 党员{i:05d}" for i in range(2000)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p) <= TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == text  # nothing lost, nothing cut mid-line


def test_a_single_line_longer_than_the_limit_is_cut_hard():
    parts = split_text("字" * (TEXT_LIMIT * 2 + 5))
    assert [len(p) for p in parts] == [TEXT_LIMIT, TEXT_LIMIT, 5]
