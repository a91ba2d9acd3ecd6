"""Personal data encrypted at rest (issue 18 point 1, R-CONFIDENTIAL): the
round trip, tampering, the ID number's HMAC, and re-encryption (the bot's
start and `paicha rotate-key`), interrupted and resumed."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from datetime import date

import pytest
from sqlalchemy import Text, func, select, text, type_coerce, update
from sqlalchemy.exc import IntegrityError

from bot import crypto_cli
from bot.logging_setup import redact
from bot.settings import Settings
from domain.errors import InvalidInput
from storage import crypto
from storage.db import write_tx
from storage.models import AuditEvent, FamilyMember, Member, MobileRecord, Organisation
from storage.services import members
from storage.services.access import Actor, Grant, Role
from tests import factories
from tests.conftest import TEST_DATA_KEY, both_backends

KEY_A = crypto.decode_key(TEST_DATA_KEY)
KEY_B = bytes(range(32))  # another invented key


async def _branch(session) -> tuple[int, Actor]:  # type: ignore[no-untyped-def]
    committee = Organisation(name="示例党委", kind="committee")
    session.add(committee)
    await session.flush()
    branch = Organisation(name="示例第一党支部", kind="branch", parent_id=committee.id)
    session.add(branch)
    await session.commit()
    return branch.id, Actor(user_id=501, grants=(Grant(Role.SECRETARY, branch.id),))


def _values(i: int) -> dict[str, object]:
    return factories.member_values(
        i, phone=factories.phone(i), residence=f"示例市虚构区样例路{i}号"
    )


async def _add(session, count: int, start: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    branch, actor = await _branch(session) if start == 0 else (None, None)
    ids = []
    for i in range(start, start + count):
        member = await members.add_member(session, actor, branch, _values(i))
        ids.append(member.id)
    return ids


async def _raw(session, column):  # type: ignore[no-untyped-def]
    values = (await session.execute(select(type_coerce(column, Text)))).scalars().all()
    await session.rollback()
    return values


@both_backends
async def test_member_values_are_stored_as_ciphertext_and_read_back_whole(session):
    # Arrange
    [member_id] = await _add(session, 1)
    session.expunge_all()

    # Act
    stored = await session.get(Member, member_id)
    assert stored is not None
    read = (stored.id_number, stored.phone, stored.residence, stored.id_number_hmac)
    raw = await _raw(session, Member.id_number) + await _raw(session, Member.phone)

    # Assert
    assert read == (
        _values(0)["id_number"],
        factories.phone(0),
        "示例市虚构区样例路0号",
        crypto.keyring().mac(str(_values(0)["id_number"])),
    )
    assert all(r.startswith(f"v1:{crypto.key_id(KEY_A)}:") for r in raw)
    assert str(_values(0)["id_number"]) not in "".join(raw)


def test_two_encryptions_of_one_value_differ_and_both_decrypt():
    ring = crypto.Keyring([KEY_A])
    first, second = ring.encrypt("13900000001"), ring.encrypt("13900000001")
    assert first != second
    assert ring.decrypt(first) == ring.decrypt(second) == "13900000001"


def test_a_tampered_value_is_refused():
    ring = crypto.Keyring([KEY_A])
    token = ring.encrypt("410102198506150011", b"member.id_number")
    head, body = token[: crypto.HEADER_CHARS], token[crypto.HEADER_CHARS :]
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    with pytest.raises(crypto.Tampered):
        ring.decrypt(head + flipped, b"member.id_number")


def test_a_value_moved_to_another_column_is_refused():
    """The column's name is the associated data: a phone pasted into the ID
    number column does not read as an ID number."""
    ring = crypto.Keyring([KEY_A])
    token = ring.encrypt("13900000001", b"member.phone")
    with pytest.raises(crypto.Tampered):
        ring.decrypt(token, b"member.id_number")


def test_a_value_under_an_unknown_key_is_refused_not_shown():
    token = crypto.Keyring([KEY_B]).encrypt("13900000001")
    with pytest.raises(crypto.UnknownKey):
        crypto.Keyring([KEY_A]).decrypt(token)


async def test_a_tampered_row_raises_on_read_instead_of_showing_anything(session):
    # Arrange
    [member_id] = await _add(session, 1)
    [token] = await _raw(session, Member.phone)
    async with write_tx(session):
        await session.execute(
            update(Member).values({type_coerce(Member.phone, Text): token[:-6] + "AAAAAA"})
        )
    session.expunge_all()

    # Act / Assert
    with pytest.raises(crypto.Tampered):
        await session.get(Member, member_id)


async def test_without_a_keyring_nothing_personal_is_written_or_read(session):
    # Arrange
    [member_id] = await _add(session, 1)
    session.expunge_all()
    crypto.install(None)

    # Act / Assert
    with pytest.raises(crypto.NoKeyring):
        await session.get(Member, member_id)
    await session.rollback()
    with pytest.raises(Exception, match="no data key"):  # wrapped by SQLAlchemy
        async with write_tx(session):
            await session.execute(update(Member).values(phone="13900000002"))


def test_an_encrypted_column_cannot_be_compared_in_sql():
    """Every encryption differs: ``==`` would silently match nothing."""
    with pytest.raises(TypeError):
        _ = Member.phone == "13900000001"
    with pytest.raises(TypeError):
        Member.id_number.in_(["410102198506150011"])
    with pytest.raises(TypeError):
        Member.residence.like("%路%")
    assert Member.phone.is_(None) is not None  # NULL tests still work


@both_backends
async def test_the_same_id_number_twice_is_refused_by_the_hmac_R_ID_UNIQUE(session):
    # Arrange
    branch, actor = await _branch(session)
    await members.add_member(session, actor, branch, _values(0))

    # Act / Assert: the service's check, then the UNIQUE index itself
    with pytest.raises(InvalidInput):
        await members.add_member(
            session, actor, branch, {**_values(1), "id_number": _values(0)["id_number"]}
        )
    with pytest.raises(IntegrityError):
        async with write_tx(session):
            other = Member(branch_id=branch, **_values(2))
            session.add(other)
            await session.flush()
            other.id_number_hmac = crypto.id_hmac(str(_values(0)["id_number"]))
            await session.flush()


@both_backends
async def test_search_by_the_last_digits_of_an_id_number_still_finds_the_member(session):
    # Arrange
    branch, actor = await _branch(session)
    for i in range(3):
        await members.add_member(session, actor, branch, _values(i))
    number = str(_values(1)["id_number"])

    # Act
    page = await members.list_members(session, actor, branch, query=number[-6:])
    whole = await members.list_members(session, actor, branch, query=number)

    # Assert
    assert [m.id_number for m in page.members] == [number]
    assert [m.id_number for m in whole.members] == [number]


async def _legacy(session, count: int) -> None:  # type: ignore[no-untyped-def]
    """A database from before encryption: the same rows in plaintext, no HMAC."""
    crypto.install(crypto.PlainKeyring())
    ids = await _add(session, count)
    async with write_tx(session):
        session.add(
            FamilyMember(member_id=ids[0], relation="配偶", name="李示例", phone="13900001111")
        )
        session.add(
            MobileRecord(
                member_id=ids[0], registered_on=date(2024, 1, 2), reported_phone="13900002222"
            )
        )
        await session.execute(update(Member).values(id_number_hmac=None))
    crypto.install(crypto.Keyring([KEY_A]))
    session.expunge_all()


async def _all_plain(session) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for table, names in crypto_cli.encrypted_columns().items():
        for name in names:
            for value in await _raw(session, table.c[name]):
                if value is not None and not value.startswith("v1:"):
                    found.append(f"{table.name}.{name}={value}")
    return found


@both_backends
async def test_the_bot_start_encrypts_a_plaintext_database_and_lookups_work(
    session, sessionmaker, engine
):
    # Arrange
    await _legacy(session, 5)
    assert await _all_plain(session)  # the legacy rows are in clear

    # Act
    await crypto_cli.start(Settings(), engine)

    # Assert
    assert await _all_plain(session) == []
    stored = (await session.scalars(select(Member).order_by(Member.id))).all()
    assert [m.id_number for m in stored] == [_values(i)["id_number"] for i in range(5)]
    assert [m.phone for m in stored] == [factories.phone(i) for i in range(5)]
    branch, actor = stored[0].branch_id, Actor(501, (Grant(Role.SECRETARY, stored[0].branch_id),))
    await session.rollback()
    with pytest.raises(InvalidInput):  # the HMAC of a once-plaintext number is there
        await members.add_member(
            session, actor, branch, {**_values(9), "id_number": _values(3)["id_number"]}
        )
    relative = await session.scalar(select(FamilyMember.phone))
    assert relative == "13900001111"


@both_backends
async def test_rotate_from_an_old_key_interrupted_midway_then_resumed(session, sessionmaker):
    # Arrange: 7 members under key A (with their audit events), then B becomes current
    await _add(session, 7)
    async with write_tx(session):
        await members.update_fields(
            session,
            Actor(
                501,
                (
                    Grant(
                        Role.SECRETARY,
                        (await session.scalar(select(Member.branch_id))),
                    ),
                ),
            ),
            (await session.scalar(select(func.min(Member.id)))),
            {"phone": "13900009999"},
        )
    crypto.install(crypto.Keyring([KEY_B, KEY_A]))
    session.expunge_all()
    batches = 0

    async def stop_after_two(table: str, rows: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt  # the operator's ^C between two batches

    # Act: interrupted after two batches of three
    with pytest.raises(KeyboardInterrupt):
        await crypto_cli.reencrypt(sessionmaker, batch=3, after_batch=stop_after_two)
    heads = {v[: crypto.HEADER_CHARS] for v in await _raw(session, Member.id_number)}
    done = await crypto_cli.reencrypt(sessionmaker, batch=3)

    # Assert: half-way both keys were in use; after the second run only B
    assert heads == {f"v1:{crypto.key_id(KEY_B)}:", f"v1:{crypto.key_id(KEY_A)}:"}
    assert done.total > 0
    assert await crypto_cli.stored_key_ids(session.bind) == {crypto.key_id(KEY_B)}
    crypto.install(crypto.Keyring([KEY_B]))  # the old key is no longer needed
    stored = (await session.scalars(select(Member).order_by(Member.id))).all()
    assert [m.id_number for m in stored] == [_values(i)["id_number"] for i in range(7)]
    assert stored[0].phone == "13900009999"
    assert [m.id_number_hmac for m in stored] == [
        crypto.keyring().mac(str(_values(i)["id_number"])) for i in range(7)
    ]
    changes = (
        await session.scalars(select(AuditEvent.new_value).where(AuditEvent.field == "phone"))
    ).all()
    assert changes == ["13900009999"]
    assert (await crypto_cli.reencrypt(sessionmaker)).total == 0  # nothing left to do


@pytest.fixture
async def migrated(tmp_path):  # type: ignore[no-untyped-def]
    """A database made by the migrations, as the commands find one: (url, session)."""
    from storage.db import create_engine, make_sessionmaker
    from storage.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    await upgrade_async(url)
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        yield url, session
    await engine.dispose()


async def test_rotate_key_command_from_plaintext_reports_and_resumes(
    tmp_path, monkeypatch, migrated
):
    db_url, session = migrated
    # Arrange
    await _legacy(session, 4)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    from bot.cli import main

    # Act
    crypto.install(None)  # the command finds its key as a fresh process would
    code = await asyncio.to_thread(main, ["rotate-key"])

    # Assert
    assert code == 0
    crypto.install(crypto.Keyring([KEY_A]))
    assert await _all_plain(session) == []
    assert await crypto_cli.stored_key_ids(session.bind) == {crypto.key_id(KEY_A)}


async def test_rotate_key_new_key_with_a_key_file_keeps_the_old_key_below(
    tmp_path, monkeypatch, migrated
):
    db_url, session = migrated
    # Arrange: the key in DATA_DIR/data.key, not in the environment
    monkeypatch.delenv("PAICHA_DATA_KEY")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    crypto.write_key_file(tmp_path / "data.key", [KEY_A])
    await _add(session, 3)
    from bot.cli import main

    # Act
    crypto.install(None)
    code = await asyncio.to_thread(main, ["rotate-key", "--new-key"])

    # Assert
    assert code == 0
    keys = crypto.read_key_file(tmp_path / "data.key")
    assert len(keys) == 2 and keys[1] == KEY_A
    assert stat.S_IMODE(os.stat(tmp_path / "data.key").st_mode) == 0o600
    assert await crypto_cli.stored_key_ids(session.bind) == {crypto.key_id(keys[0])}


async def test_a_running_process_reads_rows_rotated_to_a_key_added_to_the_file_since(
    tmp_path, session
):
    """`rotate-key --new-key` while the bot runs: the bot meets an unknown key
    id, reads the key file again and goes on (no downtime)."""
    # Arrange
    path = tmp_path / "data.key"
    crypto.write_key_file(path, [KEY_A])
    crypto.install(crypto.Keyring([KEY_A]), path)
    [member_id] = await _add(session, 1)
    session.expunge_all()
    crypto.write_key_file(path, [KEY_B, KEY_A], replace=True)
    token = crypto.Keyring([KEY_B]).encrypt(factories.phone(5), b"member.phone")
    async with write_tx(session):
        await session.execute(update(Member).values({type_coerce(Member.phone, Text): token}))
    session.expunge_all()

    # Act
    stored = await session.get(Member, member_id)

    # Assert
    assert stored is not None and stored.phone == factories.phone(5)
    assert crypto.keyring().current_id == crypto.key_id(KEY_B)


# ---------------------------------------------------------------- the key at start


def _settings(tmp_path, key: bytes | None) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        paicha_data_key=crypto.encode_key(key) if key else "",
    )


async def test_the_first_start_creates_a_private_key_file(tmp_path, engine, caplog):
    # Arrange
    crypto.install(None)
    settings = _settings(tmp_path, None)
    caplog.set_level(logging.WARNING, logger="bot.crypto_cli")

    # Act
    ring = await crypto_cli.resolve(settings, engine)

    # Assert
    path = tmp_path / "data.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [key] = crypto.read_key_file(path)
    assert crypto.key_id(key) == ring.current_id
    assert crypto.key_file() == path
    assert "BACK" in path.read_text()
    # In English: the log masks every Chinese run, and the warning must survive it.
    [warning] = [r.getMessage() for r in caplog.records]
    assert redact(warning) == warning and "BACK IT UP" in warning and str(path) in warning
    again = await crypto_cli.resolve(settings, engine)  # the next start reads it
    assert again.current_id == ring.current_id


async def test_without_the_key_an_encrypted_database_refuses_to_start(tmp_path, engine, session):
    # Arrange
    await _add(session, 1)
    crypto.install(None)

    # Act / Assert
    with pytest.raises(crypto_cli.KeyProblem, match="找不到数据密钥"):
        await crypto_cli.resolve(_settings(tmp_path, None), engine)
    assert not (tmp_path / "data.key").exists()  # no new key over old data


async def test_with_the_wrong_key_the_bot_refuses_to_start(tmp_path, monkeypatch, migrated):
    db_url, session = migrated
    # Arrange
    await _add(session, 1)
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAICHA_DATA_KEY", crypto.encode_key(KEY_B))
    from bot.cli import main

    # Act
    crypto.install(None)
    code = await asyncio.to_thread(main, ["run"])

    # Assert
    assert code == 2
    assert crypto.installed() is None
    with pytest.raises(crypto_cli.KeyProblem, match="另一把密钥"):
        await crypto_cli.resolve(_settings(tmp_path, KEY_B), session.bind)


async def test_a_malformed_key_is_refused_with_the_reason(tmp_path, engine):
    crypto.install(None)
    settings = Settings(_env_file=None, data_dir=tmp_path, paicha_data_key="not-a-key")
    with pytest.raises(crypto_cli.KeyProblem, match="base64"):
        await crypto_cli.resolve(settings, engine)


async def test_plain_sqlite_file_after_start_holds_no_plaintext(tmp_path, engine, session):
    """The raw file, read without the key: no ID number or phone in clear."""
    await _legacy(session, 3)
    await crypto_cli.start(Settings(_env_file=None, data_dir=tmp_path), engine)
    rows = await session.execute(text("SELECT id_number, phone, residence FROM member"))
    for row in rows:
        assert all(v.startswith("v1:") for v in row)
