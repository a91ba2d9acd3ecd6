"""Language end to end (中文优先): Chinese by default, English for a Telegram
client in English or after /lang; the /lang choice outlasts the client's."""

from __future__ import annotations

import json
import re

CJK = re.compile(r"[\u3400-\u9fff]")


# Chinese that may stay in English text: data (organisation names) and the
# glosses the English catalogue keeps on purpose.
ALLOWED = ("党员组织关系集中排查", "排查", "一支部", "切换语言")


def chinese_free(text: str) -> bool:
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    return not CJK.search(text)


def commands_for(world, user_id: int) -> dict[str, str]:
    scope = json.dumps({"chat_id": user_id, "type": "chat"}, sort_keys=True)
    commands = world.emulator.commands.get((scope, ""), [])
    return {c["command"]: c["description"] for c in commands}


async def test_english_client_gets_english_help_and_command_menu(branch_world):
    secretary = branch_world.user(101, language_code="en")
    await secretary.send("/help")
    reply = await secretary.reply()
    assert reply.text.startswith("Available commands")
    assert "<b>Available commands</b>" in (reply.raw_text or "")
    assert "/members — Member register: view, search, edit" in reply.text
    assert "/help — Help" in reply.text
    assert chinese_free(reply.text), reply.text
    await secretary.wait_idle()
    menu = commands_for(branch_world, 101)
    assert menu["help"] == "Help" and menu["add"] == "Register a Party member"


async def test_chinese_client_gets_chinese_help(branch_world):
    secretary = branch_world.user(101)
    await secretary.send("/help")
    reply = await secretary.reply()
    assert reply.text.startswith("可用命令")
    assert "/help — 帮助" in reply.text


async def test_lang_switches_a_chinese_user_to_english(branch_world):
    secretary = branch_world.user(101)  # Telegram in Chinese
    await secretary.send("/lang")
    choice = await secretary.reply()
    assert choice.button_texts == ["中文", "English"]
    await secretary.press("English")
    assert "English" in (await secretary.reply()).text

    await secretary.send("/help")
    help_text = (await secretary.reply()).text
    assert help_text.startswith("Available commands") and chinese_free(help_text)

    await secretary.send("/cancel")
    assert (await secretary.reply()).text == "There is nothing in progress to cancel."
    await secretary.send("随便说点什么")
    reply = (await secretary.reply()).text
    assert "/help" in reply and chinese_free(reply), reply


async def test_lang_choice_outlasts_the_telegram_language(branch_world):
    staff = branch_world.user(201, language_code="en")
    await staff.send("/lang")
    assert (await staff.reply()).text.startswith("Choose a language")
    await staff.press("中文")
    assert "中文" in (await staff.reply()).text
    await staff.send("/help")
    assert (await staff.reply()).text.startswith("可用命令")

    # …and a restart keeps it: the choice is stored, not held in memory.
    await branch_world.restart()
    await staff.send("/help")
    assert (await staff.reply()).text.startswith("可用命令")


async def test_english_stranger_gets_the_english_invitation_hint(branch_world):
    stranger = branch_world.user(556, language_code="en-GB")
    await stranger.send("/start")
    hint = await stranger.reply()
    assert "invitation code" in hint.text
    assert "<code>/join CODE</code>" in (hint.raw_text or "")
    assert chinese_free(hint.text), hint.text

    await stranger.send("hello")
    assert "invitation code" in (await stranger.reply()).text


async def test_english_stranger_gets_english_errors(branch_world):
    stranger = branch_world.user(557, language_code="en")
    await stranger.send("/join")
    assert "Please put the invitation code after /join" in (await stranger.reply()).text
    await stranger.send("/join NOSUCHCODE")
    assert "invitation code is not valid" in (await stranger.reply()).text


async def test_a_double_tap_on_a_language_is_no_failure(branch_world, caplog):
    """The second tap of a double tap edits the message to what it already
    shows (Telegram: "message is not modified"): the choice stands, no
    apology, no ERROR in the log."""
    secretary = branch_world.user(101)
    await secretary.send("/lang")
    choice = await secretary.reply()
    await secretary.press("English", choice)
    assert "English" in (await secretary.reply()).text
    second = await secretary.press_data("lang:en", choice)
    answer = await secretary.callback_answer(second)
    assert not answer.text, answer.text
    await secretary.send("/help")
    assert (await secretary.reply()).text.startswith("Available commands")
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
