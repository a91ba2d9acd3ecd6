"""When scheduled messages may go out (R-REMIND, issue 14): the digest from
08:30, reminders and escalations from 09:00 local time, nothing in quiet hours
(21:00–08:00 by default, across midnight). What falls in quiet hours waits for
the morning.

Pure: the caller passes the local time (``Clock.now()`` in the deployment's
timezone); the scheduler asks ``SendHours.due(now)`` on every tick, so a tick
after downtime catches up at once and tests move time instead of sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time


def is_quiet(at: time, start: time, end: time) -> bool:
    """Whether ``at`` is inside quiet hours [start, end). ``start > end`` spans
    midnight (21:00–08:00); ``start == end`` means no quiet hours at all."""
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


@dataclass(frozen=True)
class Due:
    """What a tick at one instant may send, for which local day."""

    day: date
    digest: bool
    reminders: bool  # reminders and escalations


@dataclass(frozen=True)
class SendHours:
    digest_at: time = time(8, 30)
    remind_at: time = time(9, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    def quiet(self, at: time) -> bool:
        return is_quiet(at, self.quiet_start, self.quiet_end)

    def opens(self, at: time) -> time:
        """The time of day a message set for ``at`` really goes: ``at``
        itself, or the end of quiet hours when ``at`` falls inside them
        (a digest set for 07:00 with quiet hours until 08:00 goes at 08:00)."""
        return self.quiet_end if self.quiet(at) else at

    def due(self, now: datetime) -> Due:
        """``now`` is local time (naive or aware, read as it shows on the wall)."""
        wall = now.time().replace(tzinfo=None)
        if self.quiet(wall):
            return Due(now.date(), digest=False, reminders=False)
        return Due(
            now.date(),
            digest=wall >= self.opens(self.digest_at),
            reminders=wall >= self.opens(self.remind_at),
        )
