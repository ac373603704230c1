"""The application factory."""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any, Iterator, Mapping

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_smorest import abort
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from moderation import __version__, web
from moderation.api import authors, blocklist, comments, health, labels, model, queue, unmanaged_paths
from moderation.auth import client_address, failed_authentication, rate_limit_key
from moderation.classifier.bundle import ModelHolder
from moderation.config import Settings
from moderation.errors import error_response, handle_http_exception, register
from moderation.extensions import Moderation, api
from moderation.integrations.akismet import views as akismet
from moderation.integrations.coral import views as coral
from moderation.integrations.perspective import views as perspective
from moderation.ops import logs, metrics
from moderation.pipeline import language
from moderation.services.authors import AuthorDesk
from moderation.services.review import ReviewQueue
from moderation.services.submissions import ModerationService
from moderation.store.database import make_engine
from moderation.store.repository import Store
from moderation.webhooks import views as webhooks
from moderation.webhooks.background import start_background_dispatcher

log = logging.getLogger(__name__)

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
NUL_MESSAGE = "Must not contain NUL characters."


def _paths_with_nul(value: Any, path: str = "") -> Iterator[str]:
    """Yield the dotted path of every string (key or value) in parsed JSON that holds a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "_body"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                yield child
            else:
                yield from _paths_with_nul(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths_with_nul(item, f"{path}.{index}" if path else str(index))


def _nul_refused(names: list[str]) -> Response:
    fields = sorted(set(names))
    return error_response(
        422, "Validation failed: " + ", ".join(fields), {name: [NUL_MESSAGE] for name in fields}
    )


class TrustedProxies:
    """Take the client's address from X-Forwarded-For only when the peer is a configured proxy.

    Anyone can send the header; believing it from everyone would let each request pick the address
    its limits are counted under. From a trusted proxy, werkzeug's ProxyFix takes the last entry (the
    one that proxy appended) and the scheme and host it forwarded.
    """

    def __init__(self, app: Any, proxies: tuple[str, ...]) -> None:
        self.networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]
        self.direct = app
        self.proxied = ProxyFix(app, x_for=1, x_proto=1, x_host=1)

    def _trusted(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._trusted(environ.get("REMOTE_ADDR", "")):
            return self.proxied(environ, start_response)
        return self.direct(environ, start_response)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: settings (defaults, file, environment, then `config`), store, model, routes.

    Loading the model fails loudly here: a service that cannot score must not start.
    """
    settings = Settings.load(config)
    logs.configure(settings.log_level)
    app = Flask(__name__, instance_path=settings.instance_dir, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key or None,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="moderation",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )

    store = Store(make_engine(settings.resolved_database_url), settings.key_cache_seconds)
    models = ModelHolder(settings.model_dir, on_switch=metrics.set_model_version)
    bundle = models.load()
    metrics.set_model_version(bundle.version)
    language.preload()  # before gunicorn forks, so its workers share the identifier's tables
    service = ModerationService(settings, store, models, on_stored=metrics.record_decision)
    queue_service = ReviewQueue(store)
    app.extensions["moderation"] = Moderation(
        settings, store, models, service, queue_service, AuthorDesk(store, queue_service, service.blocklists)
    )

    api.init_app(app)
    api.register_blueprint(comments.blp)
    api.register_blueprint(model.blp)
    api.register_blueprint(queue.blp)
    api.register_blueprint(authors.blp)
    api.register_blueprint(labels.blp)
    api.register_blueprint(blocklist.blp)
    api.register_blueprint(webhooks.blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(web.bp)
    app.register_blueprint(akismet.bp)
    app.register_blueprint(coral.bp)
    app.register_blueprint(perspective.bp)
    unmanaged_paths.document(api.spec, app)
    # Our handler replaces flask-smorest's so every error has the same shape.
    app.register_error_handler(HTTPException, handle_http_exception)
    register(app)

    # Flask-Limiter keeps its storage on the Limiter object, so each app gets its own (tests build many).
    limiter = Limiter(
        key_func=rate_limit_key,
        # One budget per key across every endpoint, not one per endpoint.
        application_limits=[settings.rate_limit] if settings.rate_limit_enabled else [],
        storage_uri=settings.redis_url or "memory://",
        key_prefix="moderation",
        headers_enabled=True,
        retry_after="delta-seconds",
        # If Redis goes away, keep moderating with per-process limits rather than failing requests.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        enabled=settings.rate_limit_enabled,
    )
    if settings.rate_limit_enabled:
        ip_limit = limiter.shared_limit(
            settings.ip_rate_limit, scope="per-ip", key_func=client_address, override_defaults=False
        )
        # Guessing keys costs the guesser's address, not anyone's key.
        failure_limit = limiter.shared_limit(
            settings.auth_failure_limit, scope="auth-failures", key_func=client_address,
            deduct_when=failed_authentication, override_defaults=False,
        )  # fmt: skip
        limited = ("comments", "model", "queue", "blocklist", "webhooks", "akismet", "coral", "perspective")
        for name in limited:
            ip_limit(app.blueprints[name])
            failure_limit(app.blueprints[name])
        failure_limit(app.blueprints["web"])
    limiter.exempt(app.blueprints["health"])

    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse): the
    # limiter adds Retry-After to every limited response, but it means "wait" only on a refusal.
    @app.after_request
    def retry_after_only_when_refused(response: Response) -> Response:
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        return response

    limiter.init_app(app)
    metrics.init_app(app)

    @app.before_request
    def refuse_oversized_chunked_body() -> Response | None:
        # Without a Content-Length (chunked), werkzeug silently cuts the body at MAX_CONTENT_LENGTH,
        # which then fails to parse (a 400): read it now and answer 413 if anything was left over.
        if request.method not in _BODY_METHODS or request.content_length is not None:
            return None
        request.get_data(cache=True, parse_form_data=True)
        if request.environ["wsgi.input"].read(1):
            return error_response(413, "The request body is too large.")
        return None

    @app.before_request
    def refuse_nul_characters() -> Response | None:
        # PostgreSQL cannot store NUL in text (SQLite can): refuse it everywhere, on both, before
        # anything reaches a query. Akismet's form protocol answers its own way (its CommentIn rules).
        if "\x00" in request.path:
            return error_response(404, "No such resource.")
        named = [name for name, value in request.args.items(multi=True) if "\x00" in name + value]
        if request.mimetype in _FORM_TYPES and not request.path.startswith("/1.1/"):
            named += [name for name, value in request.form.items(multi=True) if "\x00" in name + value]
        if named:
            return _nul_refused(named)
        return None

    @app.before_request
    def require_json_body() -> Response | None:
        if request.method not in _BODY_METHODS or not request.path.startswith("/v1/"):
            return None
        if not request.content_length and not request.headers.get("Transfer-Encoding"):
            return None  # no body at all (e.g. undo): nothing to parse
        if not request.is_json:
            abort(415, message="Send the body as JSON with Content-Type: application/json.")
        # Parse once here so malformed or absurdly nested JSON is a 400, never a 500.
        try:
            body = request.get_json()
            # "\ud800" escapes parse into strings no database can store as UTF-8. Only a \u escape
            # can produce one (the UTF-8 decoder refuses encoded surrogates), so most bodies skip this.
            if b"\\u" in request.get_data(cache=True):
                json.dumps(body, ensure_ascii=False).encode("utf-8")
            # Only a \u0000 escape can put a NUL in parsed JSON (a raw one is invalid JSON).
            if b"\\u0000" in request.get_data(cache=True):
                named = list(_paths_with_nul(body))
                if named:
                    return _nul_refused(named)
        except RecursionError:
            return error_response(400, "The request body is nested too deeply.")
        except (BadRequest, UnicodeEncodeError):
            return error_response(400, "The request body is not valid UTF-8 JSON.")
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    start_background_dispatcher(app)
    log.info("moderation ready", extra={"model_version": bundle.version})
    return app
