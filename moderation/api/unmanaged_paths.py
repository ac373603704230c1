"""The OpenAPI description of the routes flask-smorest does not build: health, Akismet, Coral, Perspective."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import Flask

_PLAIN = {"text/plain": {"schema": {"type": "string"}}}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

# Akismet's form fields that the service reads; any other field is accepted and ignored.
_AKISMET_FIELDS = {
    "api_key": "a client key (`mk_…`); or send `Authorization: Bearer`",
    "comment_content": "the comment text (required)",
    "comment_author": "the commenter's name; empty becomes Anonymous",
    "comment_author_email": "the commenter's email; empty gets a stable placeholder",
    "comment_author_url": "the commenter's website",
    "user_ip": "the commenter's IPv4 or IPv6 address",
    "user_agent": "the commenter's browser",
    "referrer": "the page the commenter came from",
    "permalink": "the article's URL (becomes post_id)",
    "blog": "the site's URL (post_id when there is no permalink)",
    "comment_parent": "the parent comment's id; 0 means none",
    "honeypot_field_name": "the name of a hidden form field, sent beside it",
    "comment_date_gmt": "when the comment was written; makes a re-check a replay",
    "is_test": "1: answer, but never train on the call",
}


def _akismet(summary: str, answer: str) -> dict[str, Any]:
    properties = {name: {"type": "string", "description": text} for name, text in _AKISMET_FIELDS.items()}
    properties["key"] = {"type": "string", "description": "verify-key's older name for api_key"}
    return {
        "post": {
            "tags": ["akismet"],
            "summary": summary,
            "description": "Akismet-compatible; see docs/integrations.md. A bad key or field is still "
            "200, with the body `invalid` and the reason in X-akismet-debug-help.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {"type": "object", "properties": properties, "additionalProperties": True}
                    }
                },
            },
            "responses": {
                "200": {"description": answer, "content": _PLAIN},
                "413": {"description": "body over MODERATION_MAX_BODY_BYTES", "content": _ERROR},
                "429": {"description": "the key's rate limit is spent", "content": _ERROR},
                "503": {"description": "database or model unavailable", "content": _ERROR},
            },
        }
    }


_CORAL_PHASE = {
    "post": {
        "tags": ["coral"],
        "summary": "Coral external moderation phase: moderate one new or edited comment",
        "description": "Signed by Coral (X-Coral-Signature: sha256=<HMAC of the body>); the client key "
        "is the `key` query parameter or a Bearer header. See docs/integrations.md.",
        "parameters": [
            {"name": "key", "in": "query", "schema": {"type": "string"}, "description": "a client key"},
            {"name": "X-Coral-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["action", "comment", "author", "story"],
                        "properties": {
                            "action": {"type": "string", "enum": ["NEW", "EDIT"]},
                            "comment": {"type": "object", "description": "body (HTML), parentID"},
                            "author": {"type": "object", "description": "id, role"},
                            "story": {"type": "object", "description": "id, url"},
                            "site": {"type": "object", "description": "id"},
                            "tenantID": {"type": "string"},
                            "tenantDomain": {"type": "string"},
                        },
                        "additionalProperties": True,
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Coral's answer: an optional status and FLAG actions",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "204": {"description": "no opinion (a comment without text)"},
            **{
                code: {"description": what, "content": _ERROR}
                for code, what in {
                    "400": "the body is not a JSON object",
                    "401": "signature or client key missing or wrong",
                    "403": "the key is not a client key",
                    "404": "MODERATION_CORAL_SECRET is not set",
                    "413": "body over MODERATION_MAX_BODY_BYTES",
                    "415": "Content-Type is not application/json",
                    "422": "a field is missing or invalid, named by its Coral path",
                    "429": "the key's rate limit is spent",
                    "503": "database or model unavailable",
                }.items()
            },
        },
    }
}

_GOOGLE_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "description": 'Google\'s shape: {"error": {"code", "message", "status", "details"}}',
        }
    }
}


def _perspective(summary: str, request: str, answer: str) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["perspective"],
            "summary": summary,
            "description": "Perspective-compatible (commentanalyzer v1alpha1); the client key is the `key` "
            "query parameter or a Bearer header. See docs/integrations.md (Replacing Perspective).",
            "parameters": [
                {"name": "key", "in": "query", "schema": {"type": "string"}, "description": "a client key"}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "description": request}}},
            },
            "responses": {
                "200": {
                    "description": answer,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **{
                    code: {"description": what, "content": _GOOGLE_ERROR}
                    for code, what in {
                        "400": "INVALID_ARGUMENT: bad body, unknown attribute, unsupported language "
                        "(LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE), text over 20 KB, or a key that is not valid",
                        "403": "PERMISSION_DENIED: no key, or not a client key",
                        "413": "body over MODERATION_MAX_BODY_BYTES",
                        "429": "RESOURCE_EXHAUSTED: the key's rate limit is spent",
                        "503": "database or model unavailable",
                    }.items()
                },
            },
        }
    }


_DISCOVERY = {
    "get": {
        "tags": ["perspective"],
        "summary": "The commentanalyzer v1alpha1 discovery document for Google's API clients (no key)",
        "responses": {
            "200": {
                "description": "a discovery document whose rootUrl is this service",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    }
}

_HEALTH = {
    "/healthz": {
        "get": {
            "tags": ["health"],
            "summary": "Liveness: the process is up (no key)",
            "responses": {"200": {"description": '{"status": "ok"}'}},
        }
    },
    "/readyz": {
        "get": {
            "tags": ["health"],
            "summary": "Readiness: the database answers and a model is loaded (no key)",
            "responses": {
                "200": {"description": '{"status": "ready", "checks": {"database": "ok", "model": VERSION}}'},
                "503": {"description": '{"status": "unavailable", "checks": {…}}, with Retry-After'},
            },
        }
    },
    "/metrics": {
        "get": {
            "tags": ["health"],
            "summary": "Prometheus metrics, summed over the workers (no key; serve on an internal network)",
            "responses": {"200": {"description": "Prometheus text format", "content": _PLAIN}},
        }
    },
}


def document(spec: APISpec, app: Flask) -> None:
    """Add the health, Akismet, Coral and Perspective paths to spec; each must be a route of app."""
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    paths = {
        **_HEALTH,
        "/1.1/verify-key": _akismet("Check a key", "`valid` or `invalid`"),
        "/1.1/comment-check": _akismet(
            "Moderate a comment like POST /v1/comments", "`false` (publish), `true` (keep out) or `invalid`"
        ),
        "/1.1/submit-spam": _akismet(
            "Report a comment as spam (a training label)", "`Thanks for making the web a better place.`"
        ),
        "/1.1/submit-ham": _akismet(
            "Report a comment as not spam (a training label)", "`Thanks for making the web a better place.`"
        ),
        "/integrations/coral/phase": _CORAL_PHASE,
        "/v1alpha1/comments:analyze": _perspective(
            "Score a comment per attribute, Perspective-style",
            "AnalyzeCommentRequest: comment.text, requestedAttributes, languages, doNotStore, "
            "spanAnnotations, clientToken, sessionId, communityId, context",
            "AnalyzeCommentResponse: attributeScores, languages, detectedLanguages, clientToken",
        ),
        "/v1alpha1/comments:suggestscore": _perspective(
            "Suggest a comment's scores (kept as a training label)",
            "SuggestCommentScoreRequest: comment.text, attributeScores, languages, communityId, clientToken",
            "SuggestCommentScoreResponse: detectedLanguages, requestedLanguages, clientToken",
        ),
        "/$discovery/rest": _DISCOVERY,
    }
    for path, operations in paths.items():
        # flask-smorest's spec plugin derives the path from the Flask rule.
        spec.path(rule=rules[path], operations=operations)
