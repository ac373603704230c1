"""Sign-in sessions, CSRF tokens and response headers for the moderators' pages."""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from flask import Flask, Response, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from moderation.store.repository import Principal

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12
MODERATOR_ROLES = ("moderator", "admin")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ModeratorSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Mark the cookie Secure for HTTPS requests (behind a proxy, the server must trust its headers)."""
        return request.is_secure or super().get_cookie_secure(app)


def configure_sessions(app: Flask) -> None:
    """Give the app a secret key and safe session cookie settings."""
    if not app.secret_key:
        app.secret_key = secrets.token_hex(32)
        log.warning(
            "secret_key is not configured: using a random one for this process, so moderator sign-ins "
            "will not survive a restart or span separately started instances; set MODERATION_SECRET_KEY"
        )
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = ModeratorSessionInterface()


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def require_csrf() -> None:
    """Refuse (400) a POST whose form token is missing or differs from the session's."""
    expected = session.get(CSRF_FIELD)
    presented = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not presented:
        abort(400, description="The form was missing its security token. Reload the page and try again.")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        abort(400, description="The form's security token did not match. Reload the page and try again.")


def sign_in(principal: Principal) -> None:
    """Start a fresh session for a moderator: the key's id, role and name, never the key itself."""
    session.clear()
    session.update(key_id=principal.key_id, role=principal.role, name=principal.name, since=int(time.time()))
    csrf_token()


def signed_in_principal() -> Principal | None:
    """The moderator of this session if their key is still active; clears a stale session."""
    key_id = session.get("key_id")
    if not isinstance(key_id, int):
        return None
    since = session.get("since")
    fresh = isinstance(since, int) and time.time() - since < SESSION_HOURS * 3600
    principal = _active_principal(key_id) if fresh else None
    if principal is None or principal.role not in MODERATOR_ROLES:
        session.clear()
        return None
    return principal


def _active_principal(key_id: int) -> Principal | None:
    return current_app.extensions["moderation"].store.principal(key_id)


def add_security_headers(response: Response) -> Response:
    """Set the pages' security headers (strict CSP: no inline script or style)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response
