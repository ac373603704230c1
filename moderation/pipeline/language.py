"""Language identification of comment text with py3langid's bundled model (no download, no pickle).

Only a confident identification counts: a comment of a few words, or mostly links, numbers or emoji,
is "undetermined" and treated like a comment in a supported language. The model's corpus is English,
so English is the one supported language.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

SUPPORTED_LANGUAGES = ("en",)
POLICIES = ("hold", "approve", "score")
# Below these, a text is too short to call: a greeting or a name reads as many languages.
MIN_WORDS = 4
MIN_LETTERS = 20
# Probability (py3langid's normalized one) from which an identification counts.
MIN_CONFIDENCE = 0.95

# Scripts written without spaces between words (Chinese, Japanese, Thai) or in dense syllable blocks
# (Korean): a few characters say as much as several words.
_DENSE_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
MIN_DENSE_CHARACTERS = 8
# Enough text to identify a language; the rest of a long comment only costs time.
MAX_SAMPLE_CHARACTERS = 2_000
_WORD = re.compile(r"[^\W\d_]{2,}")

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    """Load py3langid's model once per process (about 0.3 s), on first use."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


@dataclass(frozen=True)
class Detection:
    """The identified language (ISO 639-1 code) and its probability; language None when undetermined."""

    language: str | None
    confidence: float

    @property
    def supported(self) -> bool:
        """Whether the model may score this text: an undetermined language counts as supported."""
        return self.language is None or self.language in SUPPORTED_LANGUAGES


UNDETERMINED = Detection(None, 0.0)


def _prose(text: str) -> str:
    """The text's first MAX_SAMPLE_CHARACTERS without links and e-mail addresses.

    By whitespace-separated tokens, not a regular expression: a pattern such as `\\S+@\\S+` retries
    from every position of a long run without spaces, quadratic in its length (28 s for 100,000
    letters).
    """
    kept = []
    size = 0
    for token in text[: MAX_SAMPLE_CHARACTERS * 4].split():
        lowered = token.lower()
        if "://" in lowered or lowered.startswith("www.") or "@" in token:
            continue
        kept.append(token)
        size += len(token) + 1
        if size >= MAX_SAMPLE_CHARACTERS:
            break
    return " ".join(kept)[:MAX_SAMPLE_CHARACTERS]


def identify(text: str) -> Detection:
    """Identify the language of a comment's text, or UNDETERMINED when the text is too short to tell.

    Only the most likely language with a probability of at least MIN_CONFIDENCE counts. A looser
    rule ("anything but English when English is unlikely") read short English abuse as Javanese or
    Nigerian Pidgin on our corpus: a language hold must never be a way around the classifier.
    """
    prose = _prose(text)
    words = _WORD.findall(prose)
    letters = sum(len(word) for word in words)
    enough = len(words) >= MIN_WORDS and letters >= MIN_LETTERS
    if not enough and len(_DENSE_SCRIPT.findall(prose)) < MIN_DENSE_CHARACTERS:
        return UNDETERMINED
    language, confidence = _model().classify(" ".join(words))
    if confidence < MIN_CONFIDENCE:
        return UNDETERMINED
    return Detection(str(language), round(float(confidence), 4))


def preload() -> None:
    """Load the model now (at start-up, before workers fork) rather than on the first request."""
    _model()


def normalize_code(code: str) -> str:
    """Return the primary language of a BCP 47 tag as given by clients: `en-US` and `EN` are `en`."""
    return code.strip().replace("_", "-").split("-")[0].lower()
