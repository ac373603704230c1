"""Logs as JSON lines on stdout: no email, IP, key or comment text unless debug logging is on."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# A query string after a path ("/phase?key=…", also inside a quoted request line): where a Coral phase
# URL carries a client key. Kept: the path and the fact that there was a query.
_QUERY = re.compile(r"(/[^\s?'\"]*)\?[^\s'\"]*")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def scrub_query_strings(text: str) -> str:
    """Return text with the query string of every path in it replaced by `?…`."""
    return _QUERY.sub(r"\1?…", text) if "?" in text else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_query_strings(record.getMessage()),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = scrub_query_strings(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    """Send the moderation loggers to stdout as JSON, once."""
    root = logging.getLogger("moderation")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level.upper())
