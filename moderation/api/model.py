"""What model is serving: version, training date, metrics, thresholds."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from moderation.auth import current_principal, requires

blp = Blueprint("model", __name__, url_prefix="/v1/model", description="The classifier in use")


class ModelOut(Schema):
    """Clients and moderators get version, created and metrics; the rest is for admin keys."""

    version = fields.String()
    created = fields.String()
    heads = fields.List(fields.String())
    metrics = fields.Dict()
    thresholds = fields.Dict(
        metadata={"description": "The thresholds this service applies to this model, per head"}
    )
    threshold_sources = fields.Dict(
        metadata={
            "description": "Where each applied threshold comes from, per head: `model` (the version's "
            "manifest), `tuned` (chosen by `moderation tune --apply` for this version), `configuration` "
            "(an explicit MODERATION_* setting) or `default`"
        }
    )
    trained_thresholds = fields.Dict(metadata={"description": "The thresholds the model version carries"})
    data = fields.List(fields.Dict())


@blp.route("")
class Model(MethodView):
    @requires()
    @blp.response(200, ModelOut)
    def get(self) -> dict[str, Any]:
        """Return the current model's version, training date and held-out metrics (admins: all of it).

        Admin keys also get the heads, the thresholds and the training data's paths, sizes and
        digests: the paths are the server's own file system, nothing a client needs to see.
        """
        ext = current_app.extensions["moderation"]
        bundle = ext.models.get()
        manifest = bundle.manifest
        public = {
            "version": bundle.version,
            "created": manifest.get("created"),
            "metrics": manifest.get("metrics", {}),
        }
        if not current_principal().has("admin"):
            return public
        thresholds = ext.service.thresholds_for(bundle)
        return {
            **public,
            "heads": manifest.get("heads", []),
            "thresholds": thresholds.as_dict(),
            "threshold_sources": thresholds.sources_dict(),
            "trained_thresholds": manifest.get("thresholds", {}),
            "data": [
                {k: d.get(k) for k in ("path", "format", "rows", "labels", "sha256")}
                for d in manifest.get("data", [])
            ],
        }
