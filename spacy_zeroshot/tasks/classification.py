"""Zero-shot classification of texts against hypotheses, long texts included.

Shared by the `zeroshot_textcat` component and the plain `ZeroShotClassifier`.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..maths import candidate_scores
from ..scheduler import row_ranges
from .base import Logits, PairBatch, Tokens, score_batch

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

LONG_TEXT = ("truncate", "windows", "sentences")
AGGREGATE = ("max", "mean")
Span = Tuple[int, int]


@dataclass
class Classified:
    """Scores of one text: one per hypothesis (None for an empty text), and whether it was cut.

    `premises` are the character spans of the text that were scored (one per window) and
    `logits` their raw logits, shape (windows, hypotheses, classes), for the audit trail.
    """

    scores: Optional[np.ndarray]
    truncated: bool
    premises: Sequence[Span] = ()
    logits: Optional[np.ndarray] = None


def _window_stride(budget: int) -> int:
    return min(64, budget // 4)


def _pack_sentences(backend: "Tokens", text: str, sentences: Sequence[Span], budget: int) -> List[Span]:
    """Greedily join consecutive sentences into chunks that fit `budget` tokens."""
    lengths = backend.token_lengths([text[s:e] for s, e in sentences])
    chunks: List[Span] = []
    start, end, used = -1, -1, 0
    for (s, e), n in zip(sentences, lengths):
        if start >= 0 and used + n <= budget:
            end, used = e, used + n
            continue
        if start >= 0:
            chunks.append((start, end))
        start, end, used = s, e, n
    if start >= 0:
        chunks.append((start, end))
    # Subword counts of joined text can differ from the sum: re-check, and window what overflows.
    result: List[Span] = []
    for (s, e), n in zip(chunks, backend.token_lengths([text[s:e] for s, e in chunks])):
        if n <= budget:
            result.append((s, e))
        else:
            windows = backend.token_windows(text[s:e], budget, _window_stride(budget))
            result.extend((s + ws, s + we) for ws, we in windows)
    return result


def premise_windows(
    backend: "Tokens",
    texts: Sequence[str],
    budgets: Sequence[int],
    long_text: str,
    sentences: Optional[Sequence[Optional[Sequence[Span]]]] = None,
) -> List[Tuple[List[Span], bool]]:
    """Split each text into the premises to score: (character spans, truncated?).

    An empty or whitespace-only text gets no premise. A text within its budget of tokens
    (`budgets`, one per text) is one premise, exactly as the zero-shot pipeline reads it.
    """
    lengths = backend.token_lengths(list(texts))
    result: List[Tuple[List[Span], bool]] = []
    for i, (text, n, budget) in enumerate(zip(texts, lengths, budgets)):
        if not text.strip():
            result.append(([], False))
        elif n <= budget or long_text == "truncate":
            result.append(([(0, len(text))], n > budget))
        elif long_text == "sentences" and sentences is not None and sentences[i]:
            result.append((_pack_sentences(backend, text, sentences[i] or [], budget), False))
        else:
            result.append((backend.token_windows(text, budget, _window_stride(budget)), False))
    return result


def classify(
    backend: "NLIBackend",
    texts: Sequence[str],
    hypotheses: Sequence[str],
    *,
    multi_label: bool,
    long_text: str = "truncate",
    aggregate: str = "max",
    sentences: Optional[Sequence[Optional[Sequence[Span]]]] = None,
    threshold: Union[float, Sequence[float]] = 0.5,
) -> List[Classified]:
    """Score every text against every hypothesis in one pooled call to the backend.

    texts (Sequence[str]): Premises.
    hypotheses (Sequence[str]): One filled template per candidate label.
    multi_label (bool): Independent entail-vs-contradict scores instead of a softmax over labels.
    long_text (str): "truncate", "windows" or "sentences" for texts past the token budget.
    aggregate (str): "max" or "mean" of per-window scores.
    sentences (Optional[Sequence]): Per text, sentence character spans (for "sentences").
    threshold (Union[float, Sequence[float]]): The multi-label decision threshold, or one
        per hypothesis: with the backend's `recheck_margin`, scores close to it (or,
        exclusive, close top two) are re-checked.
    RETURNS (List[Classified]): Per text, scores aligned with `hypotheses`.
    """
    return classify_each(
        backend,
        texts,
        [hypotheses] * len(texts),
        multi_label=multi_label,
        long_text=long_text,
        aggregate=aggregate,
        sentences=sentences,
        threshold=threshold,
    )


def classify_each(
    backend: "NLIBackend",
    texts: Sequence[str],
    hypothesis_sets: Sequence[Sequence[str]],
    *,
    multi_label: bool,
    long_text: str = "truncate",
    aggregate: str = "max",
    sentences: Optional[Sequence[Optional[Sequence[Span]]]] = None,
    threshold: Union[float, Sequence[float]] = 0.5,
) -> List[Classified]:
    """`classify` with each text scored against its own hypotheses, all pairs in one pooled call.

    A text's premise budget comes from its own longest hypothesis, so every text is read
    exactly as if it were classified alone; the backend de-duplicates and length-sorts the
    pairs of all texts together.

    hypothesis_sets (Sequence[Sequence[str]]): Per text, one filled template per candidate label.
    RETURNS (List[Classified]): Per text, scores aligned with its hypotheses.
    """
    task = TextClassification(multi_label=multi_label, long_text=long_text, aggregate=aggregate, threshold=threshold)
    batch = task.text_requests(texts, hypothesis_sets, backend, sentences)
    return task.results(batch, score_batch(backend, task, batch))


def _thresholds(threshold: Union[float, Sequence[float]], n: int) -> List[float]:
    """One multi-label threshold per label: the global one, or the calibrated list."""
    return [float(threshold)] * n if isinstance(threshold, (int, float)) else list(threshold)


@dataclass
class TextState:
    """A classification batch's bookkeeping: per text, its premise windows and hypotheses."""

    texts: List[str]
    windows: List[Tuple[List[Span], bool]]
    hypothesis_sets: List[List[str]]


class TextClassification:
    """The pair logic of zero-shot text classification: each text's premises (windows) against
    each of its hypotheses; one decision per text.

    multi_label (bool): Independent entail-vs-contradict scores instead of a softmax over labels.
    long_text (str): "truncate", "windows" or "sentences" for texts past the token budget.
    aggregate (str): "max" or "mean" of per-window scores.
    threshold (Union[float, Sequence[float]]): The multi-label decision threshold, or one per
        hypothesis (for the close-call re-check).
    """

    def __init__(
        self, *, multi_label: bool, long_text: str = "truncate", aggregate: str = "max", threshold: Union[float, Sequence[float]] = 0.5
    ) -> None:
        self.multi_label = multi_label
        self.long_text = long_text
        self.aggregate = aggregate
        self.threshold = threshold

    def text_requests(
        self,
        texts: Sequence[str],
        hypothesis_sets: Sequence[Sequence[str]],
        tokens: Tokens,
        sentences: Optional[Sequence[Optional[Sequence[Span]]]] = None,
    ) -> PairBatch:
        """The pairs of every text's premise windows with its hypotheses (rows: window-major).
        Only empty texts: no pairs, and `tokens` is not asked (the model is not loaded)."""
        sets = [list(hypotheses) for hypotheses in hypothesis_sets]
        if not any(text.strip() for text in texts):
            return PairBatch(state=TextState(list(texts), [([], False) for _ in texts], sets))
        budgets: Dict[Tuple[str, ...], int] = {}
        for text, hypotheses in zip(texts, sets):
            if text.strip() and tuple(hypotheses) not in budgets:
                budgets[tuple(hypotheses)] = tokens.premise_budget(hypotheses)
        text_budgets = [budgets.get(tuple(hypotheses), 0) for hypotheses in sets]
        windows = premise_windows(tokens, texts, text_budgets, self.long_text, sentences)
        pairs = [
            (text[s:e], h) for text, (spans, _), hypotheses in zip(texts, windows, sets) for s, e in spans for h in hypotheses
        ]
        sizes = [len(hypotheses) for hypotheses in sets]
        limits: List[Optional[List[float]]] = [
            _thresholds(self.threshold, n) if self.multi_label else None for n in sizes
        ]
        return PairBatch(
            pairs=pairs,
            rows=row_ranges([len(spans) * n for (spans, _), n in zip(windows, sizes)]),
            thresholds=limits,
            ranked=not self.multi_label,
            state=TextState(list(texts), windows, sets),
        )

    def option_scores(self, batch: PairBatch, logits: Logits) -> List[np.ndarray]:
        return [np.zeros(0) if result.scores is None else result.scores for result in self.results(batch, logits)]

    def results(self, batch: PairBatch, logits: Logits) -> List[Classified]:
        """Per text, its windows' scores aggregated."""
        state: TextState = batch.state
        if not batch.pairs:
            return [Classified(None, False) for _ in state.texts]
        results: List[Classified] = []
        for (spans, truncated), rows, hypotheses in zip(state.windows, batch.rows, state.hypothesis_sets):
            if not spans:
                results.append(Classified(None, False))
                continue
            block = logits.values[rows[0] : rows[1]].reshape(len(spans), len(hypotheses), -1)
            per_window = np.stack(
                [candidate_scores(w, logits.entailment, logits.contradiction, self.multi_label) for w in block]
            )
            scores = per_window.max(axis=0) if self.aggregate == "max" else per_window.mean(axis=0)
            results.append(Classified(scores, truncated, spans, block))
        return results
