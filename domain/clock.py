"""Time as a parameter (STYLE 7): services and jobs ask a Clock, never the OS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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


@dataclass(frozen=True, eq=False)
class ShiftedClock(Clock):
    """A clock that can be moved (the sandbox's ``/clock +7d``, the scheduler's
    tests): ``base``'s time (real time when None) plus an offset.

        clock = ShiftedClock(ZoneInfo("Asia/Shanghai"))
        clock.shift(timedelta(days=7))

    Frozen like every Clock; the offset lives in a one-element list so that
    whoever holds the clock sees it move."""

    base: Clock | None = None
    _offset: list[timedelta] = field(default_factory=lambda: [timedelta(0)], repr=False)

    @property
    def offset(self) -> timedelta:
        return self._offset[0]

    def shift(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta`` (forwards or back); returns the new now."""
        self._offset[0] += delta
        return self.now()

    def set(self, at: datetime) -> None:
        """Move the clock so that it shows ``at`` now (naive: local time)."""
        target = at.replace(tzinfo=self.tz) if at.tzinfo is None else at
        self._offset[0] += target - self.now()

    def now(self) -> datetime:
        start = self.base.now() if self.base is not None else datetime.now(self.tz)
        return (start + self._offset[0]).astimezone(self.tz)
