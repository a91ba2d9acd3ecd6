"""/deadlines — what is due, by whom, and 已报送 (R-REMIND, issue 14).

The reminders the scheduler sends are rendered here too, so a reminder and
/deadlines show an item the same way."""

from __future__ import annotations

from handlers.routes import Routes

router = Routes("deadlines")
