"""Floors for the benchmark, served with the same gunicorn settings as the service.

`create_app`: a bare Flask JSON endpoint, the cost of gunicorn and Flask alone.
`create_store_app`: the obligations any comment service has and nothing of ours: validate the
body with a marshmallow schema, write one row to SQLite (WAL, committed before answering) and
answer with JSON. No key lookup, checks, classifier or author history.
"""

import os
import sqlite3
import threading
import uuid

from flask import Flask, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/comments")
    def comments():  # noqa: ANN202
        body = request.get_json()
        return jsonify({"decision": "approve", "echo": len(body.get("text", ""))}), 201

    return app


class _CommentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    email = fields.Email(required=True)
    text = fields.String(required=True, validate=validate.Length(1, 20000))
    url = fields.URL(allow_none=True)
    ip = fields.IP(allow_none=True)


def create_store_app() -> Flask:
    app = Flask(__name__)
    path = os.environ["BENCH_FLOOR_DB"]
    schema = _CommentIn()
    # One connection per thread: the service's gunicorn workers run requests in threads, and a
    # sqlite3 connection refuses to be used from a thread other than the one that opened it.
    local = threading.local()
    # The file, its table and WAL mode (which stays with the file) once, before gunicorn forks:
    # switching the journal mode takes a lock that threads opening their connections at once fight over.
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute(
            "CREATE TABLE IF NOT EXISTS comments (id TEXT PRIMARY KEY, name TEXT, email TEXT, "
            "text TEXT, url TEXT, ip TEXT, decision TEXT)"
        )
    setup.close()

    def db() -> sqlite3.Connection:
        connection = getattr(local, "connection", None)
        if connection is None:  # opened in the worker's thread, after gunicorn forks
            connection = sqlite3.connect(path, timeout=10)
            connection.execute("PRAGMA synchronous=NORMAL")
            local.connection = connection
        return connection

    @app.post("/v1/comments")
    def comments():  # noqa: ANN202
        try:
            body = schema.load(request.get_json())
        except ValidationError as error:
            return jsonify({"errors": error.messages}), 422
        row = (uuid.uuid4().hex, body["name"], body["email"], body["text"], body.get("url"),
               str(body.get("ip") or ""), "approve")  # fmt: skip
        with db() as conn:  # commits
            conn.execute("INSERT INTO comments VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        return jsonify({"id": row[0], "decision": "approve"}), 201

    return app
