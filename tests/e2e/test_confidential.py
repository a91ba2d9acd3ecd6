"""R-CONFIDENTIAL and failures: no member field in any log line, and no stack
trace ever shown to a user."""

from __future__ import annotations

import logging

from storage.services import members as member_service


async def test_no_member_field_reaches_the_log_R_CONFIDENTIAL(branch_world, caplog):
    caplog.set_level(logging.DEBUG)
    [member_id] = await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    await sec.reply()
    await sec.press("1")
    card = await sec.reply()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("联系电话")
    await sec.reply()
    await sec.send("13900004321")
    await sec.wait_idle()
    async with branch_world.app.sessionmaker() as s:
        from storage.models import Member

        member = await s.get(Member, member_id)
    secrets = [member.name, member.id_number, "13900004321", member.id_number[-4:]]
    assert member.id_number in card.text  # the card itself shows it
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged


async def test_an_unexpected_failure_gets_a_plain_apology_not_a_trace(
    branch_world, monkeypatch, caplog
):
    await branch_world.members("一支部", 1)

    phone = "".join(["139", "0000", "9999"])  # not in the source line the trace shows

    async def broken(*args, **kwargs):
        raise RuntimeError(f"boom: {phone}")

    monkeypatch.setattr(member_service, "list_members", broken)
    sec = branch_world.user(101)
    await sec.send("/members")
    reply = await sec.reply()
    assert "出了点问题" in reply.text
    assert "Traceback" not in reply.text and "boom" not in reply.text
    # The log names the failure's type, not its message (which may carry data).
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and phone not in logged


async def test_a_database_failure_before_the_handler_still_gets_an_answer(
    branch_world, monkeypatch
):
    import bot.middlewares as middlewares

    async def down(*args, **kwargs):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(middlewares, "see_user", down)
    sec = branch_world.user(101)
    await sec.send("/members")
    assert "稍后再试" in (await sec.reply()).text
