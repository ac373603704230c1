"""How the language rule reads the seed corpus: per label, how many texts are English, undetermined or
another language, and the texts held for language (to check by eye that none of them is English).

Usage: python bench/langid_corpus.py
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

from moderation.pipeline.language import identify

CORPUS = Path(__file__).resolve().parent.parent / "model" / "corpus"


def main() -> None:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    unsupported: list[tuple[str, str, str]] = []
    seconds = 0.0
    total = 0
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            started = time.perf_counter()
            detection = identify(row["text"])
            seconds += time.perf_counter() - started
            total += 1
            language = detection.language or "undetermined"
            kind = "en" if language == "en" else "undetermined" if language == "undetermined" else "other"
            counts[(row["label"], kind)] += 1
            if not detection.supported:
                unsupported.append((row["label"], language, row["text"][:90]))
    print(f"{total} texts, {seconds / total * 1e3:.3f} ms each on average")
    for label in sorted({label for label, _ in counts}):
        parts = ", ".join(f"{kind} {counts[(label, kind)]}" for kind in ("en", "undetermined", "other"))
        print(f"{label}: {parts}")
    print("\nidentified as another language:")
    for label, language, text in unsupported:
        print(f"  {label:5} {language:3} {text}")


if __name__ == "__main__":
    main()
