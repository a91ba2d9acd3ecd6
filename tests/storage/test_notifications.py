"""The exactly-once ledger (R-REMIND, issue 14 point 5) on SQLite and
PostgreSQL: a claim is exclusive, a stale unconfirmed claim is claimed again
once, a confirmed or dropped one never; two schedulers on one database ticking
at the same moment send every message exactly once. Time is a parameter."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.settings import Settings
from domain.clock import FixedClock, ShiftedClock
from scheduler import Outgoing, SchedulerApp
from scheduler.jobs import Job, digest_since
from storage.db import create_engine, make_sessionmaker
from storage.models import Notification
from storage.services import notifications as ledger
from tests.conftest import both_backends

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DUE = date(2026, 11, 28)
KEY = {"kind": "reminder", "subject": "stage:1:org:5", "recipient": 101, "due": DUE}


async def _claim(sessionmaker, now=T0, by="a", **key):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await ledger.claim(s, **{**KEY, **key}, offset_days=3, now=now, by=by)


@both_backends
async def test_two_concurrent_claims_of_one_key_have_one_winner_R_REMIND(db_url, engine):
    other = create_engine(db_url)  # a second process's engine
    try:
        first, second = make_sessionmaker(engine), make_sessionmaker(other)
        results = await asyncio.gather(
            *(_claim(first if i % 2 else second, by=f"p{i}") for i in range(8))
        )
    finally:
        await other.dispose()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    async with first() as s:
        rows = (await s.scalars(select(Notification))).all()
    assert len(rows) == 1 and rows[0].tries == 1 and rows[0].sent_at is None


@both_backends
async def test_a_stale_unconfirmed_claim_is_claimed_again_once_R_REMIND(db_url, engine):
    sm = make_sessionmaker(engine)
    row_id = await _claim(sm, by="dead")
    assert row_id is not None
    # Within the stale limit (5 minutes) nobody may take it over.
    assert await _claim(sm, now=T0 + timedelta(minutes=4, seconds=59), by="b") is None
    # After it, two schedulers try at once: one gets the same row back.
    later = T0 + timedelta(minutes=5, seconds=1)
    other = create_engine(db_url)
    try:
        results = await asyncio.gather(
            _claim(sm, now=later, by="b"), _claim(make_sessionmaker(other), now=later, by="c")
        )
    finally:
        await other.dispose()
    assert sorted(results, key=lambda r: r is None) == [row_id, None]
    async with sm() as s:
        row = await s.scalar(select(Notification))
    assert row.tries == 2 and row.claimed_by in ("b", "c")
    # The fresh claim is not taken again a moment later.
    assert await _claim(sm, now=later + timedelta(seconds=1), by="d") is None


@both_backends
async def test_a_confirmed_or_dropped_message_is_never_claimed_again_R_REMIND(session):
    sent = await ledger.claim(session, **KEY, offset_days=3, now=T0)
    await ledger.confirm(session, sent, T0 + timedelta(seconds=1))
    blocked = await ledger.claim(session, **KEY, offset_days=1, now=T0)
    await ledger.drop(session, blocked, "blocked")
    for days in (0, 1, 30):
        later = T0 + timedelta(days=days, minutes=10)
        assert await ledger.claim(session, **KEY, offset_days=3, now=later) is None
        assert await ledger.claim(session, **KEY, offset_days=1, now=later) is None
    found = await ledger.entries(session, "reminder", [DUE])
    assert found[("reminder", KEY["subject"], 101, DUE, 3)].sent_at == T0 + timedelta(seconds=1)
    assert found[("reminder", KEY["subject"], 101, DUE, 1)].dropped == "blocked"
    assert all(e.settled for e in found.values())


@both_backends
async def test_other_offsets_and_recipients_are_other_messages_R_REMIND(session):
    ids = {
        await ledger.claim(session, **{**KEY, "recipient": r}, offset_days=o, now=T0)
        for r in (101, 102)
        for o in (7, 3, 1, 0)
    }
    assert None not in ids and len(ids) == 8


@both_backends
async def test_last_sent_is_the_latest_confirmed_day(session):
    for day, confirmed in ((date(2026, 11, 20), True), (date(2026, 11, 23), True)):
        row = await ledger.claim(
            session, kind="digest", subject="branch:5", recipient=101, due=day, now=T0
        )
        if confirmed:
            await ledger.confirm(session, row, T0)
    await ledger.claim(
        session, kind="digest", subject="branch:5", recipient=101, due=date(2026, 11, 24), now=T0
    )  # claimed, never confirmed: does not count
    await ledger.claim(
        session, kind="digest", subject="committee:2", recipient=201, due=date(2026, 11, 10), now=T0
    )
    assert await ledger.last_sent(session, "digest", 101) == date(2026, 11, 23)
    assert await ledger.last_sent(session, "digest", 101, "branch:6") is None
    assert await ledger.last_sent(session, "digest", 201) is None
    assert await ledger.last_sent_by_recipient(session, "digest", before=date(2026, 11, 23)) == {
        101: date(2026, 11, 20)
    }
    since, default = await digest_since(session, date(2026, 11, 25))
    assert since == {101: date(2026, 11, 23)}
    assert default == date(2026, 11, 23)  # the last day anybody got one (downtime since)
    since, default = await digest_since(session, date(2027, 3, 1))
    assert since == {} and default == date(2027, 2, 28)  # too long ago: yesterday


# ---- two schedulers on one database ----------------------------------------------------------


class FakeBot:
    """Records sends; yields to the loop so two schedulers interleave."""

    def __init__(self, log: list[tuple[int, str]]) -> None:
        self.log = log

    async def send_message(self, chat_id, text, reply_markup=None, **_kw):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        self.log.append((chat_id, text))


def fake_items(today: date, n: int = 40) -> list[Outgoing]:
    return [
        Outgoing(
            "reminder",
            f"stage:{i % 4}:org:{i}",
            1000 + i,
            today + timedelta(days=3),
            3,
            "zh",
            lambda i=i: (f"提醒{i}", None),
        )
        for i in range(n)
    ]


def fake_job(n: int = 40) -> Job:
    async def collect(session, today):  # type: ignore[no-untyped-def]
        return fake_items(today, n)

    return Job("fake", "reminder", collect)


def scheduler(sessionmaker, clock, log, name):  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return SchedulerApp(
        bot=FakeBot(log),
        sessionmaker=sessionmaker,
        clock=clock,
        settings=settings,
        jobs=[fake_job()],
        name=name,
    )


@both_backends
async def test_two_schedulers_ticking_at_once_send_each_message_exactly_once_R_REMIND(
    db_url, engine
):
    sent: list[tuple[int, str]] = []
    clock = ShiftedClock(SH, base=FixedClock(SH, at=datetime(2026, 11, 25, 9, 0)))
    other = create_engine(db_url)
    try:
        a = scheduler(make_sessionmaker(engine), clock, sent, "a")
        b = scheduler(make_sessionmaker(other), clock, sent, "b")
        first = await asyncio.gather(a.tick(), b.tick())
        assert sum(t.sent for t in first) == 40
        # Minutes later (and past the stale limit) both tick again: nothing new.
        clock.shift(timedelta(minutes=7))
        again = await asyncio.gather(a.tick(), b.tick())
    finally:
        await other.dispose()
    assert sum(t.sent for t in again) == 0
    counts = Counter(chat for chat, _text in sent)
    assert len(counts) == 40 and set(counts.values()) == {1}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_tick_in_quiet_hours_sends_nothing_R_REMIND(sessionmaker):
    sent: list[tuple[int, str]] = []
    clock = ShiftedClock(SH, base=FixedClock(SH, at=datetime(2026, 11, 25, 21, 30)))
    app = scheduler(sessionmaker, clock, sent, "a")
    assert (await app.tick()).ran == []
    clock.shift(timedelta(hours=10, minutes=30))  # 08:00: quiet over, 09:00 not yet
    assert (await app.tick()).ran == []
    clock.shift(timedelta(hours=1))
    assert (await app.tick()).sent == 40
    assert len(sent) == 40


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_each_message_is_rendered_in_its_recipients_language(sessionmaker):
    from aiogram.utils.i18n import I18n

    seen: dict[int, str] = {}

    def render(uid: int):  # type: ignore[no-untyped-def]
        def inner():  # type: ignore[no-untyped-def]
            seen[uid] = I18n.get_current().current_locale
            return "x", None

        return inner

    async def collect(session, today):  # type: ignore[no-untyped-def]
        return [
            Outgoing("digest", f"branch:{uid}", uid, today, 0, locale, render(uid))
            for uid, locale in ((1, "en"), (2, "zh"), (3, None), (4, "fr"))
        ]

    app = SchedulerApp(
        bot=FakeBot([]),
        sessionmaker=sessionmaker,
        clock=FixedClock(SH, at=datetime(2026, 11, 25, 9, 0)),
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        jobs=[Job("fake", "digest", collect, daily=True)],
    )
    assert (await app.tick()).sent == 4
    assert seen == {1: "en", 2: "zh", 3: "zh", 4: "zh"}  # unknown: the default


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_digest_scan_runs_once_a_day_unless_something_is_pending_R_REMIND(
    sessionmaker,
):
    """The digest's scan is the heavy query: once a day's digests are all
    sent, later ticks that day do not scan again; a failed send keeps it
    looking until the message is out."""
    scans: list[date] = []
    log: list[tuple[int, str]] = []

    class Flaky(FakeBot):
        fail = True

        async def send_message(self, chat_id, text, reply_markup=None, **_kw):  # type: ignore[no-untyped-def]
            if self.fail:
                self.fail = False
                raise RuntimeError("network down")
            await super().send_message(chat_id, text)

    async def collect(session, today):  # type: ignore[no-untyped-def]
        scans.append(today)
        return [Outgoing("digest", "branch:1", 7, today, 0, "zh", lambda: ("每日提醒", None))]

    clock = ShiftedClock(SH, base=FixedClock(SH, at=datetime(2026, 11, 25, 8, 30)))
    app = SchedulerApp(
        bot=Flaky(log),
        sessionmaker=sessionmaker,
        clock=clock,
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        jobs=[Job("digest", "digest", collect, daily=True)],
    )
    assert (await app.tick()).report.failed == 1
    clock.shift(timedelta(minutes=1))
    assert (await app.tick()).report.in_flight == 1  # its own claim, not yet stale
    clock.shift(timedelta(minutes=5))
    assert (await app.tick()).sent == 1  # stale: claimed again and sent
    for _ in range(3):
        clock.shift(timedelta(hours=1))
        assert (await app.tick()).ran == []
    assert len(scans) == 3 and log == [(7, "每日提醒")]
    clock.shift(timedelta(days=1))
    await app.tick()
    assert scans[-1] == date(2026, 11, 26)
