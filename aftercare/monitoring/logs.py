"""Log records that say which request (or job) they belong to; JSON lines on demand.

``AFTERCARE_LOG_FORMAT=json`` makes every line one JSON object, for log shippers (Loki,
Elasticsearch, journald with a JSON parser); the default is readable text. Both carry the
request id, so a customer's complaint ("it failed at 10:42, reference 4f1c…") leads to
every line of that request, and of the jobs it started.

This module is loaded by ``LOGGING`` before the apps are ready: it must not import models.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from aftercare.monitoring import context

# Record attributes the filter sets (and the access log line fills in itself).
FIELDS = ("request_id", "user_id", "path", "method", "status", "duration_ms", "task")


class RequestContextFilter(logging.Filter):
    """Copy the current request's (or job's) id, user, path and method onto each record.

    Attributes already on a record (``extra=`` of the access log line) win.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = context.current()
        values = {
            "request_id": ctx.request_id if ctx else "",
            "user_id": ctx.user_id if ctx else None,
            "path": ctx.path if ctx else "",
            "method": ctx.method if ctx else "",
            "task": ctx.task if ctx else "",
            "status": None,
            "duration_ms": None,
        }
        for name, value in values.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if not record.request_id:
            record.request_id = "-"  # type: ignore[attr-defined]
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request
    context, and the exception with its traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value not in (None, "", "-"):
                entry[name] = value
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines with the request id; safe for records that did not pass the filter."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"  # type: ignore[attr-defined]
        return super().format(record)


def logging_config(base: dict, *, fmt: str) -> dict:
    """``base`` (the project's LOGGING) with our filter and formatter on its console handler."""
    config = {**base}
    config["filters"] = {
        **base.get("filters", {}),
        "request_context": {"()": "aftercare.monitoring.logs.RequestContextFilter"},
    }
    config["formatters"] = {
        **base.get("formatters", {}),
        "aftercare_json": {"()": "aftercare.monitoring.logs.JsonFormatter"},
        "aftercare_text": {"()": "aftercare.monitoring.logs.TextFormatter"},
    }
    handlers = {name: {**handler} for name, handler in base.get("handlers", {}).items()}
    console = handlers.setdefault("console", {"class": "logging.StreamHandler"})
    console["formatter"] = "aftercare_json" if fmt == "json" else "aftercare_text"
    console["filters"] = [*console.get("filters", []), "request_context"]
    config["handlers"] = handlers
    return config
