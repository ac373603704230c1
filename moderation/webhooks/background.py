"""The delivery thread inside the service: one per process, started on its first request."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from moderation.webhooks.dispatcher import Dispatcher

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


class BackgroundDispatcher:
    """One delivery thread per process, started lazily so forked gunicorn workers each get their own."""

    def __init__(self, dispatcher: Dispatcher, interval: float = 1.0) -> None:
        self.dispatcher = dispatcher
        self.interval = interval
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    def ensure_started(self) -> None:
        """Start the thread if this process has none yet (cheap after the first call)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            # After a fork the parent's thread does not exist here: start afresh.
            self._stop = threading.Event()
            self._wake = threading.Event()
            self._thread = threading.Thread(
                target=self.dispatcher.run,
                args=(self._stop, self.interval, self._wake),
                name="webhook-dispatcher",
                daemon=True,
            )
            self._thread.start()
            self._pid = pid
            log.info("webhook dispatcher started", extra={"pid": pid})

    def wake(self) -> None:
        """Start a round now instead of at the end of the interval."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current delivery and wait for it."""
        with self._lock:
            self._stop.set()
            self._wake.set()
            if self._thread is not None and self._pid == os.getpid():
                self._thread.join(timeout)
            self._thread = None
            self._pid = None


def start_background_dispatcher(app: Flask, interval: float = 1.0) -> BackgroundDispatcher | None:
    """Deliver webhooks from inside the service when a URL and secret are configured.

    The thread starts on each process's first request, not here: with gunicorn's preload the app is
    built in the master, and threads do not survive the fork into the workers.
    """
    if "webhooks" in app.extensions:
        return app.extensions["webhooks"]
    moderation = app.extensions["moderation"]
    settings = moderation.settings
    if not settings.webhook_url:
        log.info("no webhook URL configured: status changes stay in the outbox")
        return None
    if not settings.webhook_secret:
        log.warning("a webhook URL but no secret is configured: deliveries are held until one is set")
        return None
    from moderation.config import ConfigError

    try:
        dispatcher = Dispatcher(moderation.store.engine, settings.webhook_url, settings.webhook_secret)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    background = BackgroundDispatcher(dispatcher, interval)
    app.extensions["webhooks"] = background
    app.before_request(background.ensure_started)
    return background
