"""The moderators' review pages: sign in, the queue's views, decisions (also changed ones), bulk, undo."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from moderation.auth import authenticate
from moderation.errors import http_exception
from moderation.exceptions import Conflict, DomainError
from moderation.pipeline.domain import ATTRIBUTE_HEADS, Thresholds
from moderation.services.context import reply_context
from moderation.services.review import (
    REJECT_REASONS,
    REPORT_REASONS,
    STATUSES,
    UNDO_SECONDS,
    VIEWS,
    QueueFilter,
    ReviewQueue,
)
from moderation.store.repository import utcnow
from moderation.web.highlight import (
    MARK_NAMES,
    evidence_terms,
    highlight,
    isolate,
    links_in,
    name_bidi_controls,
    openable,
)
from moderation.web.security import (
    CSRF_FIELD,
    MODERATOR_ROLES,
    add_security_headers,
    configure_sessions,
    csrf_token,
    require_csrf,
    sign_in,
    sign_out,
    signed_in_principal,
)

bp = Blueprint("web", __name__, url_prefix="/moderate", template_folder="templates", static_folder="static")

PAGE_SIZE = 25
# A comment longer than this (characters or lines) is shown collapsed, with "Show all".
LONG_TEXT_CHARS = 1200
LONG_TEXT_LINES = 20
MAX_KEY_LENGTH = 200
# The verdicts: the label a button sends, the review action it means, what to call it. "reject"
# takes its reason from the form's reason list.
VERDICTS = {
    "ham": ("approve", "Approved"),
    "spam": ("reject", "Rejected as spam"),
    "toxic": ("reject", "Rejected as toxic"),
    "reject": ("reject", "Rejected"),
}
FILTER_ARGS = ("view", "reason", "post_id", "min_score", "q", "name", "email", "ip", "cursor")
# The search fields and their longest accepted value.
SEARCH_ARGS = {"q": 200, "name": 200, "email": 254, "ip": 45}
VIEW_NAMES = {
    "pending": "Pending",
    "reported": "Reported",
    "unmoderated": "Unmoderated",
    "approved": "Approved",
    "rejected": "Rejected",
    "all": "All",
}
REJECT_REASON_NAMES = {
    "spam": "Spam",
    "toxic": "Toxic",
    "off_topic": "Off topic",
    "personal_info": "Personal information",
    "other": "Other (say why in the note)",
}
REPORT_REASON_NAMES = {
    "spam": "Spam",
    "abusive": "Abusive",
    "off_topic": "Off topic",
    "misinformation": "Misinformation",
    "other": "Other",
}
assert set(REJECT_REASON_NAMES) == set(REJECT_REASONS) and set(REPORT_REASON_NAMES) == set(REPORT_REASONS)
assert set(VIEW_NAMES) == set(VIEWS)
PUBLIC_ENDPOINTS = {"web.login", "web.static"}
# Live updates: the open page asks /moderate/updates this often (short polling; docs/deployment.md
# says why not server-sent events). MODERATE_POLL_SECONDS in the Flask config overrides it.
POLL_SECONDS = 5.0
# At most this many arrivals and colleagues' actions per answer (the page shows 25 cards).
UPDATES_LIMIT = 200
REASON_NAMES = {
    "clean": "Clean",
    "trusted_author": "Trusted author",
    "spam": "Spam score",
    "toxicity": "Toxicity score",
    "links": "Links",
    "blocked_term": "Blocked term",
    "watched_term": "Watched term",
    "duplicate": "Duplicate",
    "flood": "Flood",
    "honeypot": "Honeypot",
    "blocked_author": "Blocked author",
    "suspended_author": "Suspended author",
    "premoderated_author": "Author always held",
    "new_author": "New author",
    "language": "Language",
    "uncertain": "Uncertain score",
    "too_fast": "Typed too fast",
}


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    configure_sessions(state.app)


@bp.before_request
def _guard() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST":
            require_csrf()
        return None
    principal = signed_in_principal()
    if principal is None and (request.endpoint == "web.updates" or wants_json()):
        # The page's script asks in the background: a redirect to the sign-in form would be no answer.
        # Asked before the CSRF check, whose token went with the session, so the answer says why.
        message = "You are signed out. Sign in again to keep the queue up to date."
        return _no_store(jsonify({"error": "signed_out", "message": message})), 401
    if request.method == "POST":
        require_csrf()
    if principal is None:
        return redirect(url_for("web.login"), code=303)
    g.principal = principal
    return None


@bp.after_app_request
def _headers(response: Response) -> Response:
    # App-wide so that 404s and 405s under /moderate get the headers too.
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        add_security_headers(response)
    return response


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> Any:
    if wants_json():
        body = {"error": (error.name or "error").lower().replace(" ", "_"), "message": error.description}
        return _no_store(jsonify(body)), error.code or 500
    return render_template("moderate/error.html", error=error), error.code or 500


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Any:
    return _error(http_exception(error))


def wants_json() -> bool:
    """Whether the page's script sent this request (Accept: application/json) rather than a form post."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token,
        "reason_name": _reason_name,
        "view_names": VIEW_NAMES,
        "reject_reasons": REJECT_REASON_NAMES,
        "report_reasons": REPORT_REASON_NAMES,
        "mark_names": MARK_NAMES,
    }


@bp.app_template_filter("age")
def _age(moment: datetime) -> str:
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


@bp.app_template_filter("isolate")
def _isolate(value: object) -> Markup:
    return isolate(value)


@bp.app_template_filter("controls_named")
def _controls_named(value: object) -> str:
    return name_bidi_controls(value)


def _reason_name(code: str) -> str:
    return REASON_NAMES.get(code, code.replace("_", " ").capitalize())


def _queue() -> ReviewQueue:
    return current_app.extensions["moderation"].queue


# --- signing in and out ---------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the sign-in form; sign in with a moderator or admin API key."""
    if request.method == "GET":
        if signed_in_principal() is not None:
            return redirect(url_for("web.queue"), code=303)
        return render_template("moderate/login.html")
    key = request.form.get("key", "").strip()
    principal = None
    if 0 < len(key) <= MAX_KEY_LENGTH:
        principal = authenticate(key)
    if principal is None:
        return render_template("moderate/login.html", error="Unknown or revoked key."), 401
    if principal.role not in MODERATOR_ROLES:
        message = "This key belongs to a website. Sign in with a moderator key."
        return render_template("moderate/login.html", error=message), 403
    sign_in(principal)
    return redirect(url_for("web.queue"), code=303)


@bp.post("/logout")
def logout() -> Response:
    """Sign out: end the session server-side, so a copied cookie is refused too."""
    sign_out()
    flash("You are signed out.", "ok")
    return redirect(url_for("web.login"), code=303)


# --- the queue ----------------------------------------------------------------------------


def _filters(args: Any) -> tuple[QueueFilter, dict[str, str], list[str]]:
    """Read the queue filters from request arguments; return them, their clean values and problems."""
    clean: dict[str, str] = {}
    problems: list[str] = []
    view = (args.get("view") or "").strip()
    if view in VIEWS and view != "pending":
        clean["view"] = view
    elif view and view != "pending":
        problems.append("Unknown view; showing the pending comments.")
    reason = (args.get("reason") or "").strip()
    if reason and len(reason) <= 32:
        clean["reason"] = reason
    post_id = (args.get("post_id") or "").strip()
    if post_id and len(post_id) <= 200:
        clean["post_id"] = post_id
    min_score = None
    raw = (args.get("min_score") or "").strip()
    if raw:
        try:
            min_score = float(raw)
        except ValueError:
            min_score = None
        if min_score is None or not 0.0 <= min_score <= 1.0:
            problems.append("Minimum score must be a number from 0 to 1.")
            min_score = None
        else:
            clean["min_score"] = raw
    for name, longest in SEARCH_ARGS.items():
        value = (args.get(name) or "").strip()
        if value and len(value) <= longest and "\x00" not in value:
            clean[name] = value
    cursor = (args.get("cursor") or "").strip()
    if cursor and len(cursor) <= 200:
        clean["cursor"] = cursor
    filters = QueueFilter(
        clean.get("reason"), clean.get("post_id"), min_score, clean.get("view", "pending"),
        **{name: clean.get(name) for name in SEARCH_ARGS},
    )  # fmt: skip
    return filters, clean, problems


def _last_action() -> dict[str, Any] | None:
    last = session.get("last")
    if not isinstance(last, dict) or time.time() - float(last.get("at", 0)) >= UNDO_SECONDS:
        return None
    return {**last, "remaining": max(1, int(UNDO_SECONDS - (time.time() - float(last["at"]))))}


@bp.get("/")
def queue() -> Any:
    """A view of the comments (held ones by default) with evidence highlighted and one-click verdicts."""
    filters, clean, problems = _filters(request.args)
    # Taken before the page is read, so updates "since" it miss nothing the page did not show.
    drawn = utcnow()
    try:
        page = _queue().page(filters, clean.get("cursor"), PAGE_SIZE)
    except (ValueError, TypeError):
        problems.append("That page link has expired; showing the first page.")
        clean.pop("cursor", None)
        page = _queue().page(filters, None, PAGE_SIZE)
    if not page["items"] and clean.get("cursor"):
        # A page past the end (its last cards were decided): show the last page that has comments.
        found, cursor = _queue().last_page(filters, clean["cursor"], PAGE_SIZE)
        if found:
            problems.append("That page has no comments left; showing the last page that has.")
            clean.pop("cursor")
            if cursor:
                clean["cursor"] = cursor
            page = _queue().page(filters, cursor, PAGE_SIZE)
    thresholds = current_app.extensions["moderation"].service.serving_thresholds()
    floors = {"spam": thresholds.spam_hold, "toxicity": thresholds.toxicity_hold}
    replies = reply_context(current_app.extensions["moderation"].store, [c for c, _ in page["items"]])
    items = []
    for comment, extras in page["items"]:
        items.append(
            {
                "comment": comment,
                "history": extras["history"],
                "reports": extras["reports"],
                "reviewer": extras["reviewer"],
                "text": highlight(comment.text, evidence_terms(comment.evidence, comment.scores, floors)),
                "url_openable": openable(comment.url),
                "post_url_openable": openable(comment.post_url),
                "parent": replies.get(comment.id),
                "links": links_in(comment.text),
                "long": len(comment.text) > LONG_TEXT_CHARS or comment.text.count("\n") >= LONG_TEXT_LINES,
                "reasons": [r for r in comment.reasons if isinstance(r, dict)],
            }
        )
    filter_values = {k: v for k, v in clean.items() if k != "cursor"}
    # The view tabs keep the other filters; the reason chips keep the view, post and score.
    across_views = {k: v for k, v in filter_values.items() if k != "view"}
    within_view = {k: v for k, v in filter_values.items() if k != "reason"}
    view_links = {
        code: url_for("web.queue", **across_views, **({"view": code} if code != "pending" else {}))
        for code in VIEWS
    }

    def reason_link(code: str | None) -> str:
        return url_for("web.queue", **within_view, **({"reason": code} if code else {}))

    next_url = None
    if page["next_cursor"]:
        next_url = url_for("web.queue", **filter_values, cursor=page["next_cursor"])
    return render_template(
        "moderate/queue.html",
        items=items,
        counts=page["counts"],
        views=page["views"],
        view=filters.view,
        filters=filter_values,
        across_views=across_views,
        view_links=view_links,
        reason_link=reason_link,
        clear_link=url_for("web.queue", **({"view": filters.view} if filters.view != "pending" else {})),
        back=urlencode(clean),
        next_url=next_url,
        problems=problems,
        last=_last_action(),
        thresholds=thresholds,
        attribute_cuts=_attribute_cuts(thresholds),
        principal=g.principal,
        undo_seconds=UNDO_SECONDS,
        updates_url=url_for("web.updates", **filter_values, since=_millis(drawn)),
        poll_seconds=float(current_app.config.get("MODERATE_POLL_SECONDS", POLL_SECONDS)),
    )


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/updates")
def updates() -> Any:
    """What changed in a view since the page was drawn, for the page's script to poll (JSON).

    `since` is the page's time in milliseconds (its data-updates URL carries it with the filters);
    every poll sends the same one, so an arrival a colleague has decided already drops out again.
    """
    filters, _clean, problems = _filters(request.args)
    raw = request.args.get("since", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        problems.append("since must be a time in milliseconds since 1970.")
    if problems:
        return _no_store(jsonify({"error": "bad_request", "message": " ".join(problems)})), 400
    since = datetime.fromtimestamp(min(int(raw), _millis(utcnow())) / 1000, tz=UTC)
    found = _queue().updates(g.principal, filters, since, UPDATES_LIMIT)
    body = {
        "now": _millis(found["now"]),
        "view": filters.view,
        "views": found["views"],
        "by_reason": {str(code): n for code, n in found["by_reason"].items() if code is not None},
        "total": found["total"],
        "arrived": found["arrived"],
        "decided": [
            {**entry, "at": entry["at"].isoformat(), "age": _age(entry["at"])} for entry in found["decided"]
        ],
    }
    return _no_store(jsonify(body))


def _attribute_cuts(thresholds: Thresholds) -> dict[str, tuple[float, float]]:
    """Each attribute head's hold and reject marks for the queue's bars (0.5 and 0.9 where unset)."""
    return {head: thresholds.for_head(head) for head in ATTRIBUTE_HEADS}


def _back() -> Response:
    """Redirect to the queue with the filters the form came from (only known arguments, no open redirect)."""
    pairs = parse_qsl(request.form.get("back", ""), max_num_fields=len(FILTER_ARGS))
    args = {k: v for k, v in pairs if k in FILTER_ARGS}
    return redirect(url_for("web.queue", **args), code=303)


@bp.post("/review")
def review() -> Any:
    """Apply one verdict to one comment or to every selected comment, first decision or a change.

    Each card says which status the moderator saw (`seen`: "id:status"); the decision applies only
    if the comment still has it, so a colleague's change in between is never overwritten unseen.
    The page's script asks for the answer as JSON (Accept: application/json) and updates the card
    in place; a plain form post gets the same outcome as notices on the queue it came from.
    """
    return _answer(_review())


def _answer(outcome: dict[str, Any]) -> Any:
    """An action's outcome: JSON for the page's script, else its notices and a redirect back."""
    if wants_json():
        status = outcome.pop("status", 200)
        return _no_store(jsonify(outcome)), status
    for message in outcome["messages"]:
        flash(message["text"], message["level"])
    return _back()


def _outcome(status: int = 200) -> dict[str, Any]:
    return {"status": status, "messages": [], "done": [], "taken": [], "missing": [], "undo_seconds": 0}


def _say(outcome: dict[str, Any], level: str, text: str) -> dict[str, Any]:
    outcome["messages"].append({"level": level, "text": text})
    return outcome


def _back_view() -> str:
    """The view the form came from (its `back` arguments), "pending" when it names none."""
    pairs = parse_qsl(request.form.get("back", ""), max_num_fields=len(FILTER_ARGS))
    view = dict(pairs).get("view", "pending")
    return view if view in VIEWS else "pending"


def _review() -> dict[str, Any]:
    label = request.form.get("label", "")
    ids = list(dict.fromkeys(i for i in request.form.getlist("id") if 0 < len(i) <= 32))[:PAGE_SIZE]
    if label not in VERDICTS:
        return _say(_outcome(400), "warn", "Choose approve, spam, toxic or reject with a reason.")
    if not ids:
        return _say(_outcome(400), "warn", "Select at least one comment first.")
    action, done = VERDICTS[label]
    note = (request.form.get("note") or "").strip()[:2000] or None
    reason = None
    if label == "reject":
        reason = request.form.get("reason", "")
        if reason not in REJECT_REASONS:
            return _say(_outcome(400), "warn", "Choose a reason for the rejection.")
        if reason == "other" and note is None:
            return _say(_outcome(400), "warn", "Say why in the note when the reason is other.")
        label = reason if reason in ("spam", "toxic") else "other"
        done = f"Rejected ({REJECT_REASON_NAMES[reason].split(' (')[0].lower()})"
    seen = _seen_statuses(request.form.getlist("seen"))
    view = _back_view()
    outcome = _outcome()
    for comment_id in ids:
        try:
            comment = _queue().review(
                g.principal, comment_id, action, label, note, reason, seen.get(comment_id)
            )
        except Conflict:
            outcome["taken"].append(comment_id)
            continue
        except DomainError:
            outcome["missing"].append(comment_id)
            continue
        outcome["done"].append(
            {
                "id": comment_id,
                "status": comment.status,
                # Whether the comment still belongs in the view the moderator is looking at.
                "stays": view == "all" or view == comment.status,
                "by": g.principal.name,
                "reason": REJECT_REASON_NAMES[comment.review_reason].split(" (")[0]
                if comment.status == "rejected" and comment.review_reason in REJECT_REASON_NAMES
                else None,
                "note": comment.review_note,
            }
        )
    reviewed = [entry["id"] for entry in outcome["done"]]
    if reviewed:
        session["last"] = {"ids": reviewed, "label": label, "at": time.time()}
        outcome["undo_seconds"] = UNDO_SECONDS
        noun = "comment" if len(reviewed) == 1 else "comments"
        _say(outcome, "ok", f"{done}: {len(reviewed)} {noun}.")
    if outcome["taken"]:
        _say(
            outcome,
            "warn",
            "Someone else reviewed this comment first; reload to see their decision."
            if len(outcome["taken"]) == 1 and len(ids) == 1
            else f"{len(outcome['taken'])} of the selected comments had already been reviewed "
            "by someone else.",
        )
    if outcome["missing"]:
        _say(outcome, "warn", f"{len(outcome['missing'])} comment(s) no longer exist.")
    if not reviewed:
        outcome["status"] = 409 if outcome["taken"] else 404
    return outcome


def _seen_statuses(pairs: list[str]) -> dict[str, str]:
    """The status each card showed, from its "id:status" fields (anything else is ignored)."""
    seen = {}
    for pair in pairs[: PAGE_SIZE * 2]:
        comment_id, _, status = pair.partition(":")
        if 0 < len(comment_id) <= 32 and status in STATUSES:
            seen[comment_id] = status
    return seen


@bp.post("/undo")
def undo() -> Any:
    """Take back this moderator's last action within the undo window: each comment is as it was."""
    return _answer(_undo())


def _undo() -> dict[str, Any]:
    last = _last_action()
    session.pop("last", None)
    if last is None:
        return _say(
            _outcome(409),
            "warn",
            f"Nothing to undo: only the last action of the past {UNDO_SECONDS} seconds can be undone.",
        )
    outcome = _outcome()
    held = True
    for comment_id in last["ids"]:
        try:
            comment = _queue().undo(g.principal, comment_id)
        except DomainError:
            outcome["missing"].append(comment_id)
            continue
        held = comment.status == "held" and held
        outcome["done"].append({"id": comment_id, "status": comment.status})
    if outcome["done"]:
        where = "back in the queue" if held else "back as they were before"
        _say(outcome, "ok", f"Undone: {len(outcome['done'])} comment(s) are {where}.")
    else:
        outcome["status"] = 409
    if outcome["missing"]:
        _say(
            outcome,
            "warn",
            f"{len(outcome['missing'])} comment(s) could not be put back (the undo window had passed).",
        )
    return outcome
