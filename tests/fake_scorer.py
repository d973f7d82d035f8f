"""A deterministic fake NLI scorer for the task tests: no model, no torch.

It satisfies `tasks.base.PairScorer` and `tasks.base.Tokens`: logits come from a hash of the
(premise, hypothesis) pair, so every task can be driven through the one scoring loop and its
decisions checked against logits the test computes itself. Tokens are whitespace words.
"""

import hashlib
import re
from typing import List, Sequence, Tuple

import numpy as np

Pair = Tuple[str, str]
CLASSES = ["entailment", "neutral", "contradiction"]


def exact_logits(pair: Pair) -> np.ndarray:
    """The 'exact' (float32) logits of a pair: three numbers in [-4, 4) from its hash."""
    digest = hashlib.sha256("\x00".join(pair).encode("utf8")).digest()
    return np.array([digest[i] / 32.0 - 4.0 for i in range(3)], dtype=np.float32)


class FakeScorer:
    """Logits of pairs from `exact_logits`; with `lossy_step`, `score` rounds them to that step
    (a lossy dtype) and `rescore_exact` restores the exact values of the rows it is given.

    recheck_margin (float): As the backend's; re-checks happen when > 0 and `lossy_step` > 0.
    max_length (int): The token budget of a pair (words).
    """

    entailment_index = 0
    contradiction_index = 2
    class_names = CLASSES

    def __init__(self, *, lossy_step: float = 0.0, recheck_margin: float = 0.0, max_length: int = 64) -> None:
        self.lossy_step = lossy_step
        self.recheck_margin = recheck_margin
        self.max_length = max_length
        self.calls: List[List[Pair]] = []
        self.rescored: List[Tuple[int, int]] = []

    @property
    def rechecks(self) -> bool:
        return self.recheck_margin > 0 and self.lossy_step > 0

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        self.calls.append(list(pairs))
        logits = np.stack([exact_logits(pair) for pair in pairs])
        if self.lossy_step:
            logits = np.round(logits / self.lossy_step) * self.lossy_step
        return logits

    def rescore_exact(self, pairs: Sequence[Pair], logits: np.ndarray, rows: Sequence[Tuple[int, int]]) -> np.ndarray:
        result = logits.copy()
        for start, end in rows:
            self.rescored.append((start, end))
            for i in range(start, end):
                result[i] = exact_logits(pairs[i])
        return result

    # Tokens ----------------------------------------------------------------------------

    def token_lengths(self, texts: Sequence[str]) -> List[int]:
        return [len(text.split()) for text in texts]

    def premise_budget(self, hypotheses: Sequence[str]) -> int:
        return self.max_length - 3 - max((len(h.split()) for h in hypotheses), default=0)

    def token_windows(self, text: str, max_tokens: int, stride: int) -> List[Tuple[int, int]]:
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        if len(words) <= max_tokens:
            return [(0, len(text))]
        step = max(1, max_tokens - max(0, min(stride, max_tokens - 1)))
        spans = []
        for begin in range(0, len(words), step):
            chunk = words[begin : begin + max_tokens]
            spans.append((chunk[0][0], chunk[-1][1]))
            if begin + max_tokens >= len(words):
                break
        return spans
