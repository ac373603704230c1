"""The author page (also shown as the queue's author drawer) and moderators' actions on authors.

The queue's script loads this page into a dialog; without the script the author link opens it as
a page. Every form posts back here and returns to the author page with a notice.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for

from moderation.exceptions import DomainError
from moderation.services.authors import MAX_SUSPEND_DAYS, AuthorDesk
from moderation.web.views import REJECT_REASON_NAMES, bp

PAGE_SIZE = 25
ACTION_NAMES = {"ban": "Banned", "premoderate": "Always held", "suspend": "Suspended"}


def _desk() -> AuthorDesk:
    return current_app.extensions["moderation"].authors


def _email() -> str:
    return (request.values.get("email") or "").strip()[:254]


def _to_author(email: str) -> Response:
    return redirect(url_for("web.author", email=email), code=303)


@bp.get("/authors")
def author() -> Any:
    """Everything about one author, with the forms to note, ban, hold always, suspend and lift."""
    email = _email()
    cursor = (request.args.get("cursor") or "").strip()[:200] or None
    try:
        found = _desk().view(email, cursor, PAGE_SIZE)  # NotFound for no e-mail: the error page
    except ValueError:
        found = _desk().view(email, None, PAGE_SIZE)
    next_url = None
    if found["next_cursor"]:
        next_url = url_for("web.author", email=found["email"], cursor=found["next_cursor"])
    return render_template(
        "moderate/author.html",
        author=found,
        next_url=next_url,
        action_names=ACTION_NAMES,
        reject_reasons=REJECT_REASON_NAMES,
        max_days=MAX_SUSPEND_DAYS,
        principal=g.principal,
    )


@bp.post("/authors/note")
def author_note() -> Response:
    """Add a moderators' note about the author."""
    email = _email()
    try:
        _desk().add_note(g.principal, email, (request.form.get("text") or "")[:2000])
        flash("Note added.", "ok")
    except DomainError as exc:
        flash(exc.message, "warn")
    return _to_author(email)


@bp.post("/authors/act")
def author_act() -> Response:
    """Ban, hold always or suspend the author, with the reason the audit keeps."""
    email = _email()
    action = request.form.get("action", "")
    days = None
    if action == "suspend":
        try:
            days = int(request.form.get("days", ""))
        except ValueError:
            flash(f"Say for how many days (1 to {MAX_SUSPEND_DAYS}).", "warn")
            return _to_author(email)
    try:
        record = _desk().act(
            g.principal, email, action, (request.form.get("reason") or "")[:2000],
            ip=((request.form.get("ip") or "").strip() or None) if action == "ban" else None,
            reject_pending=action == "ban" and request.form.get("reject_pending") == "1",
            reject_reason=request.form.get("reject_reason") or "spam", days=days,
        )  # fmt: skip
    except DomainError as exc:
        flash(exc.message, "warn")
        return _to_author(email)
    done = ACTION_NAMES.get(record["action"], record["action"])
    extra = f"; {record['rejected']} held comment(s) rejected" if record["rejected"] else ""
    flash(f"{done}: {email.strip().lower()}{extra}.", "ok")
    return _to_author(email)


@bp.post("/authors/lift")
def author_lift() -> Response:
    """Lift an action in force on the author."""
    email = _email()
    try:
        action_id = int(request.form.get("action_id", ""))
    except ValueError:
        flash("Choose the action to lift.", "warn")
        return _to_author(email)
    try:
        record = _desk().lift(g.principal, email, action_id, (request.form.get("reason") or "")[:2000])
        flash(f"Lifted: {ACTION_NAMES.get(record['action'], record['action']).lower()}.", "ok")
    except DomainError as exc:
        flash(exc.message, "warn")
    return _to_author(email)
