"""Our discovery document for the commentanalyzer v1alpha1 API, written from its published shape.

Google's client libraries build their methods from such a document; its rootUrl is this service, so a
client built from it (discovery.build(..., discoveryServiceUrl=ours)) sends its calls here.
"""

from __future__ import annotations

from typing import Any

from moderation import __version__


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": name}


def _schemas() -> dict[str, Any]:
    score = {
        "id": "Score",
        "type": "object",
        "description": "A probability that the text has the attribute.",
        "properties": {
            "value": {"type": "number", "format": "float", "description": "Between 0 and 1."},
            "type": {"type": "string", "enum": ["PROBABILITY"], "description": "Always PROBABILITY."},
        },
    }
    return {
        "TextEntry": {
            "id": "TextEntry",
            "type": "object",
            "description": "A text and its format.",
            "properties": {
                "text": _string("The text, at most 20 KB of UTF-8."),
                "type": {"type": "string", "enum": ["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT"]},
            },
        },
        "Context": {
            "id": "Context",
            "type": "object",
            "description": "Text around the comment; accepted and not used for scoring.",
            "properties": {
                "entries": {"type": "array", "items": _ref("TextEntry")},
                "articleAndParentComment": _ref("ArticleAndParentComment"),
            },
        },
        "ArticleAndParentComment": {
            "id": "ArticleAndParentComment",
            "type": "object",
            "properties": {"article": _ref("TextEntry"), "parentComment": _ref("TextEntry")},
        },
        "AttributeParameters": {
            "id": "AttributeParameters",
            "type": "object",
            "description": "How to answer for one requested attribute.",
            "properties": {
                "scoreType": {"type": "string", "enum": ["PROBABILITY"]},
                "scoreThreshold": {
                    "type": "number",
                    "format": "float",
                    "description": "Leave the attribute out of the answer when its score is below this.",
                },
            },
        },
        "AnalyzeCommentRequest": {
            "id": "AnalyzeCommentRequest",
            "type": "object",
            "description": "A comment to score for the requested attributes.",
            "properties": {
                "comment": _ref("TextEntry"),
                "context": _ref("Context"),
                "requestedAttributes": {
                    "type": "object",
                    "additionalProperties": _ref("AttributeParameters"),
                    "description": "Attribute name (e.g. TOXICITY) to its parameters.",
                },
                "languages": {"type": "array", "items": {"type": "string"}},
                "doNotStore": {"type": "boolean", "description": "Keep nothing of this request."},
                "spanAnnotations": {"type": "boolean", "description": "Also score each sentence."},
                "dropUnsupportedAttributes": {"type": "boolean"},
                "clientToken": _string("Echoed in the answer."),
                "sessionId": _string("The caller's session, kept with a stored analysis."),
                "communityId": _string("The caller's community, kept with a stored analysis."),
            },
        },
        "Score": score,
        "SpanScore": {
            "id": "SpanScore",
            "type": "object",
            "description": "The score of a sentence, by Unicode code point offsets (end exclusive).",
            "properties": {
                "begin": {"type": "integer", "format": "int32"},
                "end": {"type": "integer", "format": "int32"},
                "score": _ref("Score"),
            },
        },
        "AttributeScores": {
            "id": "AttributeScores",
            "type": "object",
            "properties": {
                "summaryScore": _ref("Score"),
                "spanScores": {"type": "array", "items": _ref("SpanScore")},
            },
        },
        "AnalyzeCommentResponse": {
            "id": "AnalyzeCommentResponse",
            "type": "object",
            "properties": {
                "attributeScores": {"type": "object", "additionalProperties": _ref("AttributeScores")},
                "languages": {"type": "array", "items": {"type": "string"}},
                "detectedLanguages": {"type": "array", "items": {"type": "string"}},
                "clientToken": {"type": "string"},
            },
        },
        "SuggestCommentScoreRequest": {
            "id": "SuggestCommentScoreRequest",
            "type": "object",
            "description": "A community's own scores for a comment, kept as a training label.",
            "properties": {
                "comment": _ref("TextEntry"),
                "context": _ref("Context"),
                "attributeScores": {"type": "object", "additionalProperties": _ref("AttributeScores")},
                "languages": {"type": "array", "items": {"type": "string"}},
                "clientToken": {"type": "string"},
                "sessionId": {"type": "string"},
                "communityId": {"type": "string"},
            },
        },
        "SuggestCommentScoreResponse": {
            "id": "SuggestCommentScoreResponse",
            "type": "object",
            "properties": {
                "detectedLanguages": {"type": "array", "items": {"type": "string"}},
                "requestedLanguages": {"type": "array", "items": {"type": "string"}},
                "clientToken": {"type": "string"},
            },
        },
    }


def _method(name: str, request: str, response: str, description: str) -> dict[str, Any]:
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": f"v1alpha1/comments:{name}",
        "flatPath": f"v1alpha1/comments:{name}",
        "httpMethod": "POST",
        "description": description,
        "parameters": {},
        "parameterOrder": [],
        "request": _ref(request),
        "response": _ref(response),
    }


def document(root_url: str) -> dict[str, Any]:
    """The discovery document with this service (e.g. `https://moderation.example.org/`) as its root."""
    root = root_url if root_url.endswith("/") else root_url + "/"
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer",
        "version": "v1alpha1",
        "revision": __version__,
        "title": "Perspective Comment Analyzer API (served by moderation)",
        "description": "Perspective-compatible comment scoring by a self-hosted moderation service.",
        "protocol": "rest",
        "rootUrl": root,
        "servicePath": "",
        "baseUrl": root,
        "batchPath": "batch",
        "parameters": {
            "key": {
                "type": "string",
                "location": "query",
                "description": "A client key of this service.",
            },
            "alt": {
                "type": "string",
                "location": "query",
                "default": "json",
                "enum": ["json"],
                "description": "Answer format: JSON only.",
            },
            "prettyPrint": {"type": "boolean", "location": "query", "default": "true"},
            "fields": {"type": "string", "location": "query"},
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze",
                        "AnalyzeCommentRequest",
                        "AnalyzeCommentResponse",
                        "Score a comment for the requested attributes.",
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Suggest scores for a comment; kept as a training label.",
                    ),
                }
            }
        },
        "schemas": _schemas(),
    }
