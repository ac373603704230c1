"""Faults: the database going away mid-service, and coming back."""

import socket
import threading

import pytest

from moderation.app import create_app
from moderation.store.database import upgrade
from tests.helpers import auth, comment


class Forwarder:
    """A TCP relay in front of PostgreSQL that a test can cut and restore, like a network failure."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self) -> None:
        """Refuse new connections and break the existing ones."""
        self.open = False
        with self.lock:
            for s in self.connections:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.connections.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relayed_postgres(postgres_schema_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_schema_url)
    relay = Forwarder((url.host or "127.0.0.1", url.port or 5432))
    yield url.set(port=relay.port).render_as_string(hide_password=False), relay
    relay.close()


def test_database_outage_answers_503_then_recovers_by_itself(relayed_postgres, app_config):
    url, relay = relayed_postgres
    upgrade(url)
    app_config["database_url"] = url
    app = create_app(app_config)
    try:
        _outage_and_recovery(app, relay)
    finally:
        app.extensions["moderation"].store.engine.dispose()


def _outage_and_recovery(app, relay: Forwarder) -> None:
    key = app.extensions["moderation"].store.create_key("client", "site")[1]
    client = app.test_client()
    assert client.post("/v1/comments", json=comment(), headers=auth(key)).status_code == 201

    relay.cut()
    down = client.post("/v1/comments", json=comment(), headers=auth(key))
    assert down.status_code == 503
    assert down.json["error"] == "unavailable" and down.headers["Retry-After"] == "5"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["database"].startswith("unavailable")
    assert client.get("/healthz").status_code == 200  # alive, just not ready

    relay.restore()
    assert client.get("/readyz").status_code == 200
    again = client.post("/v1/comments", json=comment(), headers=auth(key))
    assert again.status_code == 201
    assert app.extensions["moderation"].store.count_comments() == 2
