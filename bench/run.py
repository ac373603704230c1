"""Benchmarks, run with `make bench`: one run, same machine, same gunicorn settings.

1. the floor: a bare Flask JSON endpoint under gunicorn, loaded with wrk;
2. a second floor: the same endpoint validating the body with marshmallow and committing one
   SQLite row, the obligations of any comment service without any of our work;
3. `POST /v1/comments` end to end (checks, classifier, SQLite write) under `moderation serve`;
4. in-process single-comment scoring latency (p50/p99) and batch throughput;
5. resident memory of each gunicorn worker.

Each wrk measurement is repeated and the median reported; the end-to-end numbers are also given as
a ratio of the floor measured minutes apart on the same machine, which is what to compare across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * _UNITS[unit]


def comment_texts(path: Path, seed: int = 1) -> Path:
    """Write our corpus's comments, shuffled, one JSON string per line, for bench/post_comments.lua.

    The texts are distinct (but for two short ones the corpus holds twice, "Source?" among them) and
    of the lengths real comments have: a handful of repeated texts would let the scorer's per-text
    caches make the service look fast.
    """
    texts = []
    for corpus_file in sorted((ROOT / "model" / "corpus").glob("*.jsonl")):
        for line in corpus_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    random.Random(seed).shuffle(texts)
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path


def post_script(path: Path, key: str | None = None) -> Path:
    """Write wrk's script for posting our corpus's comments (bench/post_comments.lua), with JSON
    headers; the texts file is written beside the script."""
    texts = comment_texts(path.with_suffix(".texts"))
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"\n' if key else ""
    path.write_text(
        f"texts_file = {json.dumps(str(texts))}\n"
        + auth
        + 'wrk.headers["Content-Type"] = "application/json"\n'
        + (ROOT / "bench" / "post_comments.lua").read_text()
    )
    return path


def run_wrk(url: str, seconds: int, connections: int, threads: int, script: Path | None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, env={**os.environ}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def worker_rss_mb(master_pid: int) -> list[float]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True
    ).stdout.split()
    sizes = []
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        found = re.search(r"VmRSS:\s+(\d+)", status)
        if found:  # a worker that is exiting (a zombie) has no resident set
            sizes.append(round(int(found.group(1)) / 1024, 1))
    return sizes


def gunicorn_master(proc: subprocess.Popen) -> int:
    # `moderation serve` execs gunicorn, so the process we started is the master.
    return proc.pid


def prepare_service(env: dict, name: str) -> str:
    """Migrate the database env points at and return a new client key for it."""
    cli = [str(BIN / "moderation")]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*cli, "keys", "create", "--role", "client", "--name", name],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return created.stdout.split()[-1]


def serve_command(port: int, workers: int) -> list[str]:
    """`moderation serve` on 127.0.0.1:port with the given number of workers."""
    return [
        str(BIN / "moderation"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def measure_server(cmd: list[str], env: dict, url: str, args: argparse.Namespace, script: Path | None):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url.rsplit("/v1", 1)[0] + "/healthz" if "/v1" in url else url, proc)
        run_wrk(url, 2, args.connections, 2, script)  # warm-up
        runs = [run_wrk(url, args.seconds, args.connections, 2, script) for _ in range(args.repeats)]
        rss = worker_rss_mb(gunicorn_master(proc))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "runs": runs,
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "worker_rss_mb": rss,
    }


def in_process(model_dir: Path) -> dict:
    from moderation.classifier.bundle import ModelBundle
    from moderation.pipeline.domain import Submission

    bundle = ModelBundle.load_current(model_dir)
    corpus = [
        json.loads(line)
        for path in sorted((ROOT / "model" / "corpus").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    records = [{"text": r["text"], "name": r.get("name", ""), "email": r.get("email", "")} for r in corpus]
    for record in records[:50]:
        bundle.score(record)
    single = []
    for record in records[:2000]:
        started = time.perf_counter()
        bundle.score(record)
        single.append((time.perf_counter() - started) * 1000)
    pipeline = []
    for record in records[:1000]:
        started = time.perf_counter()
        Submission(name=record["name"] or "x", email=record["email"] or "x@example.org", text=record["text"])
        bundle.score(record)
        pipeline.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    bundle.score_many(records)
    batch_seconds = time.perf_counter() - started
    q = statistics.quantiles
    return {
        "score_p50_ms": round(statistics.median(single), 3),
        "score_p99_ms": round(q(single, n=100)[98], 3),
        "normalize_and_score_p50_ms": round(statistics.median(pipeline), 3),
        "batch_comments_per_second": round(len(records) / batch_seconds),
        "batch_size": len(records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model-dir", default=str(ROOT / "model"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")

    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "settings": vars(args),
    }
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        gunicorn = [
            str(BIN / "gunicorn"), "--config", "python:moderation.ops.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--chdir", str(ROOT / "bench"), "bare_app:create_app()",
        ]  # fmt: skip
        floor_script = post_script(Path(tmp) / "floor.lua")
        results["floor"] = measure_server(
            gunicorn, dict(os.environ), f"http://127.0.0.1:{port}/v1/comments", args, floor_script
        )
        port = free_port()
        store_floor = [*gunicorn[:-1], "bare_app:create_store_app()"]
        store_floor[store_floor.index("--bind") + 1] = f"127.0.0.1:{port}"
        results["store_floor"] = measure_server(
            store_floor,
            {**os.environ, "BENCH_FLOOR_DB": f"{tmp}/floor.sqlite3"},
            f"http://127.0.0.1:{port}/v1/comments",
            args,
            floor_script,
        )

        env = {
            **os.environ,
            "MODERATION_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "MODERATION_MODEL_DIR": args.model_dir,
            "MODERATION_RATE_LIMIT": "off",
            "MODERATION_FLOOD_SECONDS": "0",
        }
        key = prepare_service(env, "bench")
        port = free_port()
        script = post_script(Path(tmp) / "post.lua", key)
        results["decisions"] = measure_server(
            serve_command(port, args.workers), env, f"http://127.0.0.1:{port}/v1/comments", args, script
        )
    results["ratio_rps_vs_floor"] = round(results["decisions"]["rps"] / results["floor"]["rps"], 3)
    results["ratio_rps_vs_store_floor"] = round(
        results["decisions"]["rps"] / results["store_floor"]["rps"], 3
    )
    results["in_process"] = in_process(Path(args.model_dir))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2))
    f, d, p = results["floor"], results["decisions"], results["in_process"]
    print("| measurement | requests/s | p50 ms | p99 ms | non-2xx | worker RSS MB |")
    print("|---|---|---|---|---|---|")
    print(
        f"| bare Flask endpoint (floor) | {f['rps']:.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | "
        f"{f['non_2xx']} | {f['worker_rss_mb']} |"
    )
    s = results["store_floor"]
    print(
        f"| validate + SQLite insert floor | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
        f"{s['non_2xx']} | {s['worker_rss_mb']} |"
    )
    print(
        f"| POST /v1/comments end to end | {d['rps']:.0f} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | "
        f"{d['non_2xx']} | {d['worker_rss_mb']} |"
    )
    print(
        f"\nend to end / floor: {results['ratio_rps_vs_floor']:.2f}; "
        f"end to end / validate + insert floor: {results['ratio_rps_vs_store_floor']:.2f}"
    )
    print(
        f"in process: score p50 {p['score_p50_ms']} ms, p99 {p['score_p99_ms']} ms; "
        f"normalize+score p50 {p['normalize_and_score_p50_ms']} ms; "
        f"batch {p['batch_comments_per_second']} comments/s over {p['batch_size']}"
    )


if __name__ == "__main__":
    main()
