"""The Bot API emulator, driven by a real aiogram Bot + Dispatcher over HTTP,
so the end-to-end tests built on it can trust what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from emulator import BotApiEmulator, run_console

TOKEN = "4242:TEST-token"
USER_ID = 1001


def _keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d)] for t, d in pairs]
    )


def echo_router() -> Router:
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        kb = _keyboard(("确定", "ok"), ("取消", "cancel"), ("要文件", "file"))
        await message.answer("你好 <b>测试</b> &amp; 欢迎", reply_markup=kb)

    @router.callback_query(F.data == "ok")
    async def ok(query: CallbackQuery) -> None:
        await query.answer("已确认")
        assert isinstance(query.message, Message)
        await query.message.edit_text("已确认 ✅")

    @router.callback_query(F.data == "cancel")
    async def cancel(query: CallbackQuery) -> None:
        await query.answer("无权限", show_alert=True)

    @router.callback_query(F.data == "file")
    async def file(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()
        doc = BufferedInputFile(b"col1,col2\n1,2\n", filename="report.csv")
        await bot.send_document(query.from_user.id, doc, caption="报表")

    @router.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        buffer = io.BytesIO()
        await bot.download(message.document, destination=buffer)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:12]
        await message.answer(f"收到 {message.document.file_name} {len(data)} {digest}")
        await message.answer_document(BufferedInputFile(data, filename="echo.bin"))

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo[{message.chat.type}]: {message.text}")

    return router


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emu:
        yield emu


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot
    await bot.session.close()


@pytest.fixture
async def polling(bot: Bot) -> AsyncIterator[Dispatcher]:
    dp = Dispatcher()
    dp.include_router(echo_router())
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    yield dp
    with contextlib.suppress(RuntimeError):  # polling may have failed to start
        await asyncio.wait_for(dp.stop_polling(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def test_polling_echo_and_get_me(emulator, bot, polling) -> None:
    user = emulator.user(USER_ID)
    await user.send("你好")
    reply = await user.reply()
    assert reply.text == "echo[private]: 你好"
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name) == (4242, "paicha_test_bot", "排查")
    assert TOKEN in emulator.tokens


async def test_press_edit_and_callback_answers(emulator, polling) -> None:
    user = emulator.user(USER_ID)
    await user.send("/start")
    menu = await user.reply()
    assert menu.text == "你好 测试 & 欢迎"
    assert menu.raw_text == "你好 <b>测试</b> &amp; 欢迎"
    assert menu.button_texts == ["确定", "取消", "要文件"]
    assert menu.buttons[0] == [("确定", "ok")]

    denied = await user.press("取消")
    answer = await user.callback_answer(denied)
    assert (answer.text, answer.show_alert) == ("无权限", True)

    confirmed = await user.press(1)
    edited = await user.reply()
    assert edited.edited and edited.message_id == menu.message_id
    assert edited.text == "已确认 ✅" and edited.buttons == []  # edit without markup drops it
    assert (await user.callback_answer(confirmed)).text == "已确认"
    assert emulator.unanswered_callbacks() == []

    with pytest.raises(AssertionError, match="buttons"):
        await user.press("不存在")


async def test_document_round_trip(emulator, polling) -> None:
    user = emulator.user(USER_ID)
    await user.send("/start")
    await user.reply()
    await user.press("文件")
    sent = await user.reply()
    assert sent.document is not None
    assert (sent.document.name, sent.document.data) == ("report.csv", b"col1,col2\n1,2\n")
    assert sent.document.mime_type == "text/csv" and sent.text == "报表"

    payload = bytes(range(256)) * 1000
    await user.upload("名单.xlsx", payload)
    summary, echoed = await user.replies(2)
    digest = hashlib.sha256(payload).hexdigest()[:12]
    assert summary.text == f"收到 名单.xlsx {len(payload)} {digest}"
    assert echoed.document is not None and echoed.document.data == payload


async def test_group_message_is_supergroup(emulator, polling) -> None:
    user = emulator.user(USER_ID)
    await user.send_in_group("大家好", chat_id=-100777)
    reply = await user.reply()
    assert reply.chat_id == -100777 and reply.text == "echo[supergroup]: 大家好"
    assert await user.wait_idle(quiet=0.2) == []


async def test_telegram_refusals(emulator, bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(USER_ID, "hi")
    user = emulator.user(USER_ID)
    await user.send("hi")  # now the chat exists

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER_ID, "长" * 4097)
    # Tags and entities do not count towards the 4096 limit.
    await bot.send_message(USER_ID, "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER_ID, "<b>未闭合", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Unsupported start tag"):
        await bot.send_message(USER_ID, "换行<br>", parse_mode="HTML")

    too_long = _keyboard(("长", "好" * 22))  # 22 CJK chars = 66 bytes > 64
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER_ID, "x", reply_markup=too_long)

    sent = await bot.send_message(USER_ID, "同样")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("同样", chat_id=USER_ID, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("新", chat_id=USER_ID, message_id=9999)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("nope")

    big = BufferedInputFile(b"\0" * (50 * 1024 * 1024 + 1), filename="big.bin")
    with pytest.raises(TelegramEntityTooLarge):
        await bot.send_document(USER_ID, big)

    user.blocked = True
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(USER_ID, "hi")


async def test_429_injection_and_rate_bookkeeping(emulator, bot) -> None:
    await emulator.user(USER_ID).send("hi")
    emulator.inject_429("sendMessage", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER_ID, "第一次")
    assert caught.value.retry_after == 3
    for i in range(3):
        await bot.send_message(USER_ID, f"第 {i} 条")
    assert emulator.max_rate(window=1.0) == 3
    assert len(emulator.chats[USER_ID].send_times) == 3


async def test_commands_files_and_unknown_method(emulator, bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.get_my_commands(language_code="en") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start-Now", description="x")])

    user = emulator.user(USER_ID)
    message = await user.upload("huge.bin", b"\1" * (20 * 1024 * 1024 + 1))
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(message["document"]["file_id"])

    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.base_url}/bot{TOKEN}/noSuchMethod") as resp,
    ):
        assert resp.status == 404
        assert (await resp.json())["description"] == "Not Found: method not found"


async def test_reply_timeout_explains_itself(emulator, bot) -> None:
    user = emulator.user(USER_ID)
    await user.send("hi")  # nobody polls
    await bot.send_message(USER_ID, "早到的消息")
    assert (await user.reply(timeout=1)).text == "早到的消息"
    with pytest.raises(AssertionError, match=r"(?s)no reply within 0.1s.*早到的消息.*is polling"):
        await user.reply(timeout=0.1)


async def test_console_scripted_session(emulator, polling, tmp_path: Path) -> None:
    upload = tmp_path / "in.txt"
    upload.write_bytes("上传内容".encode())
    lines = iter(["/start", "3", f"/upload {upload}", "你好", "/quit"])

    async def scripted(prompt: str) -> str:
        return next(lines)

    out = io.StringIO()
    user = emulator.user(USER_ID)
    files = tmp_path / "downloads"
    await asyncio.wait_for(
        run_console(emulator, user, files, input_func=scripted, output=out, settle=0.3), 20
    )
    text = out.getvalue()
    assert "你好 测试 & 欢迎" in text and "[1] 确定" in text and "[3] 要文件" in text
    assert "📄 已保存:" in text and "echo[private]: 你好" in text
    assert (files / "report.csv").read_bytes() == b"col1,col2\n1,2\n"
    assert (files / "echo.bin").read_bytes() == "上传内容".encode()
