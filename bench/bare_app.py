"""Floors for the benchmark, served with the same gunicorn settings as the service.

`create_app`: a bare Flask JSON endpoint, the cost of gunicorn and Flask alone.
`create_store_app`: the obligations any comment service has and nothing of ours: validate the
body with a marshmallow schema, write one row to SQLite (WAL, committed before answering) and
answer with JSON. No key lookup, checks, classifier or author history.
"""

import os
import sqlite3
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
    connection: sqlite3.Connection | None = None

    def db() -> sqlite3.Connection:
        nonlocal connection
        if connection is None:  # opened in the worker, after gunicorn forks
            connection = sqlite3.connect(path, timeout=10)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS comments (id TEXT PRIMARY KEY, name TEXT, email TEXT, "
                "text TEXT, url TEXT, ip TEXT, decision TEXT)"
            )
            connection.commit()
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
