"""Latency of POST /v1alpha1/comments:analyze against POST /v1/comments, in one run of one service.

Starts `moderation serve` on a fresh SQLite database and the current model, then drives each endpoint
with --concurrency keep-alive connections for --requests requests (the two endpoints alternate in
rounds, so both see the same machine load) and prints p50/p99 per endpoint. The analyze requests are
Coral's (TOXICITY, languages ["en"], doNotStore) plus one in four with SPAM and span annotations.

Usage: python bench/perspective.py [--requests 4000] [--concurrency 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from run import ROOT, free_port, prepare_service, serve_command, wait_ready

TEXTS = [
    "Clear piece on the frigate delays, thanks. The budget table was especially useful.",
    "I think the minister is wrong here, but the article explains both sides fairly.",
    "Typo in the third paragraph: it's the F-35A, not the B.",
    "You are a pathetic idiot and everyone here knows it.",
    "Earn $500 a day from home, message me on whatsapp +44 7700 900123",
]


def analyze_body(n: int) -> tuple[str, dict]:
    body: dict = {
        "comment": {"text": f"{TEXTS[n % len(TEXTS)]} ({n})"},
        "requestedAttributes": {"TOXICITY": {}},
        "languages": ["en"],
        "doNotStore": True,
    }
    if n % 4 == 0:
        body["requestedAttributes"]["SPAM"] = {}
        body["spanAnnotations"] = True
    return "/v1alpha1/comments:analyze", body


def comment_body(n: int) -> tuple[str, dict]:
    return "/v1/comments", {
        "name": f"Reader {n}",
        "email": f"reader{n}@example.org",
        "text": f"{TEXTS[n % len(TEXTS)]} ({n})",
        "ip": f"198.51.{n % 250}.{(n // 250) % 250}",
    }


def drive(port: int, key: str, make, count: int, concurrency: int, offset: int) -> list[float]:
    """Send count requests over concurrency connections; return each one's latency in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    numbers = iter(range(offset, offset + count))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                break
            path, body = make(n)
            started = time.perf_counter()
            connection.request("POST", path, json.dumps(body), headers)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status >= 300:
                raise RuntimeError(f"{path} answered {response.status}")
            with lock:
                latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=4000, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "MODERATION_DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
            "MODERATION_MODEL_DIR": os.environ.get("MODERATION_MODEL_DIR", str(ROOT / "model")),
            "MODERATION_RATE_LIMIT": "off",
            "MODERATION_FLOOD_SECONDS": "0",
        }
        key = prepare_service(env, "bench perspective")
        port = free_port()
        process = subprocess.Popen(
            serve_command(port, args.workers), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", process)
            drive(port, key, analyze_body, 200, args.concurrency, 0)  # warm-up
            drive(port, key, comment_body, 200, args.concurrency, 10_000_000)
            results: dict[str, list[float]] = {"comments:analyze": [], "/v1/comments": []}
            per_round = args.requests // args.rounds
            for r in range(args.rounds):
                offset = 1_000 + r * per_round
                results["comments:analyze"] += drive(
                    port, key, analyze_body, per_round, args.concurrency, offset
                )
                results["/v1/comments"] += drive(port, key, comment_body, per_round, args.concurrency, offset)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"c={args.concurrency}, {args.workers} workers, {args.requests} requests per endpoint")
    for name, values in results.items():
        print(f"{name:>18}: p50 {percentile(values, 50):6.1f} ms  p99 {percentile(values, 99):6.1f} ms")


if __name__ == "__main__":
    main()
