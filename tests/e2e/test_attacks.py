"""The attacks (issue 18): each one through the local Bot API emulator, each
must fail and leave no trace of data.

Attacks tested elsewhere, not repeated here:

- a revoked role's old button replayed:
  tests/e2e/test_revoke.py::test_committee_revokes_a_secretary_whose_old_button_is_then_refused
  and ::test_forged_revocations_are_refused_and_change_nothing_R_ACL_BRANCH;
- a used, expired or guessed invitation:
  tests/e2e/test_join_limit.py::test_used_expired_and_guessed_codes_give_no_role;
- a flood of 1,000 callbacks in a second: tests/e2e/test_throttle.py;
- member data in the logs: tests/e2e/test_log_redaction.py (and
  tests/e2e/test_confidential.py::test_no_member_field_reaches_the_log_R_CONFIDENTIAL).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

from sqlalchemy import select

from emulator.models import BotMessage
from handlers.attempts import AttemptAction
from handlers.digest import DigestBranch
from handlers.disposition_view import CaseAction, Decision
from handlers.family import RelativeAct
from handlers.member_view import BranchPick, MemberAction, MemberListPage
from storage.db import write_tx
from storage.models import (
    AuditEvent,
    Base,
    ContactAttempt,
    Disposition,
    FamilyMember,
    Member,
)
from storage.services.access import Role
from tests.e2e.conftest import add_full_member
from tests.factories import id_number, member_values, phone

# Bookkeeping, not data: the update ledger, the user row (seen on every
# update) and the scheduler's lease change with any update at all.
_LEDGER = {"processed_update", "user_account", "scheduler_lease"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


async def _snapshot(world) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """Every data table's rows, to compare before and after an attack."""
    tables = {}
    async with world.app.sessionmaker() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in _LEDGER:
                continue
            rows = (await s.execute(select(table))).all()
            tables[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return tables


def _events(world, chat_id: int) -> list[BotMessage]:  # type: ignore[no-untyped-def]
    """Every message and edit the bot made in the chat so far."""
    chat = world.emulator.chats.get(chat_id)
    return list(chat.events) if chat else []


def _shown(messages: list[BotMessage]) -> str:
    """All a user saw: texts, captions, HTML sources, buttons, file names."""
    parts = []
    for m in messages:
        parts += [m.text, m.raw_text or "", *m.button_texts]
        if m.document is not None:
            parts.append(f"FILE:{m.document.name}")
    return "\n".join(parts)


async def _victim(world) -> tuple[Member, list[str]]:  # type: ignore[no-untyped-def]
    """A member of 二支部 with a phone, a relative, an attempt and a case;
    returns the member and the strings that must never reach 一支部's secretary."""
    [member_id] = await world.members("二支部", 1, start=77)
    async with world.app.sessionmaker() as s, write_tx(s):
        member = await s.get(Member, member_id)
        member.phone = phone(7701)
        member.last_org_life = date(2025, 1, 10)
        s.add(FamilyMember(member_id=member_id, relation="配偶", name="韩设亲", phone=phone(7702)))
        s.add(
            ContactAttempt(
                member_id=member_id,
                channel="phone",
                channel_group=1,
                result="not_reached",
                attempted_on=date(2026, 11, 20),
                note="邻居说去了外地",
            )
        )
        s.add(Disposition(member_id=member_id, outcome="normal", opened_on=date(2026, 11, 21)))
    async with world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    secrets = [
        member.name,
        member.id_number,
        member.id_number[-4:],
        member.phone,
        member.phone[-4:],
        "韩设亲",
        phone(7702),
        "邻居说去了外地",
    ]
    return member, secrets


async def test_forged_callbacks_naming_another_branchs_member_are_refused_R_ACL_BRANCH(
    branch_world,
):
    """Item 1: the bot's own CallbackData classes packed with 二支部's member
    (card, dispose, log, export, edit a field, and every other member action):
    each refused in Chinese, nothing of the member shown, nothing changed."""
    victim, secrets = await _victim(branch_world)
    async with branch_world.app.sessionmaker() as s:
        relative = await s.scalar(
            select(FamilyMember.id).where(FamilyMember.member_id == victim.id)
        )
        attempt = await s.scalar(
            select(ContactAttempt.id).where(ContactAttempt.member_id == victim.id)
        )
        case = await s.scalar(select(Disposition.id).where(Disposition.member_id == victim.id))
    other_branch = branch_world.orgs["二支部"]
    await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    await sec.send("/members")
    page = await sec.reply()
    await sec.press("1")
    own_card = await sec.reply()
    await sec.wait_idle()
    before = await _snapshot(branch_world)

    mid = victim.id
    forged = (
        [
            MemberAction(action=action, member_id=mid, arg=arg)
            for action, arg in [
                ("card", ""),
                ("open", ""),
                ("dispose", ""),
                ("log", ""),
                ("lognext", ""),
                ("export", "dossier"),
                ("export", "member_info"),
                ("edit", ""),
                ("field", "phone"),
                ("field", "name"),
                ("letter", ""),
                ("receipt", ""),
                ("type", "预备"),
                ("type", "正式"),
                ("family", ""),
                ("family_add", ""),
                ("dossier", ""),
                ("dossier", "1"),
                ("attempts", ""),
                ("close", ""),
                ("found", ""),
                ("unreach", ""),
                ("imposs", ""),
                ("mobile", ""),
                ("audit", ""),
            ]
        ]
        + [
            CaseAction(action="cases", id=mid),
            CaseAction(action="new", id=mid, arg="normal"),
            CaseAction(action="go", id=mid, arg="normal"),
            CaseAction(action="view", id=case),
            CaseAction(action="rec", id=case, arg="0"),
            CaseAction(action="wd", id=case, arg="0"),
            CaseAction(action="appeal", id=case),
            CaseAction(action="review", id=case, arg="1"),
            # Malformed values: refused as a stale button, not as a failure.
            CaseAction(action="review", id=case, arg=""),
            CaseAction(action="new", id=mid, arg="nonsense"),
            Decision(id=case, expected=0, ok=True),
            AttemptAction(attempt_id=attempt, op="show"),
            AttemptAction(attempt_id=attempt, op="result"),
            AttemptAction(attempt_id=attempt, op="result", value="reached"),
            AttemptAction(attempt_id=attempt, op="note"),
            RelativeAct(relative_id=relative),
            MemberListPage(branch_id=other_branch, page=0),
            DigestBranch(branch_id=other_branch, since=date(2026, 11, 1).toordinal(), today=1),
        ]
        + [
            BranchPick(purpose=purpose, branch_id=other_branch)
            for purpose in ("list", "search", "add", "log", "import", "template", "summary")
        ]
    )
    start = len(_events(branch_world, 101))
    refusals = {}
    for data in forged:
        packed = data.pack()
        answer = await sec.callback_answer(await sec.press_data(packed, own_card))
        refusals[packed] = answer.text or ""
    await sec.wait_idle()
    seen = _events(branch_world, 101)[start:]
    silent = {packed: text for packed, text in refusals.items() if not _CJK.search(text)}
    assert not silent, f"refused without a Chinese word: {silent}"
    failed = {packed: text for packed, text in refusals.items() if "出了点问题" in text}
    assert not failed, f"a forged button reached a failure: {failed}"
    shown = _shown(seen)
    for secret in secrets:
        assert secret not in shown, secret
    assert not any(m.document for m in seen)
    after = await _snapshot(branch_world)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, changed
    async with branch_world.app.sessionmaker() as s:
        reads = await s.scalars(
            select(AuditEvent).where(
                (AuditEvent.member_id == mid)
                | ((AuditEvent.entity == "member") & (AuditEvent.entity_id == mid))
            )
        )
        assert list(reads) == []
    assert page.text  # the secretary's own list was there to press on


async def test_member_ids_guessed_by_counting_show_only_own_members_R_ACL_BRANCH(branch_world):
    """Item 2: a secretary of 一支部 walks ids 1..N through forged card taps;
    only 一支部's members are ever shown, and only their reads are audited."""
    own, other = [], []
    for i in range(4):  # interleaved ids, so a counter meets both branches
        own += await branch_world.members("一支部", 1, start=2 * i)
        other += await branch_world.members("二支部", 1, start=2 * i + 1)
    async with branch_world.app.sessionmaker() as s:
        members = {m.id: m for m in await s.scalars(select(Member))}
    sec = branch_world.user(101)
    await sec.send("/members")
    page = await sec.reply()
    start = len(_events(branch_world, 101))
    for guess in range(1, max(members) + 4):
        answer = await sec.callback_answer(
            await sec.press_data(MemberAction(action="card", member_id=guess).pack(), page)
        )
        if guess not in own:
            assert answer.text == "无权限"
    await sec.wait_idle()
    shown = _shown(_events(branch_world, 101)[start:])
    for member_id in own:
        assert members[member_id].name in shown
    for member_id in other:
        assert members[member_id].name not in shown
        assert members[member_id].id_number not in shown
    async with branch_world.app.sessionmaker() as s:
        read = set(
            await s.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.entity == "member", AuditEvent.action == "read"
                )
            )
        )
    assert read == set(own)


async def test_in_a_group_even_a_secretary_gets_only_the_private_chat_notice_R_ACL_PRIVATE(
    branch_world,
):
    """Item 3: the bot added to a group and asked, by a real secretary and
    committee staff, for the data commands: each answered with the private
    chat notice, nothing else, in the group or privately."""
    ids = await branch_world.members("一支部", 3)
    async with branch_world.app.sessionmaker() as s:
        names = [(await s.get(Member, i)).name for i in ids]
        id_numbers = [(await s.get(Member, i)).id_number for i in ids]
    group = -100555
    sec, staff = branch_world.user(101), branch_world.user(201)
    before = await _snapshot(branch_world)
    commands = ["/members", f"/members {names[0]}", "/export", "/summary", "/log", "/lost"]
    commands += ["/members@paicha_test_bot", "/add", "/template", "/start", "/help"]
    for user, command in [(sec, c) for c in commands] + [(staff, "/audit"), (staff, "/export")]:
        await user.send_in_group(command, chat_id=group, title="党员交流群")
        notice = await user.reply()
        assert notice.chat_id == group
        assert "只在私聊" in notice.text, (command, notice.text)
    # A forged card tap on the group's message: the same notice, as an alert.
    answer = await sec.callback_answer(
        await sec.press_data(MemberAction(action="card", member_id=ids[0]).pack(), notice)
    )
    assert "只在私聊" in (answer.text or "") and answer.show_alert
    # Plain talk in the group is not answered at all.
    await sec.send_in_group(names[1], chat_id=group)
    await sec.wait_idle()
    in_group = _events(branch_world, group)
    assert len(in_group) == len(commands) + 2
    shown = _shown(in_group)
    for secret in names + id_numbers:
        assert secret not in shown
    assert not any(m.document or m.button_texts for m in in_group)
    assert _events(branch_world, 101) == [] and _events(branch_world, 201) == []
    assert await _snapshot(branch_world) == before


_FULL_ID = re.compile(r"\d{17}[\dX]")
_FULL_PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


async def test_lists_and_digests_mask_id_numbers_and_phones_only_the_card_shows_them(
    branch_world,
):
    """Item 4 (a bot message forwarded to a group): every list a secretary
    gets — the register's pages, a search, /lost, /log's pick list,
    /summary, the daily digest — shows ID numbers and phones masked (R-CONFIDENTIAL); only the
    member's own card shows them whole, so a forwarded list tells no more than
    the card did."""
    from handlers.digest import render_digest
    from storage.services.digest import digests_for_day
    from tests.e2e.conftest import NOW
    from tests.e2e.test_digest import _lost_today
    from tests.e2e.test_search import _set

    ids = await branch_world.members("一支部", 12)
    for n, member_id in enumerate(ids):
        await _set(branch_world, member_id, phone=phone(4400 + n), last_org_life=date(2025, 1, 1))
    async with branch_world.app.sessionmaker() as s:
        members = [await s.get(Member, i) for i in ids]
    sec = branch_world.user(101)
    lists: list[BotMessage] = []
    await sec.send("/members")
    lists.append(await sec.reply())
    await sec.press("▶")
    lists.append(await sec.reply())
    await sec.send(f"/members {members[0].name}")
    lists.append(await sec.reply())
    await sec.press("🔍 搜索")
    await sec.reply()
    await sec.send(members[1].id_number[-4:])
    lists.append(await sec.reply())
    for command in ("/lost", "/log", "/summary"):
        await sec.send(command)
        lists += await sec.wait_idle()
    # The daily digest, as the scheduler renders it for this secretary.
    lost_today = await _lost_today(branch_world, "一支部", 40)
    await _set(branch_world, lost_today, phone=phone(4499))
    async with branch_world.app.sessionmaker() as s:
        digests = await digests_for_day(s, today=NOW.date(), pocket_days=90)
        members.append(await s.get(Member, lost_today))
    [digest] = [d for d in digests if d.recipient == 101]
    text, _ = render_digest(digest)
    assert members[-1].name in text
    lists.append(BotMessage(101, 0, 0, text, "HTML", None))
    await sec.send(f"/members {members[2].name}")
    await sec.reply()
    await sec.press("1")
    card = await sec.reply()

    assert len(lists) >= 7
    for message in lists:
        for text in (message.text, message.raw_text or ""):
            assert not _FULL_ID.search(text), message
            assert not _FULL_PHONE.search(text), message
    masked = "\n".join(m.text for m in lists[:2])
    for member in members[:12]:
        assert member.id_number[:4] + "*" * 10 + member.id_number[-4:] in masked
    assert members[2].id_number in card.text and members[2].phone in card.text


async def test_a_command_forwarded_into_the_bot_acts_for_the_forwarder_not_the_origin(
    branch_world,
):
    """Item 4, the other way round: a secretary's /members forwarded to the
    bot by a stranger (forward_origin names the secretary) is the stranger's
    message: they get a stranger's answer and no data."""
    [member_id] = await branch_world.members("一支部", 1)
    async with branch_world.app.sessionmaker() as s:
        member = await s.get(Member, member_id)
    stranger = branch_world.user(666, first_name="陌生")
    emulator = branch_world.emulator
    secretary = branch_world.user(101).as_dict()
    for text in ("/members", "/export", f"/members {member.name}"):
        command = text.split()[0]
        emulator.user_message(
            stranger,
            stranger._act_in(emulator.chat(666, "private")),
            text=text,
            entities=[{"type": "bot_command", "offset": 0, "length": len(command)}],
            forward_origin={"type": "user", "sender_user": secretary, "date": 1764000000},
            forward_from=secretary,
            forward_date=1764000000,
        )
        reply = await stranger.reply()
        assert "邀请码" in reply.text or "没有可以导出" in reply.text, reply.text
    await stranger.wait_idle()
    shown = _shown(_events(branch_world, 666))
    assert member.name not in shown and member.id_number not in shown
    assert _events(branch_world, 101) == []


def _rewrite(data: bytes, change, extra: dict[str, bytes] | None = None) -> bytes:  # type: ignore[no-untyped-def]
    """The workbook with each part passed through ``change(name, body)``, plus
    ``extra`` parts: what Excel, or a hand-made file, would have written."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info, change(info.filename, source.read(info.filename)))
        for name, body in (extra or {}).items():
            archive.writestr(name, body)
    return out.getvalue()


def _as_excel_saved(name: str, body: bytes) -> bytes:
    """Excel stores each formula's last result beside it: =1+1 with 2, the
    HYPERLINK with its label. openpyxl leaves the result empty."""
    if not name.startswith("xl/worksheets/"):
        return body
    body = body.replace(b"<f>1+1</f><v></v>", b"<f>1+1</f><v>2</v>")
    return re.sub(
        rb'(<c r="[A-Z]+\d+")([^>]*)><f>(HYPERLINK[^<]*)</f><v></v>',
        rb'\1\2 t="str"><f>\3</f><v>&#26446;</v>',
        body,
    )


def _with_shared_strings(count: int, width: int):  # type: ignore[no-untyped-def]
    def change(name: str, body: bytes) -> bytes:
        if name == "[Content_Types].xml":
            return body.replace(
                b"</Types>",
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
            )
        if name == "xl/_rels/workbook.xml.rels":
            return body.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                b"</Relationships>",
            )
        return body

    strings = b"".join(b"<si><t>%08d%s</t></si>" % (i, b"x" * width) for i in range(count))
    table = (
        b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s</sst>' % (count, count, strings)
    )
    return change, {"xl/sharedStrings.xml": table}


async def _import_ends(user) -> str:  # type: ignore[no-untyped-def]
    """The import's last word: its status message edited to the end result."""
    for _ in range(20):
        text = (await user.reply(timeout=10)).text
        if "没有导入任何数据" in text or "导入完成" in text:
            return text
    raise AssertionError("the import never ended")


async def test_roster_formulas_and_a_huge_shared_strings_table_are_refused(branch_world):
    """Item 5: a roster whose cells are formulas (=1+1, =HYPERLINK(…)), with
    the results Excel keeps beside them, is refused naming the cell: nothing
    is evaluated or stored as 2. A shared-strings table beyond the limit is
    refused naming the limit before it is read. The DB is unchanged."""
    from tests.e2e.test_roster_upload import _fill, _template

    await branch_world.members("一支部", 1)
    sec = branch_world.user(101)
    template = await _template(sec)
    before = await _snapshot(branch_world)
    link = '=HYPERLINK("http://x.example/","李")'
    for rows in (
        [member_values(1), member_values(2, name="=1+1")],
        [member_values(1), member_values(2, name=link)],
        [member_values(1), member_values(2, work_unit="=1+1")],
    ):
        for data in (_fill(template, rows), _rewrite(_fill(template, rows), _as_excel_saved)):
            await sec.upload("名册.xlsx", data)
            refusal = await _import_ends(sec)
            assert "公式" in refusal and "没有导入任何数据" in refusal, refusal
            assert re.search(r"[A-Z]+\d+单元格", refusal)
            assert "Traceback" not in refusal

    branch_world.settings.max_roster_rows = 100  # the limit scales with it: 1.1 MB of text
    change, extra = _with_shared_strings(12_000, 100)
    data = _rewrite(_fill(template, [member_values(3)]), change, extra)
    await sec.upload("名册.xlsx", data)
    refusal = await _import_ends(sec)
    assert "上限" in refusal and "MB" in refusal and "100行" in refusal, refusal
    assert "没有导入任何数据" in refusal
    # Under the limit the same shared strings are read, and the row imported.
    change, extra = _with_shared_strings(1_000, 100)
    data = _rewrite(_fill(template, [member_values(3)]), change, extra)
    assert await _snapshot(branch_world) == before
    await sec.upload("名册.xlsx", data)
    saved = await _import_ends(sec)
    assert "新增1人" in saved, saved


async def test_html_and_markdown_in_names_are_shown_as_typed_R_CONFIDENTIAL(branch_world):
    """Item 6: a member named with HTML (typed in /add, and imported), a
    Markdown-looking name, and a branch whose name is HTML: every message that
    shows them shows the characters as typed (escaped in the HTML source),
    and Telegram never refuses a message ("can't parse entities")."""
    from tests.e2e.test_roster_upload import _fill, _template
    from tests.e2e.test_search import _set

    branch = '<b>三</b>支部&amp;"'
    typed, imported, marked = "<b>王</b>&amp;", '<a href="http://x">李</a>', "*钱*_[x](tg://x)"
    await branch_world.org(branch, "branch", "示例党委")
    await branch_world.grant(103, Role.SECRETARY, branch)
    sec = branch_world.user(103)

    confirm = await add_full_member(sec, typed, id_number(date(1980, 5, 6), male=False, serial=301))
    assert typed in confirm
    await sec.press("保存")
    await sec.wait_idle(quiet=0.5, timeout=10)

    rows = [member_values(1, name=imported), member_values(2, name=marked)]
    await sec.upload("名册.xlsx", _fill(await _template(sec), rows))
    assert "新增2人" in await _import_ends(sec)
    async with branch_world.app.sessionmaker() as s:
        ids = list(
            await s.scalars(select(Member.id).where(Member.branch_id == branch_world.orgs[branch]))
        )
        stored = {(await s.get(Member, i)).name for i in ids}
    assert stored == {typed, imported, marked}
    for member_id in ids:
        await _set(branch_world, member_id, last_org_life=date(2025, 1, 10))

    await sec.send("/members")
    page = await sec.reply()
    await sec.press("1")
    card = await sec.reply()
    await sec.send(f"/members {typed}")
    found = await sec.reply()
    await sec.send("/lost")
    lost = await sec.reply()
    await sec.send("/log")
    pick = await sec.reply()
    await sec.press(1)
    channel = await sec.reply()
    for message, names in [
        (page, (typed, imported, marked)),
        (found, (typed,)),
        (lost, (typed, imported, marked)),
        (pick, (typed, imported, marked)),
    ]:
        for name in names:
            assert name in "\n".join([message.text, *message.button_texts]), (name, message)
    assert branch in page.text and branch in card.text
    assert any(name in card.text for name in stored)
    assert any(name in channel.text for name in stored)
    # A note with HTML, then the member's views that show their name or the note.
    for label in ("亲属", "获得线索", "昨天"):
        await sec.press(label)
        await sec.reply()
    note = "<i>邻</i>&lt;说"
    await sec.send(note)
    assert "已保存" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        attempt = (await s.scalars(select(ContactAttempt))).one()
        assert attempt.note == note
        logged = attempt.member_id
        logged_name = (await s.get(Member, logged)).name
    await sec.send(f"/members {logged_name}")
    await sec.reply()
    await sec.press("1")
    logged_card = await sec.reply()
    views = {}
    for label in ("查找记录", "档案", "处置", "家庭成员", "添加"):  # the last two edit the card
        await sec.press(label, logged_card)
        views[label] = await sec.reply()
    assert note in views["查找记录"].text
    assert logged_name in views["处置"].text and logged_name in views["添加"].text
    emulator = branch_world.emulator
    assert await emulator.signal.wait_for(lambda: not emulator.unanswered_callbacks(), 5), [
        c.data for c in emulator.unanswered_callbacks()
    ]
    everything = _events(branch_world, 103)
    for message in everything:
        raw = message.raw_text or ""
        assert "<a href" not in raw and "<b>王</b>" not in raw and "<b>三</b>" not in raw, raw
        assert "出了点问题" not in message.text


_LONG = "长" * 4097  # one over Telegram's 4,096


async def test_a_4097_character_message_mid_flow_is_refused_plainly(branch_world):
    """Item 7: 4,097 characters as a member's name in /add, as an attempt's
    note in /log, and as a register search: each answered in Chinese (the
    limit named), never a crash or a trace, and nothing stored beyond a
    field's limit; the flow goes on."""
    from tests.e2e.test_search import _lost_branch

    await _lost_branch(branch_world)
    before = await _snapshot(branch_world)
    sec = branch_world.user(101)
    await sec.send("/add")
    await sec.replies(2)
    await sec.send(_LONG)
    refusal = await sec.reply()
    assert "30" in refusal.text and _CJK.search(refusal.text), refusal.text
    await sec.send("/cancel")
    await sec.reply()

    await sec.send("/log")
    await sec.reply()
    for label in (1, "亲属", "获得线索", "昨天"):
        await sec.press(label)
        await sec.reply()
    await sec.send(_LONG)
    answer = await sec.reply()
    assert "500" in answer.text, answer.text
    await sec.send("/cancel")
    await sec.reply()

    await sec.send(f"/members {_LONG}")
    listing = await sec.reply()
    assert "太长" in listing.text and "30" in listing.text, listing.text
    await sec.send("/members")
    await sec.reply()
    await sec.press("🔍 搜索")
    await sec.reply()
    await sec.send(_LONG)
    assert "太长" in (await sec.reply()).text

    seen = await sec.wait_idle()
    for message in _events(branch_world, 101):
        assert "出了点问题" not in message.text and "Traceback" not in message.text, message
        assert len(message.text) <= 4096
    assert seen == [], [str(m)[:300] for m in seen]
    assert await _snapshot(branch_world) == before
