"""Logs that cannot leak (日志脱敏, issue 18 point 3; R-CONFIDENTIAL).

Two pieces:

- ``RedactingFilter``: a ``logging.Filter`` that rewrites each record's
  message and arguments (and the text of an exception or stack attached to
  it) with ID numbers (18 characters with an X check character, or 15
  digits) and mobile numbers masked as lists mask them, and **every run of
  Chinese characters** replaced by ＊.

  Why all Chinese text and not names after known keys: this project logs in
  English (ids, types, counts), so any Han character in a log line is data
  that came from a person — a member's name, an address, a work unit, a
  message's text inside a library's repr. A key-based rule would have to know
  every place a name can appear (aiogram's update reprs, an exception's
  message, a driver's parameters); masking every CJK run needs to know none,
  and loses nothing an operator needs. Latin-script names are not masked: the
  register's names are Chinese.

- ``install``: the filter on the process's log handler, as a structured
  ``key=value`` line (logfmt: ``ts=… level=… logger=… msg="…"`` plus any
  ``extra={...}`` fields), and as the log record factory, so every handler
  (pytest's caplog, a journald or syslog handler added later) receives the
  masked record and nothing is left to the order of handlers.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from domain.redact import mask_cjk, mask_numbers

HANDLER_NAME = "paicha"

# Attributes every LogRecord has: the rest are ``extra`` fields.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "paicha_redacted"}
)


def redact(text: str) -> str:
    """Numbers first (an ID number's digits are not Han), then every Han run."""
    return mask_cjk(mask_numbers(text))


class RedactingFilter(logging.Filter):
    """Masks the record in place and lets it through (never drops a line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # ``extra`` fields arrive after the record factory ran: always looked at.
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        if getattr(record, "paicha_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.paicha_redacted = True
        return True


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\n\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class KeyValueFormatter(logging.Formatter):
    """One line per record: ``ts= level= logger= msg=`` then the extra fields
    (``log.info("sent", extra={"chat": 5, "ms": 12})``) and, last, ``exc=``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={stamp}",
            f"level={record.levelname}",
            f"logger={_quote(record.name)}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts += [
            f"{key}={_quote(value)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        ]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts.append(f"exc={_quote(record.exc_text)}")
        return " ".join(parts)


_FILTER = RedactingFilter()
_base_factory: Any = None


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _base_factory(*args, **kwargs)
    _FILTER.filter(record)
    return record


def install_record_factory() -> None:
    """Every record is masked as it is made, whichever handler gets it. Idempotent."""
    global _base_factory
    current = logging.getLogRecordFactory()
    if current is _redacting_factory:
        return
    _base_factory = current
    logging.setLogRecordFactory(_redacting_factory)


def install(handler: logging.Handler, *, structured: bool = True) -> logging.Handler:
    """The process's handler, masked and (by default) in key=value lines."""
    install_record_factory()
    handler.addFilter(_FILTER)
    if structured:
        handler.setFormatter(KeyValueFormatter())
    handler.set_name(HANDLER_NAME)
    return handler
