"""Shared fixtures: a fresh database per test, on SQLite always and on
PostgreSQL when PAICHA_TEST_PG_URL names a server (``.ci/run`` starts one)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import crypto
from storage.db import create_engine, make_sessionmaker
from storage.models import Base

# Personal data is encrypted at rest (storage/crypto.py): every test runs
# with this fixed, invented data key, in this process and in any it starts
# (the CLI in a subprocess reads PAICHA_DATA_KEY).
TEST_DATA_KEY = (
    "cGFpY2hhLXRlc3Qta2V5LW5vdC1mb3ItcmVhbC11c2U="  # b"paicha-test-key-not-for-real-use"
)
os.environ["PAICHA_DATA_KEY"] = TEST_DATA_KEY
crypto.install(crypto.Keyring([crypto.decode_key(TEST_DATA_KEY)]))


@pytest.fixture(autouse=True)
def _test_keyring() -> Iterator[None]:
    """A test that changes the keyring gets the test one back after it."""
    yield
    crypto.install(crypto.Keyring([crypto.decode_key(TEST_DATA_KEY)]))


PG_URL = os.environ.get("PAICHA_TEST_PG_URL")
BACKENDS = ["sqlite", "postgres"]


def _require_pg() -> str:
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL: PAICHA_TEST_PG_URL is not set")
        pytest.skip("PAICHA_TEST_PG_URL not set: PostgreSQL tests skipped on this machine")
    return PG_URL


REDIS_URL = os.environ.get("PAICHA_TEST_REDIS_URL")


@pytest.fixture
def redis_url() -> str:
    """The tests' Redis (``.ci/run`` starts one): skipped without it here, a
    failure on CI."""
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Redis: PAICHA_TEST_REDIS_URL is not set")
        pytest.skip("PAICHA_TEST_REDIS_URL not set: the Redis tests are skipped on this machine")
    return REDIS_URL


@contextlib.asynccontextmanager
async def redis_scratch(url: str) -> AsyncIterator[tuple[Redis, str]]:
    """A client and a key prefix of this test's own, whose keys go after it."""
    client = Redis.from_url(url)
    prefix = f"paicha-test-{uuid.uuid4().hex}"
    try:
        yield client, prefix
    finally:
        async for name in client.scan_iter(f"{prefix}:*"):
            await client.delete(name)
        await client.aclose()


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[tuple[Redis, str]]:
    async with redis_scratch(redis_url) as scratch:
        yield scratch


async def _fresh_pg(admin_url: str) -> tuple[str, str]:
    """A new empty database on the test server; returns (url, name)."""
    name = f"paicha_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


async def _drop_pg(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'paicha.sqlite3'}"
        return
    admin_url = _require_pg()
    url, name = await _fresh_pg(admin_url)
    try:
        yield url
    finally:
        await _drop_pg(admin_url, name)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


def both_backends(func):  # type: ignore[no-untyped-def]
    """Run a storage test on SQLite and on PostgreSQL (the same test, two engines)."""
    return pytest.mark.parametrize("db_url", BACKENDS, indirect=True)(func)
