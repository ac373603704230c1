"""How long fitting takes with the heads one after the other and in parallel threads.

Fits the default recipe on the fitting side of the seed corpus with n_jobs=1 and n_jobs=2,
alternating, and prints each run's wall and CPU seconds and the medians; also checks that the two
give identical weights. `moderation train` as a whole is timed with /usr/bin/time (see
docs/performance.md).

Usage: python bench/train_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from moderation.classifier.bundle import HEADS
from moderation.classifier.datasets import load_corpus
from moderation.classifier.split import split
from moderation.classifier.train import DEFAULT_PARAMS, dedupe_key, fit, head_weights

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = split(load_corpus(ROOT / "model" / "corpus"), dedupe_key).fitting
    times: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    weights: dict[int, list[np.ndarray]] = {}
    for run in range(args.runs):
        for n_jobs in (1, 2):
            wall, cpu = time.perf_counter(), time.process_time()
            fitted = fit(rows, dict(DEFAULT_PARAMS), seed=13, n_jobs=n_jobs)
            took = (time.perf_counter() - wall, time.process_time() - cpu)
            times[n_jobs].append(took)
            weights[n_jobs] = [head_weights(fitted.heads[h]) for h in HEADS]
            print(f"run {run + 1} n_jobs={n_jobs}: {took[0]:.1f} s wall, {took[1]:.1f} s CPU", flush=True)
    same = all(np.array_equal(a, b) for a, b in zip(weights[1], weights[2], strict=True))
    for n_jobs, runs in times.items():
        print(
            f"n_jobs={n_jobs}: median {statistics.median(w for w, _ in runs):.1f} s wall, "
            f"{statistics.median(c for _, c in runs):.1f} s CPU over {len(runs)} runs ({len(rows)} rows)"
        )
    print(f"identical weights: {same}")


if __name__ == "__main__":
    main()
