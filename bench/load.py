"""Load and endurance run against `moderation serve`: a steady request rate, then a long soak.

Part 1 (steady): an open-loop generator sends POST /v1/comments at a fixed rate for --seconds
with a realistic mix (70 % clean, 20 % spam, 10 % toxic; 5 % replays of an earlier
client_comment_id) and reports the achieved rate, p50/p95/p99 latency measured from each
request's scheduled start (so a stall is not hidden), and errors.
Part 2 (soak): wrk drives --soak-requests requests as fast as the service answers, and the
resident memory of every gunicorn worker is read before and after.

Usage: python bench/load.py [--rate 100] [--seconds 60] [--soak-requests 100000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from run import ROOT, free_port, post_script, prepare_service, serve_command, wait_ready, worker_rss_mb

CLEAN = [
    "Clear piece on the frigate delays, thanks. The budget table was especially useful.",
    "I think the minister is wrong here, but the article explains both sides fairly.",
    "Source? The figure of 12 civilians killed in the strike differs from the UN report.",
    "Typo in the third paragraph: it's the F-35A, not the B.",
    "As a veteran I can say the procurement process has been broken for decades.",
]
SPAM = [
    "CONGRATULATIONS you won a $1000 gift card, claim now at http://gift-claim.example/win",
    "Earn $500 a day from home, message me on whatsapp +44 7700 900123",
]
TOXIC = ["You are a pathetic idiot and everyone here knows it.", "Shut up, moron, nobody asked you."]


def body_for(n: int, rng: random.Random, sent: list[str]) -> dict:
    if sent and rng.random() < 0.05:
        return {"replay": rng.choice(sent)}
    roll = rng.random()
    pool = CLEAN if roll < 0.7 else SPAM if roll < 0.9 else TOXIC
    return {
        "name": f"Reader {n}",
        "email": f"reader{n}@example.org",
        "text": f"{rng.choice(pool)} ({n})",
        "ip": f"198.51.{n % 250}.{(n // 250) % 250}",
        "client_comment_id": f"load-{n}",
    }


def steady(port: int, key: str, rate: float, seconds: float, threads: int = 16) -> dict:
    rng = random.Random(7)
    sent: list[str] = []
    bodies = {}
    total = int(rate * seconds)
    for n in range(total):
        body = body_for(n, rng, sent)
        if "replay" in body:
            bodies[n] = bodies[int(body["replay"].split("-")[1])]
        else:
            bodies[n] = body
            sent.append(body["client_comment_id"])
    start = time.perf_counter() + 0.5
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    lock = threading.Lock()
    next_index = iter(range(total))

    def worker() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                n = next(next_index, None)
            if n is None:
                break
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request("POST", "/v1/comments", json.dumps(bodies[n]), headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    errors += 1
                continue
            finished = time.perf_counter()
            with lock:
                latencies.append((finished - scheduled) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {
        "target_rate": rate,
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "requests": total,
        "statuses": statuses,
        "connection_errors": errors,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
    }


def soak(port: int, key: str, requests_total: int, tmp: Path) -> dict:
    script = post_script(tmp / "soak.lua", key)
    done = 0
    rounds = []
    while done < requests_total:
        out = subprocess.run(
            ["wrk", "-t2", "-c8", "-d20s", "-s", str(script), f"http://127.0.0.1:{port}/v1/comments"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        count = int(out.split(" requests in ")[0].split()[-1])
        done += count
        rounds.append(count)
    return {"requests": done, "rounds_of_20s": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--soak-requests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {
            **os.environ,
            "MODERATION_DATABASE_URL": f"sqlite:///{tmp}/load.sqlite3",
            "MODERATION_RATE_LIMIT": "off",
        }
        key = prepare_service(env, "load")
        port = free_port()
        server = subprocess.Popen(
            serve_command(port, args.workers), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", server)
            rss_start = worker_rss_mb(server.pid)
            result = {"steady": steady(port, key, args.rate, args.seconds)}
            rss_after_steady = worker_rss_mb(server.pid)
            result["soak"] = soak(port, key, args.soak_requests, tmp)
            result["worker_rss_mb"] = {
                "start": rss_start,
                "after_steady": rss_after_steady,
                "after_soak": worker_rss_mb(server.pid),
            }
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
