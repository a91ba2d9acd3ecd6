"""Logs that cannot leak (issue 18 point 3, R-CONFIDENTIAL): several handlers
driven with invented data at DEBUG, and a careless log line planted in one of
them; no ID number, phone or member name reaches any captured record."""

from __future__ import annotations

import logging

from bot.logging_setup import KeyValueFormatter, RedactingFilter, redact
from storage.models import Member
from storage.services import members as member_service
from tests.factories import id_number, phone

TYPED_PHONE = phone(4321)
NEW_NAME = "孙示五"


def _secrets(member: Member) -> list[str]:
    return [member.name, member.id_number, member.id_number[-8:], TYPED_PHONE, NEW_NAME]


async def test_no_id_number_phone_or_name_in_any_log_record(branch_world, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    [member_id] = await branch_world.members("一支部", 1)
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    careless = logging.getLogger("tests.careless")
    real_get = member_service.get_member

    async def logging_get(session, actor, mid):  # type: ignore[no-untyped-def]
        found = await real_get(session, actor, mid)
        # What a careless developer might write: every field in the log.
        careless.debug("card %s id=%s phone=%s", found.name, found.id_number, found.phone)
        careless.info(f"member {found.name} {found.id_number}")
        return found

    monkeypatch.setattr(member_service, "get_member", logging_get)

    sec = branch_world.user(101, first_name="王书记")
    await sec.send("/members")
    await sec.reply()
    await sec.press("搜索")
    await sec.reply()
    await sec.send(member.name)  # a search by name: the text of the message
    await sec.reply()
    await sec.press("1")
    await sec.reply()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("联系电话")
    await sec.reply()
    await sec.send(TYPED_PHONE)
    await sec.wait_idle()
    await sec.press("修改信息")
    await sec.reply()
    await sec.press("姓名")
    await sec.reply()
    await sec.send(NEW_NAME)
    await sec.wait_idle()
    await sec.send(f"/join {member.id_number}")  # data where a code belongs
    await sec.wait_idle()
    staff = branch_world.user(201)
    await staff.send(f"/audit {NEW_NAME}")
    await staff.wait_idle()
    await staff.send("/revoke")
    await staff.wait_idle()

    # The planted lines were logged, masked: the test can fail.
    planted = [r.getMessage() for r in caplog.records if r.name == "tests.careless"]
    assert planted and all("＊＊＊" in line for line in planted)
    assert any(member.id_number[:4] + "*" * 10 in line for line in planted)
    formatter = KeyValueFormatter()
    logged = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [formatter.format(r) for r in caplog.records]
        + [caplog.text]
    )
    for secret in _secrets(member):
        assert secret not in logged, secret


def test_the_filter_masks_message_args_extras_and_tracebacks():
    number = id_number()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "member %s %s %s", ("张示一", number, "13800001234"), None
    )
    record.member = "张示一"  # an ``extra`` field
    try:
        raise ValueError("bad 13800001234 张示一")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    line = KeyValueFormatter().format(record)
    for secret in ("张示一", number, "13800001234"):
        assert secret not in line
    assert (
        number[:4] + "*" * 10 + number[-4:] in line
        and "138****1234" in line
        and "member=＊＊＊" in line
    )
    assert line.startswith("ts=") and " level=ERROR " in line


def test_redact_is_idempotent_and_keeps_english():
    text = "update 42 handled in 12 ms by 张示一 (13800001234)"
    once = redact(text)
    assert redact(once) == once
    assert once.startswith("update 42 handled in 12 ms by ＊＊＊")
