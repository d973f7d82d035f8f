"""What the benchmark times: texts and labels.

- Short texts: AG News test texts of 30-120 tokens (the main table).
- Long texts: premises of 400-500 tokens, consecutive AG News texts joined (attention's
  share of the work grows with length).
- A label sweep: the same docs against 2, 8, 32 and 64 labels (users of transformers'
  pipeline report ~70 labels taking minutes per doc).

Texts come from ../shared/data/ag_news/test.csv when present (read by path), else generated
text of the same length profile.
"""

import csv
import random
from typing import Any, Iterator, List, Tuple

from .models import WORDS, generated_texts
from .shared import SHARED_DATA

AG_NEWS = SHARED_DATA / "ag_news" / "test.csv"
TEMPLATE = "This example is {}."
LABELS = ["world", "sports", "business", "science and technology", "politics", "health", "entertainment", "travel"]
# The label sweep's 64 labels: the 8 above first, so that every prefix is a sensible label set.
SWEEP_LABELS = LABELS + [
    "economy", "finance", "stock market", "banking", "energy", "oil", "agriculture", "real estate",
    "football", "basketball", "tennis", "golf", "motor racing", "olympics", "cricket", "baseball",
    "computers", "software", "internet", "mobile phones", "space", "biology", "physics", "climate",
    "medicine", "education", "law", "crime", "military", "terrorism", "elections", "diplomacy",
    "music", "film", "television", "books", "art", "fashion", "food", "religion",
    "transport", "aviation", "automobiles", "weather", "disasters", "environment", "labour", "retail",
    "media", "advertising", "games", "history", "science", "immigration", "human rights", "royalty",
]  # fmt: skip
SWEEP_SIZES = (2, 8, 32, 64)
SHORT_TOKENS = (30, 120)
LONG_TOKENS = (400, 500)


def _ag_news_texts() -> Iterator[str]:
    if not AG_NEWS.exists():
        return
    with AG_NEWS.open(encoding="utf8", newline="") as f:
        for row in csv.reader(f):
            yield f"{row[1]}. {row[2]}".replace("\\", " ")


def _length(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def generated_text_of_length(tokenizer: Any, rng: random.Random, low: int, high: int) -> str:
    """A text of random `WORDS` whose length under `tokenizer` is `low` to `high` tokens.
    Deterministic for a given `rng` state and always terminates, whatever the vocabulary (a
    generated one splits a word into several tokens): `high + 1` words (each at least one
    token) pass `high`, and the longest prefix of at most `high` tokens is found by bisection
    (a prefix's length never shrinks as words are added).
    RAISES: ValueError when no prefix lands in the range (one word longer than `high - low` tokens).
    """
    words = [rng.choice(WORDS) for _ in range(high + 1)]
    lo, hi = 0, len(words)  # the prefix of `lo` words fits, `hi` does not
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _length(tokenizer, " ".join(words[:middle]) + ".") <= high:
            lo = middle
        else:
            hi = middle
    text = " ".join(words[:lo]) + "."
    if not low <= _length(tokenizer, text) <= high:
        raise ValueError(f"no generated text of {low}-{high} tokens with this tokenizer: one word takes too many tokens")
    return text


def load_texts(n: int, tokenizer: Any) -> Tuple[List[str], str]:
    """`n` texts of 30-120 tokens: AG News test texts when available, else generated ones.
    RETURNS: the texts and where they came from."""
    low, high = SHORT_TOKENS
    texts: List[str] = []
    for text in _ag_news_texts():
        if len(texts) == n:
            break
        if low <= _length(tokenizer, text) <= high:
            texts.append(text)
    if len(texts) == n:
        return texts, f"AG News test ({AG_NEWS})"
    generated = generated_texts(n - len(texts), random.Random(0))
    return texts + generated, "generated text" if not texts else "AG News + generated text"


def load_long_texts(n: int, tokenizer: Any) -> Tuple[List[str], str]:
    """`n` premises of 400-500 tokens: consecutive AG News test texts joined until the next
    one would pass 500 tokens (a join that ends under 400 starts again), else generated text.
    RETURNS: the texts and where they came from."""
    low, high = LONG_TOKENS
    texts: List[str] = []
    parts: List[str] = []
    for text in _ag_news_texts():
        if len(texts) == n:
            break
        joined = " ".join(parts + [text])
        if _length(tokenizer, joined) <= high:
            parts.append(text)
            continue
        current = " ".join(parts)
        if parts and low <= _length(tokenizer, current) <= high:
            texts.append(current)
        parts = [text]
    joined_count = len(texts)
    rng = random.Random(1)
    while len(texts) < n:
        texts.append(generated_text_of_length(tokenizer, rng, low, high))
    if joined_count == n:
        return texts, f"AG News test texts joined ({AG_NEWS})"
    return texts, "generated text" if not joined_count else "AG News texts joined + generated text"
