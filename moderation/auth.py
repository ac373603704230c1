"""Bearer-key authentication and role checks for API views."""

from __future__ import annotations

import hashlib
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import current_app, g, request
from flask_smorest import abort

from moderation.store.repository import Principal

F = TypeVar("F", bound=Callable[..., Any])


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def rate_limit_key() -> str:
    """Bucket requests by the key presented (hashed, never logged) or else by client address."""
    key = presented_key()
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return "ip:" + (request.remote_addr or "unknown")


def client_address() -> str:
    return "addr:" + (request.remote_addr or "unknown")


def current_principal() -> Principal:
    return g.principal


def requires(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a valid, unrevoked key whose role is one of roles (admin is all)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = presented_key()
            if key is None:
                abort(
                    401,
                    message="Missing API key: send Authorization: Bearer <key>.",
                    headers={"WWW-Authenticate": 'Bearer realm="moderation"'},
                )
            principal = current_app.extensions["moderation"].store.authenticate(key)
            if principal is None:
                abort(
                    401,
                    message="Unknown or revoked API key.",
                    headers={"WWW-Authenticate": 'Bearer realm="moderation", error="invalid_token"'},
                )
            if roles and not any(principal.has(role) for role in roles):
                needed = " or ".join(roles)
                abort(403, message=f"This endpoint needs the {needed} role; this key has {principal.role}.")
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
