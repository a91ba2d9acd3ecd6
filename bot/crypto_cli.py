"""The data key at start, and `paicha rotate-key` (数据密钥与轮换, issue 18 point 1).

Where the key comes from (``resolve``): PAICHA_DATA_KEY (+ PAICHA_DATA_OLD_KEYS),
else DATA_DIR/data.key. With neither, a new key file is created (mode 0600) —
but only when the database holds no ciphertext: a database encrypted under a
key that is gone must not be written under a new one, so then the process
refuses to start and says so (``KeyProblem``). It refuses too when the
database holds values under a key the ring does not have (a wrong key): it
never shows ciphertext instead of data.

At start (``start``, from ``bot.runner.assemble``) the bot then encrypts the
rows still in plaintext (a database from before encryption), in batches, each
its own write transaction: upgrading is a restart, nothing to run by hand.
`paicha rotate-key` re-encrypts every value not under the current key (old
key or plaintext) the same way, safe while the bot runs; interrupted, it
resumes where it stopped when run again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    and_,
    bindparam,
    func,
    inspect,
    not_,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage import crypto
from storage.crypto import EncryptedText, Keyring
from storage.db import create_engine, make_sessionmaker, write_tx
from storage.models import Base, Member

log = logging.getLogger(__name__)

KEY_FILE_NAME = "data.key"
BATCH = 500

NO_KEY = """数据库中的个人信息（身份证号、电话、住址）已经加密，但找不到数据密钥，机器人不能启动。
请设置 PAICHA_DATA_KEY，或把备份的密钥文件放回 {path}（权限 600）。
(The database holds encrypted personal data but no data key was found: set
PAICHA_DATA_KEY or restore the key file {path}. The bot will not start without it.)"""

WRONG_KEY = """数据库中的个人信息是用另一把密钥加密的（密钥编号 {stored}），当前的密钥（编号 {ours}）打不开，机器人不能启动。
请使用加密时的密钥（PAICHA_DATA_KEY 或 {path}）；轮换密钥时，旧密钥放在 PAICHA_DATA_OLD_KEYS 或密钥文件的后几行。
(The database holds values under key {stored}, which is not among the keys given ({ours}):
use the key it was encrypted with. The bot will not start rather than show ciphertext.)"""

BAD_KEY = """数据密钥格式不对（{problem}）：应为 32 字节的 base64 文本，例如用
  python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())"
生成。(The data key must be base64 of 32 bytes: {problem}.)"""

# Logged, so in English: the log masks every Chinese run (bot/logging_setup.py).
BAD_MODE = "The key file {path} had mode {mode}, readable by other users: set to 600."

CREATED = (
    "Created the data key {path} (mode 600). BACK IT UP NOW, apart from the database: "
    "without it the encrypted ID numbers, phones and addresses cannot be read."
)


class KeyProblem(Exception):
    """The process must not start: the message says why and what to do."""


def key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE_NAME


def _secret(value: Any) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _keys_from_settings(settings: Settings) -> list[bytes] | None:
    current = _secret(settings.paicha_data_key)
    if not current:
        return None
    old = _secret(settings.paicha_data_old_keys).replace(",", " ").split()
    try:
        return [crypto.decode_key(k) for k in (current, *old)]
    except ValueError as problem:
        raise KeyProblem(BAD_KEY.format(problem=problem)) from None


def _keys_from_file(path: Path) -> list[bytes] | None:
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning(BAD_MODE.format(path=path, mode=oct(mode)))
    try:
        return crypto.read_key_file(path)
    except ValueError as problem:
        raise KeyProblem(BAD_KEY.format(problem=problem)) from None


# ---------------------------------------------------------------- what is stored


def encrypted_columns() -> dict[Table, list[str]]:
    """Every encrypted column, by table (from the models: nothing to keep in step)."""
    found: dict[Table, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, EncryptedText)]
        if names:
            found[table] = names
    return found


def _raw(table: Table, name: str) -> Any:
    """The stored text itself, not decrypted (and comparable in SQL)."""
    return type_coerce(table.c[name], Text)


async def stored_key_ids(engine: AsyncEngine) -> set[str]:
    """The ids of the keys that values in the database are encrypted under."""
    ids: set[str] = set()
    async with engine.connect() as conn:
        present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        for table, names in encrypted_columns().items():
            if table.name not in present:  # a database not created or migrated yet
                continue
            for name in names:
                raw = _raw(table, name)
                head = func.substr(raw, 1, crypto.HEADER_CHARS)
                query = select(head).where(raw.like(crypto.PREFIX + "%")).distinct()
                for (value,) in await conn.execute(query):
                    ids.add(value[len(crypto.PREFIX) : -1])
    return ids


async def resolve(settings: Settings, engine: AsyncEngine) -> Keyring:
    """The keyring this process must use, installed; or KeyProblem."""
    path = key_path(settings)
    keys = _keys_from_settings(settings)
    source: Path | None = None
    if keys is None:
        keys, source = _keys_from_file(path), path
    stored = await stored_key_ids(engine)
    if keys is None:
        if stored:
            raise KeyProblem(NO_KEY.format(path=path))
        keys = [crypto.new_key()]
        crypto.write_key_file(path, keys)
        log.warning(CREATED.format(path=path))
    ring = Keyring(keys)
    unknown = stored - set(ring.ids)
    if unknown:
        raise KeyProblem(
            WRONG_KEY.format(stored=", ".join(sorted(unknown)), ours=", ".join(ring.ids), path=path)
        )
    crypto.install(ring, source)
    return ring


async def check(engine: AsyncEngine) -> None:
    """The installed ring opens every value in the database, or KeyProblem."""
    ring = crypto.keyring()
    unknown = await stored_key_ids(engine) - set(ring.ids)
    if unknown:
        raise KeyProblem(
            WRONG_KEY.format(
                stored=", ".join(sorted(unknown)), ours=", ".join(ring.ids), path="data.key"
            )
        )


# ---------------------------------------------------------------- re-encryption


@dataclass
class Rotation:
    """Values re-encrypted, by table."""

    values: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.values.values())


def _pending(table: Table, names: list[str], current: str, legacy_only: bool) -> Any:
    """Rows with a value to (re-)encrypt: plaintext, or (unless ``legacy_only``)
    under another key; and a member whose ID number has no HMAC yet."""
    wanted = crypto.PREFIX if legacy_only else f"{crypto.PREFIX}{current}:"
    clauses = [
        and_(_raw(table, n).is_not(None), not_(_raw(table, n).like(wanted + "%"))) for n in names
    ]
    if table is Member.__table__:
        clauses.append(and_(table.c.id_number.is_not(None), table.c.id_number_hmac.is_(None)))
    return or_(*clauses)


async def reencrypt(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    legacy_only: bool = False,
    batch: int = BATCH,
    after_batch: Callable[[str, int], Awaitable[None]] | None = None,
) -> Rotation:
    """Every value not under the current key (``legacy_only``: every plaintext
    value) encrypted under it, ``batch`` rows per write transaction. The rows
    are read inside the transaction (SQLite's writer lock; FOR UPDATE on
    PostgreSQL), so a change the bot makes meanwhile is never overwritten."""
    ring = crypto.keyring()
    if isinstance(ring, crypto.PlainKeyring):
        raise KeyProblem("encryption is off in this process: nothing to re-encrypt with")
    current = ring.current_id
    done = Rotation()
    for table, names in encrypted_columns().items():
        (key,) = table.primary_key.columns
        is_member = table is Member.__table__
        pending = _pending(table, names, current, legacy_only)
        raws = [_raw(table, n).label(n) for n in names]
        if is_member:
            raws.append(table.c.id_number_hmac)
        statement = update(table).where(key == bindparam("_key"))
        last: Any = None
        while True:
            async with sessionmaker() as session, write_tx(session):
                query = select(key, *raws).where(pending).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                rows = (await session.execute(query.with_for_update())).all()
                if not rows:
                    break
                shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
                for row in rows:
                    values = _reencrypted(ring, table, names, row._mapping, legacy_only)
                    shape = tuple(sorted(values))
                    shapes.setdefault(shape, []).append({"_key": row[0], **values})
                    done.values[table.name] = done.values.get(table.name, 0) + sum(
                        1 for n in values if n != "id_number_hmac"
                    )
                for shape, params in shapes.items():
                    if shape:
                        conn = await session.connection()
                        await conn.execute(
                            statement.values({n: bindparam(n, type_=Text) for n in shape}),
                            params,
                        )
                last = rows[-1][0]
                done.rows[table.name] = done.rows.get(table.name, 0) + len(rows)
            if after_batch is not None:
                await after_batch(table.name, len(rows))
    return done


def _reencrypted(
    ring: Keyring, table: Table, names: list[str], row: Any, legacy_only: bool
) -> dict[str, str]:
    current = f"{crypto.PREFIX}{ring.current_id}:"
    changes: dict[str, str] = {}
    for name in names:
        stored = row[name]
        if stored is None or stored.startswith(current):
            continue
        if legacy_only and stored.startswith(crypto.PREFIX):
            continue  # under an older key: rotate-key's work
        aad = _aad(table, name)
        changes[name] = ring.encrypt(ring.decrypt(stored, aad), aad)
    if table is Member.__table__ and row["id_number"] is not None:
        mac = ring.mac(ring.decrypt(row["id_number"], _aad(table, "id_number")))
        if row["id_number_hmac"] != mac:
            changes["id_number_hmac"] = mac
    return changes


def _aad(table: Table, name: str) -> bytes:
    column_type = table.c[name].type
    assert isinstance(column_type, EncryptedText)
    return column_type.aad


# ---------------------------------------------------------------- at start


async def start(settings: Settings, engine: AsyncEngine) -> None:
    """The bot's start: the keyring (unless this process installed one), the
    check that it opens the database, then plaintext rows encrypted."""
    if crypto.installed() is None:
        await resolve(settings, engine)
    else:
        await check(engine)
    done = await reencrypt(make_sessionmaker(engine), legacy_only=True)
    if done.total:
        log.info("Encrypted %d personal values left in plaintext (%s)", done.total, done.values)


def install_for_cli(settings: Settings) -> None:
    """For commands that open the database (export, admin, migrate-data …):
    the keyring, or KeyProblem. No re-encryption: that is the bot's start or
    `paicha rotate-key`."""

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await resolve(settings, engine)
        except (OSError, DBAPIError):
            # The database cannot be reached: the command says so in its own
            # words. The keys given are installed unchecked; none is created.
            source: Path | None = None
            keys = _keys_from_settings(settings)
            if keys is None:
                source = key_path(settings)
                keys = _keys_from_file(source)
            if keys:
                crypto.install(Keyring(keys), source)
        finally:
            await engine.dispose()

    asyncio.run(run())


# ---------------------------------------------------------------- paicha rotate-key


def add_rotate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rotate = sub.add_parser(
        "rotate-key",
        help="重新加密个人信息：明文或旧密钥加密的数据改用当前密钥（运行中的机器人不必停）",
    )
    rotate.add_argument(
        "--new-key",
        action="store_true",
        help="先生成新密钥（密钥文件的第一行，旧密钥留在后面），再重新加密",
    )
    rotate.add_argument("--batch", type=int, default=BATCH, help="每批行数（每批一个事务）")


async def run_rotate(settings: Settings, args: argparse.Namespace) -> tuple[int, str]:
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)  # the HMAC column must be there
    engine = create_engine(settings.database_url)
    try:
        try:
            ring = await resolve(settings, engine)
        except KeyProblem as problem:
            return 2, str(problem)
        if args.new_key:
            if crypto.key_file() is None:
                fresh = crypto.encode_key(crypto.new_key())
                return 2, (
                    "密钥来自 PAICHA_DATA_KEY：请把新密钥设为 PAICHA_DATA_KEY，旧密钥移到 "
                    "PAICHA_DATA_OLD_KEYS，重启机器人后再运行 paicha rotate-key。新密钥：\n"
                    f"{fresh}\n(The key comes from the environment: set the new key above as "
                    "PAICHA_DATA_KEY, the old one as PAICHA_DATA_OLD_KEYS, restart, then run "
                    "paicha rotate-key.)"
                )
            path = crypto.key_file()
            assert path is not None
            keys = [crypto.new_key(), *crypto.read_key_file(path)]
            crypto.write_key_file(path, keys, replace=True)
            ring = Keyring(keys)
            crypto.install(ring, path)
        done = await reencrypt(make_sessionmaker(engine), batch=max(1, args.batch))
    finally:
        await engine.dispose()
    lines = [f"当前密钥编号 {ring.current_id}。重新加密了 {done.total} 个值。"]
    lines += [f"  {table}: {count}" for table, count in sorted(done.values.items())]
    old = [k for k in ring.ids if k != ring.current_id]
    if old:
        lines.append(
            "所有数据都已使用当前密钥；确认备份了新密钥后，旧密钥（编号 "
            + ", ".join(old)
            + "）可以从 PAICHA_DATA_OLD_KEYS 或密钥文件中删除。"
        )
    return 0, "\n".join(lines)
