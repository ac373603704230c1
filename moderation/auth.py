"""Bearer-key authentication and role checks for API views."""

from __future__ import annotations

import hashlib
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import Response, current_app, g, request
from flask_smorest import abort

from moderation.store.repository import Principal

F = TypeVar("F", bound=Callable[..., Any])


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(presented: str) -> Principal | None:
    """Return the principal of a presented key, checking it once per request.

    The rate limiter (before the view) and the view share the answer; a failure is remembered in
    `g.auth_failed`, which the failed-authentication limit on the client's address counts.
    """
    checked: dict[str, Principal | None] = g.setdefault("checked_keys", {})
    if presented not in checked:
        checked[presented] = current_app.extensions["moderation"].store.authenticate(presented)
        if checked[presented] is None:
            g.auth_failed = True
    return checked[presented]


def _key_in_request() -> str | None:
    """The key wherever an endpoint accepts one: the Authorization header, Akismet's form, a URL's ?key=."""
    key = presented_key()
    if key is None and request.path.startswith("/1.1/"):
        key = (request.form.get("api_key") or request.form.get("key") or "").strip() or None
    if key is None and request.path.startswith(("/integrations/coral/", "/v1alpha1/")):
        key = request.args.get("key", "").strip() or None
    return key


def rate_limit_key() -> str:
    """Bucket a request by the key's principal once the key is checked, else by the client's address.

    A junk or revoked key is no key: it shares its address's budget instead of opening a new one.
    """
    key = _key_in_request()
    if key and authenticate(key) is not None:
        # By a digest of the checked key rather than its row id: unique even where several
        # databases (test runs, deployments) share one Redis.
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return client_address()


def client_address() -> str:
    return "addr:" + (request.remote_addr or "unknown")


def failed_authentication(response: Response) -> bool:
    """Whether this request presented a key that did not authenticate (deduct_when of that limit)."""
    return bool(g.get("auth_failed"))


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
            principal = authenticate(key)
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
