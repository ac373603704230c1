"""Time and peak memory of `moderation train` against the number of rows, on generated data.

Generates labelled comments from our own seed corpus (model/corpus): each row takes one corpus
comment, adds sentences of other comments with the same label (their tags joined), and varies it:
made-up words (names, places, typos of a site's readers) drawn from a long-tailed vocabulary of
200,000, letters dropped or swapped, punctuation and case changed. Every generated text is
distinct. The rows go to a temporary JSONL file (never to the repository); for each size the first
N rows are trained on with `moderation train --data FILE --no-corpus --out TMPDIR` under
`/usr/bin/time -v`, and the script prints rows, wall seconds, CPU seconds, the peak RSS of the
largest process (what `time -v` reports) and the peak of the whole process tree's RSS (sampled
every half second: the streamed recipe's feature workers are separate processes).

Usage: python bench/train_scale.py [--sizes 100000,250000,500000] [--workdir DIR] [--keep]
                                   [--extra=ARGS]   (e.g. --extra=--streamed)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = (
    "ka ri to mo su le na vi de ro pa la ni go be ta mi lo ke ra zu fe do si an el or un ia th st ch br "
    "tr sk gl pl mar ton ber ville ford wick son ley ham stein ova ez ini"
).split()
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PUNCT = (".", "!", "?", "...", "!!", ".", "", "")
FILLERS = ("honestly", "really", "tbh", "imo", "frankly", "again", "seriously", "well", "literally", "ok")


def corpus_rows() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    by_label: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for path in sorted((ROOT / "model" / "corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                by_label[row["label"]].append((row["text"], tuple(row.get("tags") or ())))
    return by_label


def made_up_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return (
        word[:i] + word[i + 1 :]
        if rng.random() < 0.5
        else word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    )


def vary(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):  # made-up words, long-tailed (Zipf-like) choice
        word = vocabulary[min(int(rng.paretovariate(0.7)) - 1, len(vocabulary) - 1)]
        words.insert(rng.randrange(len(words) + 1), word.capitalize() if rng.random() < 0.5 else word)
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        words[i] = typo(words[i], rng)
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    out = " ".join(words).rstrip(".!? ") + rng.choice(_PUNCT)
    if rng.random() < 0.1:
        out = out.lower()
    elif rng.random() < 0.03:
        out = out.upper()
    return out


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    by_label = corpus_rows()
    labels = sorted(by_label)
    weights = [len(by_label[label]) for label in labels]
    vocabulary = made_up_words(rng, 200_000)
    rng.shuffle(vocabulary)
    seen: set[bytes] = set()
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < rows:
            label = rng.choices(labels, weights)[0]
            text, tags = rng.choice(by_label[label])
            tags = set(tags)
            pieces = [text]
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                other, other_tags = rng.choice(by_label[label])
                sentences = _SENTENCE.split(other)
                pieces.insert(rng.randrange(len(pieces) + 1), rng.choice(sentences))
                tags |= set(other_tags)
            text = vary(" ".join(pieces), rng, vocabulary)
            key = hashlib.blake2b(re.sub(r"\W+", "", text.lower()).encode(), digest_size=8).digest()
            if key in seen:
                continue
            seen.add(key)
            out.write(
                json.dumps({"text": text, "label": label, "tags": sorted(tags)}, ensure_ascii=False) + "\n"
            )
            written += 1


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children[int(fields[1])].append(int(entry))
            except (OSError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run(data: Path, out: Path, extra: list[str], log: Path) -> dict[str, float]:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "moderation", "train", "--data", str(data),
               "--no-corpus", "--out", str(out), *extra]  # fmt: skip
    started = time.perf_counter()
    peak, reported = 0, 0.0
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        while process.poll() is None:
            now = tree_rss(process.pid)
            peak = max(peak, now)
            if time.perf_counter() - reported >= 30:  # a run may be stopped: keep a trace on stderr
                reported = time.perf_counter()
                print(f"  {reported - started:6.0f} s: RSS of all processes {now / 2**20:,.0f} MB, "
                      f"peak {peak / 2**20:,.0f} MB", file=sys.stderr, flush=True)  # fmt: skip
            time.sleep(0.5)
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if process.returncode:
        print(text[-3000:])
        raise SystemExit(f"training failed ({process.returncode}); log in {log}")
    maxrss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return {"wall": wall, "cpu": user + system, "max_process_rss": maxrss, "tree_rss": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,250000,500000,1000000,2000000")
    parser.add_argument("--workdir", default=None, help="where the data and models go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and models")
    parser.add_argument("--extra", default="", help="more arguments for `moderation train`")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="train-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    # A file generated for more rows serves too: the generator is seeded, so its first N rows are
    # the rows a smaller run would generate.
    made = sorted((int(p.stem.split("-")[1]), p) for p in work.glob("generated-*.jsonl"))
    data = next((p for n, p in made if n >= max(sizes)), work / f"generated-{max(sizes)}.jsonl")
    if not data.exists():
        started = time.perf_counter()
        generate(data, max(sizes))
        print(f"generated {max(sizes):,} rows in {time.perf_counter() - started:.0f} s: {data}", flush=True)
    print("| rows | wall s | CPU s | peak RSS, largest process MB | peak RSS, all processes MB |", flush=True)
    print("|---|---|---|---|---|", flush=True)
    try:
        for size in sizes:
            part = work / f"rows-{size}.jsonl"
            with open(data, encoding="utf-8") as source, open(part, "w", encoding="utf-8") as target:
                for i, line in enumerate(source):
                    if i == size:
                        break
                    target.write(line)
            result = run(part, work / f"model-{size}", shlex.split(args.extra), work / f"train-{size}.log")
            print(
                f"| {size:,} | {result['wall']:.0f} | {result['cpu']:.0f} | "
                f"{result['max_process_rss'] / 2**20:,.0f} | {result['tree_rss'] / 2**20:,.0f} |",
                flush=True,
            )
            part.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
