"""The floor: a bare Flask JSON endpoint served with the same gunicorn settings as the service."""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/comments")
    def comments():  # noqa: ANN202
        body = request.get_json()
        return jsonify({"decision": "approve", "echo": len(body.get("text", ""))}), 201

    return app
