"""Worker models compared: POST /v1/comments throughput and latency, and /healthz under 50 slow clients.

    .venv/bin/python bench/worker_models.py [--seconds 10] [--repeats 3] [--models sync,gthread,uvicorn]

`gthread` is what `moderation serve` runs (moderation.ops.gunicorn_worker.GuardedThreadWorker, 32 threads);
`gthread-plain` is gunicorn's own gthread worker (same threads, no read deadline); `sync` is gunicorn's
default worker; `uvicorn` is an asyncio front (the uvicorn-worker package, WSGI
interface, installed by hand: it is not a dependency). Every model runs our gunicorn_conf with the
same two workers, the same database settings and wrk's comment mix of bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, ROOT, free_port, post_script, prepare_service, run_wrk, wait_ready  # noqa: E402

WORKER_CLASSES = {
    # gunicorn quietly runs gthread for "sync" with more than one thread: say one.
    "sync": ["--worker-class", "sync", "--threads", "1"],
    "gthread": [],  # our configuration's own worker class
    "gthread-plain": ["--worker-class", "gthread"],  # gunicorn's, without our read deadline
    "uvicorn": ["--worker-class", "uvicorn_wsgi.WsgiUvicornWorker", "--pythonpath", str(ROOT / "bench")],
}


def slow_clients(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    """Open count connections that send a header line a second, as the review's attack did."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /v1/comments HTTP/1.1\r\nHost: x\r\n")
        socks.append(sock)

    def trickle() -> None:
        n = 0
        while not stop.wait(1.0):
            for sock in socks:
                try:
                    sock.sendall(f"X-Slow-{n}: a\r\n".encode())
                except OSError:
                    pass
            n += 1

    threading.Thread(target=trickle, daemon=True).start()
    return socks


def healthz_under_slow_clients(port: int, count: int = 50, probes: int = 20) -> dict:
    stop = threading.Event()
    socks = slow_clients(port, count, stop)
    time.sleep(1.0)
    latencies, failures = [], 0
    try:
        for _ in range(probes):
            started = time.monotonic()
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).raise_for_status()
                latencies.append((time.monotonic() - started) * 1000)
            except requests.RequestException:
                failures += 1
            time.sleep(0.25)
    finally:
        stop.set()
        for sock in socks:
            sock.close()
    return {
        "slow_clients": count,
        "probes": probes,
        "failed": failures,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def measure(model: str, env: dict, args: argparse.Namespace, script: Path) -> dict:
    port = free_port()
    cmd = [
        str(BIN / "gunicorn"), "--config", "python:moderation.ops.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), *WORKER_CLASSES[model],
        "moderation.app:create_app()",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/comments"
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        run_wrk(url, 2, args.connections, 2, script)  # warm-up
        runs = [run_wrk(url, args.seconds, args.connections, 2, script) for _ in range(args.repeats)]
        slow = healthz_under_slow_clients(port)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "runs": runs,
        "under_slow_clients": slow,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="sync,gthread,gthread-plain,uvicorn")
    parser.add_argument("--model-dir", default=str(ROOT / "model"))
    args = parser.parse_args()
    results = {"settings": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            env = {
                **os.environ,
                "MODERATION_DATABASE_URL": f"sqlite:///{tmp}/{model}.sqlite3",
                "MODERATION_MODEL_DIR": args.model_dir,
                "MODERATION_RATE_LIMIT": "off",
                "MODERATION_FLOOD_SECONDS": "0",
                "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(dir=tmp),
            }
            key = prepare_service(env, f"bench {model}")
            results[model] = measure(model, env, args, post_script(Path(tmp) / f"{model}.lua", key))
            print(model, json.dumps({k: v for k, v in results[model].items() if k != "runs"}), flush=True)
    print("| worker model | requests/s | p50 ms | p99 ms | non-2xx | /healthz, 50 slow clients |")
    print("|---|---|---|---|---|---|")
    for model in args.models.split(","):
        r = results[model]
        s = r["under_slow_clients"]
        print(
            f"| {model} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_2xx']} | "
            f"{s['probes'] - s['failed']}/{s['probes']} answered, p50 {s['p50_ms']}, max {s['max_ms']} ms |"
        )


if __name__ == "__main__":
    main()
