"""gunicorn's worker and logger for `moderation serve`: bounded request reads, JSON errors, clean logs."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import RequestTimeout

from moderation.config import Settings
from moderation.errors import ERROR_CODES
from moderation.ops.logs import scrub_query_strings

DEFAULT_READ_SECONDS = Settings.request_read_seconds


class ReadTimedOut(NoMoreData, RequestTimeout):
    """The client did not send its request in time.

    While headers are read, gunicorn takes it (as NoMoreData) for a client that went away and closes
    the connection quietly; while the application reads the body, Flask renders it (as RequestTimeout)
    as a 408 in our JSON shape.
    """

    code = 408
    description = "The request was not sent completely in time."

    def __init__(self) -> None:
        NoMoreData.__init__(self)
        RequestTimeout.__init__(self)

    def __str__(self) -> str:
        return self.description


class DeadlineSocket:
    """A client socket whose reads share one deadline per request, set at the request's first byte.

    gunicorn's threads read headers (and the application reads the body) with blocking calls and no
    time limit, so a client sending a header line every few seconds held a thread for as long as it
    liked. Writes are untouched: answering a slow reader is the proxy's and the kernel's business.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._seconds = seconds
        self._deadline: float | None = None

    def next_request(self) -> None:
        """Start a new request: the next read starts its clock."""
        self._deadline = None

    def _read(self, method: Any, *args: Any) -> Any:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._seconds
        remaining = self._deadline - now
        if remaining <= 0:
            raise ReadTimedOut()
        previous = self._sock.gettimeout()
        if previous == 0.0:
            return method(*args)  # a non-blocking read never waits: nothing to bound
        self._sock.settimeout(remaining if previous is None else min(previous, remaining))
        try:
            return method(*args)
        except TimeoutError:
            raise ReadTimedOut() from None
        finally:
            self._sock.settimeout(previous)

    def recv(self, *args: Any) -> bytes:
        return self._read(self._sock.recv, *args)

    def recv_into(self, *args: Any) -> int:
        return self._read(self._sock.recv_into, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class GuardedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker with a deadline on reading each request and JSON error answers.

    It also stops accepting while every thread is busy, so a new connection waits in the listen
    queue for whichever worker has a free thread rather than in the thread queue of one that has none.
    """

    read_seconds = DEFAULT_READ_SECONDS
    busy = 0

    def init_process(self) -> None:
        self.read_seconds = Settings.load().request_read_seconds
        super().init_process()

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)

    def enqueue_req(self, conn: Any) -> None:
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, self.read_seconds)
        conn.sock.next_request()
        self.busy += 1
        if self.busy >= self.cfg.threads:
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.busy -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.alive and self.nr_conns < self.worker_connections)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn answers its own errors (bad request lines, a timed-out worker) with an HTML page;
        # let it choose the status and log, then send our JSON shape instead of its page.
        captured = _CapturedAnswer(client)
        super().handle_error(req, captured, addr, exc)
        status = captured.status() or 500
        if isinstance(exc, SystemExit):
            body = _json_error(503, "The request took longer than the worker timeout; retry shortly.")
            status, extra = 503, "Retry-After: 5\r\n"
        else:
            body = _json_error(status, _message(status, captured.reason()))
            extra = ""
        head = (
            f"HTTP/1.1 {status} {captured.reason() or 'Error'}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        try:
            client.sendall(head.encode("latin-1") + body)
        except OSError:
            pass  # the client is gone; gunicorn closes the socket


def _message(status: int, reason: str) -> str:
    if status == 413:
        return "The request body is too large."
    if status == 431:
        return "The request headers are too large."
    if status == 414:
        return "The request line is too long."
    if status >= 500:
        return "The service failed to answer this request."
    return f"The request could not be read: {reason or 'malformed'}."


def _json_error(status: int, message: str) -> bytes:
    error = ERROR_CODES.get(status, "error")
    body = {"code": status, "status": error.replace("_", " ").title(), "error": error, "message": message}
    return json.dumps(body).encode()


class _CapturedAnswer:
    """Stands in for the client socket while gunicorn writes its HTML error, keeping the bytes."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def gettimeout(self) -> float | None:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def _status_line(self) -> list[str]:
        return self.data.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)

    def status(self) -> int | None:
        parts = self._status_line()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None

    def reason(self) -> str:
        parts = self._status_line()
        return parts[2] if len(parts) == 3 else ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class JsonLogger(glogging.Logger):
    """gunicorn's logger writing access lines as real JSON and no query string anywhere.

    gunicorn's own access format only escapes double quotes, so a backslash or a newline in a path
    made the line invalid JSON (or two lines); its error log printed request URIs with their query
    strings, where a Coral phase URL carries a client key.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_scrub_record)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        status = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "logger": "access",
            "method": environ.get("REQUEST_METHOD", "-"),
            # No IP, no query string, no key: request logs carry nothing personal.
            "path": environ.get("PATH_INFO", "-"),
            "status": int(status) if status.isdigit() else None,
            "bytes": getattr(resp, "sent", None) or 0,
            "duration_us": request_time.seconds * 1_000_000 + request_time.microseconds,
        }
        self.access_log.info(json.dumps(entry))


def _scrub_record(record: Any) -> bool:
    """A logging filter: drop query strings from the message and any traceback, keep the record."""
    message = record.getMessage()
    if record.exc_info:
        formatter = glogging.logging.Formatter()
        message += "\n" + formatter.formatException(record.exc_info)
        record.exc_info = None
        record.exc_text = None
    record.msg = scrub_query_strings(message)
    record.args = None
    return True
