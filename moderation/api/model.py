"""What model is serving: version, training date, metrics, thresholds."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from moderation.auth import requires

blp = Blueprint("model", __name__, url_prefix="/v1/model", description="The classifier in use")


class ModelOut(Schema):
    version = fields.String()
    created = fields.String()
    heads = fields.List(fields.String())
    metrics = fields.Dict()
    thresholds = fields.Dict(metadata={"description": "The thresholds this service applies"})
    trained_thresholds = fields.Dict(metadata={"description": "The thresholds the model was trained with"})
    data = fields.List(fields.Dict())


@blp.route("")
class Model(MethodView):
    @requires()
    @blp.response(200, ModelOut)
    def get(self) -> dict[str, Any]:
        """Return the current model's version, training date, held-out metrics and thresholds."""
        ext = current_app.extensions["moderation"]
        bundle = ext.models.get()
        manifest = bundle.manifest
        return {
            "version": bundle.version,
            "created": manifest.get("created"),
            "heads": manifest.get("heads", []),
            "metrics": manifest.get("metrics", {}),
            "thresholds": ext.service.thresholds.as_dict(),
            "trained_thresholds": manifest.get("thresholds", {}),
            "data": [
                {k: d.get(k) for k in ("path", "format", "rows", "labels", "sha256")}
                for d in manifest.get("data", [])
            ],
        }
