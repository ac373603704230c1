"""Sign-in sessions, CSRF tokens and response headers for the moderators' pages."""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from flask import Flask, Response, abort, current_app, flash, request, session
from flask.sessions import SecureCookieSessionInterface

from moderation.store.repository import Principal, Store
from moderation.store.web_sessions import (
    ENDED,
    EXPIRED,
    REVOKED,
    UNKNOWN,
    check_session,
    end_session,
    start_session,
)

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
# The cookie's only identity: the token of a web_sessions row (moderation.store.web_sessions).
SESSION_FIELD = "sid"
SESSION_HOURS = 12
SIGNED_OUT_BECAUSE = {
    REVOKED: "You were signed out because your key was revoked. Ask an admin for a new key.",
    EXPIRED: f"You were signed out because sessions last {SESSION_HOURS} hours. Sign in again.",
    ENDED: "This session was signed out. Sign in again.",
    UNKNOWN: "This session is not known (it may have been purged). Sign in again.",
}
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
    """Signed cookie sessions whose cookie is Secure whenever the request came over HTTPS.

    The cookie holds the session token, the CSRF token, flash messages and the undo list; who is
    signed in, and whether they still are, lives in the web_sessions table.
    """

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
    """Start a fresh session for a moderator: a server-side record, and its token in the cookie.

    The cookie names no key, role or name; whatever session the browser had before is ended, so a
    session id planted before sign-in is worth nothing after it.
    """
    sign_out()
    session[SESSION_FIELD] = start_session(_store(), principal.key_id, timedelta(hours=SESSION_HOURS))
    csrf_token()


def sign_out() -> None:
    """End this browser's session server-side (every copy of the cookie stops working) and forget it."""
    token = session.get(SESSION_FIELD)
    if isinstance(token, str) and token:
        end_session(_store(), token)
    session.clear()


def signed_in_principal() -> Principal | None:
    """The moderator of this session if it is live and their key still active.

    A session that ended, expired or whose key was revoked is forgotten, with a message that says
    why (shown on the sign-in page).
    """
    token = session.get(SESSION_FIELD)
    if not isinstance(token, str) or not token:
        return None
    check = check_session(_store(), token)
    principal = check.principal
    if principal is None or principal.role not in MODERATOR_ROLES:
        session.clear()
        flash(SIGNED_OUT_BECAUSE.get(check.problem or "", SIGNED_OUT_BECAUSE[UNKNOWN]), "warn")
        return None
    return principal


def _store() -> Store:
    return current_app.extensions["moderation"].store


def add_security_headers(response: Response) -> Response:
    """Set the pages' security headers (strict CSP: no inline script or style)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response
