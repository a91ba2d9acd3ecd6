"""Time as a parameter (STYLE 7): services and jobs ask a Clock, never the OS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    """Local time of the deployment (default Asia/Shanghai)."""

    tz: ZoneInfo

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def today(self) -> date:
        return self.now().date()


@dataclass(frozen=True)
class FixedClock(Clock):
    """A clock for tests and the sandbox: always the same instant."""

    at: datetime = datetime(2026, 11, 25, 9, 0)

    def now(self) -> datetime:
        return self.at.replace(tzinfo=self.tz) if self.at.tzinfo is None else self.at
