"""gunicorn settings for `moderation serve`: production defaults, JSON access logs on stdout."""

import gc
import os

from prometheus_client import multiprocess

preload_app = True  # load the model once; workers share its pages copy-on-write
# Threads, not one request per process: a slow client holds one thread, at most request_read_seconds
# (MODERATION_REQUEST_READ_SECONDS, 10) from its first byte, instead of a whole worker for as long as it
# likes; the other threads keep answering. See docs/deployment.md ("Slow clients") for the measurements.
worker_class = "moderation.ops.gunicorn_worker.GuardedThreadWorker"
threads = 32  # `moderation serve --threads`
# Real JSON access lines (gunicorn's format escapes only quotes) and no query string in any log line.
logger_class = "moderation.ops.gunicorn_worker.JsonLogger"
# With threads, this watches each worker's main loop (accepting, keep-alive), not single requests.
timeout = 30
graceful_timeout = 30
keepalive = 5
# A safety net against slow leaks, not a routine: worker memory is flat over the 100,000-request soak
# (docs/performance.md). The jitter keeps the workers from being recycled together, which stalls
# requests for about half a second (p99 480 ms, measured with a 2,000-request limit and no jitter).
max_requests = 500_000
max_requests_jitter = 50_000
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# gunicorn >= 25.1 opens a control socket at one per-user path ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl)
# unless told not to: several instances on one host replace each other's socket, and stopping one deletes
# the socket of another. We do not use gunicornc, so there is no socket. (Older gunicorn ignores this.)
control_socket_disable = True


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def _models(server):  # noqa: ANN001, ANN202
    """The preloaded app's ModelHolder, or None when the app was not preloaded or is not ours."""
    app = getattr(server.app, "callable", None)
    extensions = getattr(app, "extensions", None) or {}
    moderation = extensions.get("moderation")
    return getattr(moderation, "models", None)


def pre_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    # A worker forked now (a replacement, or after max_requests) starts with the master's model:
    # bring it to the version CURRENT names first, so the new worker serves what the others serve
    # from its first request. A version that fails its checks is refused here as in the workers.
    models = _models(server)
    if models is not None:
        try:
            models.refresh()
        except Exception:  # noqa: BLE001 - never keep the master from forking over a model check
            server.log.exception("model refresh before fork failed")
    # Everything loaded so far (the model's vocabularies and arrays, SQLAlchemy's metadata) lives as
    # long as the worker: keep it out of the cyclic garbage collector, whose full passes over it
    # took about 40 ms, and out of the pages a collection would touch and un-share after the fork.
    gc.freeze()


def post_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    # Each worker follows CURRENT from its own watcher thread, also while no request comes in.
    models = _models(server)
    if models is not None:
        models.start_watching()
