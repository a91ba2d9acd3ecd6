"""The scheduler (issue 14): reminders, escalations and the daily digest,
each sent exactly once (R-REMIND). See ``scheduler.app``."""

from scheduler.app import SchedulerApp, TickReport, build_scheduler
from scheduler.delivery import Outgoing, Report

__all__ = ["Outgoing", "Report", "SchedulerApp", "TickReport", "build_scheduler"]
