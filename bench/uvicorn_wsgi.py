"""An asyncio front for the worker-model comparison: uvicorn-worker serving our WSGI app (bench only)."""

from uvicorn_worker import UvicornWorker


class WsgiUvicornWorker(UvicornWorker):
    """uvicorn's worker for gunicorn, told that the application is WSGI (Flask)."""

    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "interface": "wsgi"}
