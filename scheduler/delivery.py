"""Exactly-once delivery (R-REMIND, issue 14 point 5): claim → send → confirm.

For each outgoing message: one read of the ledger tells which keys are
already sent, dropped or in flight; the rest are rendered in the recipient's
language, claimed (``storage.services.notifications.claim``, its own short
transaction), sent through the one Sender as bulk sends, and confirmed (again
its own transaction). No database session is held across a send.

- 403 (the user blocked the bot): the row is dropped ("blocked") and
  ``User.blocked_at`` set; the providers skip the user until they write again.
- 400 (Telegram refuses the message: chat not found, …): dropped ("refused");
  the same request would be refused again.
- Anything else, after the Sender's own retries (429, 5xx, network): the claim
  stays unconfirmed and a later tick sends it once it is stale.

Sends go from a background task, a few at a time (each recipient's one by
one, in order): the Sender paces them at Telegram's rate and lets replies to
users go first, so a fan-out of thousands never holds up the bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import SUPPORTED
from bot.sender import bulk
from domain.clock import Clock
from storage.services import notifications as ledger
from storage.services.blocking import mark_blocked

log = logging.getLogger(__name__)

CONFIRM_TRIES = 4  # about 3.5 s in all
# Messages in flight at once (each recipient's in order): one by one would
# cap the rate at 1 / (Telegram's round trip + two short writes).
WORKERS = 4

Rendered = tuple[str, InlineKeyboardMarkup | None]


@dataclass(frozen=True)
class Outgoing:
    """One scheduled message: its ledger key, the recipient's language, and how
    to render it (called in an I18n context set to that language)."""

    kind: str  # "digest" | "reminder" | "escalation"
    subject: str
    recipient: int
    due: date
    offset_days: int
    locale: str | None
    render: Callable[[], Rendered]

    @property
    def key(self) -> ledger.Key:
        return (self.kind, self.subject, self.recipient, self.due, self.offset_days)


@dataclass
class Report:
    """What one delivery pass did. ``pending``: messages still neither sent
    nor given up on (a failed send, or another process's claim in flight), so
    a later tick must look again."""

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    settled: int = 0  # already sent or dropped before this pass
    in_flight: int = 0  # claimed by another process (or another pass) just now
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def pending(self) -> int:
        return self.failed + self.in_flight

    def add(self, other: Report) -> None:
        self.sent += other.sent
        self.dropped += other.dropped
        self.failed += other.failed
        self.settled += other.settled
        self.in_flight += other.in_flight
        for kind, n in other.by_kind.items():
            self.by_kind[kind] += n


class Delivery:
    """Claims, sends and confirms; shared by every job of one scheduler."""

    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        i18n: I18n,
        stale: timedelta = ledger.STALE,
        name: str | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.bot = bot
        self.workers = workers
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.i18n = i18n
        self.stale = stale
        self.name = name  # claimed_by: which process holds a claim

    async def deliver(
        self, items: Sequence[Outgoing], *, stopping: Callable[[], bool] = lambda: False
    ) -> Report:
        report = Report()
        if not items:
            return report
        known = await self._known(items)
        # One recipient's messages go in order, by one worker; a few workers
        # keep the Sender's rate when Telegram answers slowly.
        by_recipient: dict[int, list[Outgoing]] = defaultdict(list)
        for item in items:
            by_recipient[item.recipient].append(item)
        queue = list(by_recipient.values())
        queue.reverse()

        async def worker() -> None:
            while queue:
                for item in queue.pop():
                    if stopping():
                        report.failed += 1  # not tried: a later tick sends it
                        continue
                    entry = known.get(item.key)
                    if entry is not None and entry.settled:
                        report.settled += 1
                    elif entry is not None and entry.in_flight(self.clock.now(), self.stale):
                        report.in_flight += 1
                    else:
                        await self._guarded(item, report)

        await asyncio.gather(*(worker() for _ in range(max(1, min(self.workers, len(queue))))))
        return report

    async def _guarded(self, item: Outgoing, report: Report) -> None:
        try:
            await self._one(item, report)
        except Exception as exc:  # the database, mostly: the next tick tries again
            log.error("%s: not delivered (%s)", item.kind, type(exc).__name__)
            report.failed += 1

    async def _known(self, items: Sequence[Outgoing]) -> dict[ledger.Key, ledger.Entry]:
        dues: dict[str, set[date]] = defaultdict(set)
        for item in items:
            dues[item.kind].add(item.due)
        known: dict[ledger.Key, ledger.Entry] = {}
        async with self.sessionmaker() as session:
            for kind, days in dues.items():
                known.update(await ledger.entries(session, kind, days))
        return known

    def _render(self, item: Outgoing) -> Rendered:
        locale = item.locale if item.locale in SUPPORTED else self.i18n.default_locale
        with self.i18n.context(), self.i18n.use_locale(locale):
            return item.render()

    async def _one(self, item: Outgoing, report: Report) -> None:
        try:
            text, markup = self._render(item)
        except Exception as exc:  # a bug in one message must not stop the others
            log.error("%s: rendering failed (%s)", item.kind, type(exc).__name__)
            report.failed += 1
            return
        async with self.sessionmaker() as session:
            row_id = await ledger.claim(
                session,
                kind=item.kind,
                subject=item.subject,
                recipient=item.recipient,
                due=item.due,
                offset_days=item.offset_days,
                now=self.clock.now(),
                by=self.name,
                stale=self.stale,
            )
        if row_id is None:
            report.in_flight += 1  # another scheduler claimed it a moment ago
            return
        try:
            with bulk():
                await self.bot.send_message(item.recipient, text, reply_markup=markup)
        except TelegramForbiddenError:
            async with self.sessionmaker() as session:
                await ledger.drop(session, row_id, "blocked")
                await mark_blocked(session, item.recipient, self.clock.now())
            report.dropped += 1
            return
        except TelegramBadRequest as exc:
            log.warning("%s %d: refused by Telegram, dropped (%s)", item.kind, row_id, exc.message)
            async with self.sessionmaker() as session:
                await ledger.drop(session, row_id, "refused")
            report.dropped += 1
            return
        except Exception as exc:
            # Left claimed: retried once the claim is stale. No member data in
            # the log: the row id finds the rest.
            log.error("%s %d: not sent (%s), retried later", item.kind, row_id, type(exc).__name__)
            report.failed += 1
            return
        await self._confirm(item, row_id)
        report.sent += 1
        report.by_kind[item.kind] += 1

    async def _confirm(self, item: Outgoing, row_id: int) -> None:
        """The message went out: an unconfirmed row would be sent again once
        stale, so a failing write is tried again a few times."""
        for attempt in range(CONFIRM_TRIES):
            try:
                async with self.sessionmaker() as session:
                    await ledger.confirm(session, row_id, self.clock.now())
                return
            except Exception as exc:
                if attempt + 1 == CONFIRM_TRIES:
                    log.error(
                        "%s %d: sent but not confirmed (%s): may go again once stale",
                        item.kind,
                        row_id,
                        type(exc).__name__,
                    )
                    return
                await asyncio.sleep(0.5 * 2**attempt)
