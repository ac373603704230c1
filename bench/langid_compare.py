"""Compare py3langid and langdetect on our short comments: accuracy per language and time per text.

Run: python bench/langid_compare.py  (langdetect is not a dependency: pip install langdetect first)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from langid_comments import SHORT_COMMENTS  # noqa: E402


def _py3langid():  # noqa: ANN202
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: identifier.classify(text)[0]


def _langdetect():  # noqa: ANN202
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded
    return detect


def measure(name: str, detect) -> None:  # noqa: ANN001
    detect("warm up the model")
    correct = {}
    times = []
    for language, texts in SHORT_COMMENTS.items():
        hits = 0
        for text in texts:
            started = time.perf_counter()
            found = detect(text)
            times.append(time.perf_counter() - started)
            hits += found == language
        correct[language] = hits
    total = sum(correct.values())
    count = sum(len(t) for t in SHORT_COMMENTS.values())
    per_language = " ".join(f"{lang}={hits}/{len(SHORT_COMMENTS[lang])}" for lang, hits in correct.items())
    print(
        f"{name}: {total}/{count} correct ({per_language}); "
        f"p50 {statistics.median(times) * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms per text"
    )


if __name__ == "__main__":
    measure("py3langid", _py3langid())
    measure("langdetect", _langdetect())
