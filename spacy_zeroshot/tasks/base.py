"""The task/model split: what a zero-shot task asks of the NLI model, and the one scoring loop.

A task (text classification, entity typing, linking, relations, span ranking) turns docs into
a `PairBatch` of (premise, hypothesis) pairs (`PairTask.requests`) and the logits of those
pairs back into plain predictions (`PairTask.decide`). Between the two, `score_batch` runs the
only scoring loop: one pooled call to the scorer, then the close-call re-check (the decisions
that a lossy dtype's logit error could change are scored again exactly), and `capture` adds
the task's decisions to the audit trail when one is recording. The task never sees the model,
the model never sees spaCy: they meet at the small protocols below (spacy-llm's task/model
split in our terms). Tests drive every task with one deterministic fake scorer
(`tests/fake_scorer.py`).
"""

from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Protocol, Sequence, Set, Tuple, runtime_checkable

import numpy as np

from .. import audit
from ..maths import candidate_scores, is_close_call, log_odds, multilabel_scores
from .decisions import CalibrationTask

Pair = Tuple[str, str]
Rows = Tuple[int, int]  # [start, end) rows of a batch's pairs (and logits)


class Tokens(Protocol):
    """What a task may ask of the model's tokenizer while it builds its requests."""

    @property
    def max_length(self) -> int: ...

    def token_lengths(self, texts: Sequence[str]) -> List[int]: ...

    def token_windows(self, text: str, budget: int, stride: int) -> List[Tuple[int, int]]: ...

    def premise_budget(self, hypotheses: Sequence[str]) -> int: ...


class PairScorer(Protocol):
    """What the scoring loop needs of the model: logits for pairs, and an exact re-check.

    `rescore_exact(pairs, logits, rows)` returns `logits` with the given row ranges scored
    again exactly (float32); `rechecks` says whether that can change anything (a lossy dtype
    and a `recheck_margin` > 0).
    """

    @property
    def rechecks(self) -> bool: ...

    @property
    def recheck_margin(self) -> float: ...

    @property
    def entailment_index(self) -> int: ...

    @property
    def contradiction_index(self) -> int: ...

    def score(self, pairs: Sequence[Pair]) -> np.ndarray: ...

    def rescore_exact(self, pairs: Sequence[Pair], logits: np.ndarray, rows: Sequence[Rows]) -> np.ndarray: ...


@dataclass
class Logits:
    """The raw logits of a batch's pairs, shape (pairs, classes), and the class indices that
    turn them into scores."""

    values: np.ndarray
    entailment: int = 0
    contradiction: int = 0

    def multilabel(self, rows: Optional[Rows] = None) -> np.ndarray:
        """P(entailment) against P(contradiction) per pair (of `rows`, default all)."""
        values = self.values if rows is None else self.values[rows[0] : rows[1]]
        return multilabel_scores(values, self.entailment, self.contradiction)

    def candidates(self, rows: Rows, multi_label: bool) -> np.ndarray:
        """The zero-shot pipeline's scores of the candidates in `rows` (see `maths.candidate_scores`)."""
        if rows[1] <= rows[0]:
            return np.zeros(0)
        return candidate_scores(self.values[rows[0] : rows[1]], self.entailment, self.contradiction, multi_label)


@dataclass
class PairBatch:
    """The pairs a task asks to score for a minibatch of docs, and how its decisions read them.

    pairs (List[Pair]): (premise, hypothesis) pairs, in the order `decide` reads their logits.
    rows (List[Rows]): Per decision (a text's label, a span's type, an entity pair's
        relation, a ranked item), the rows of `pairs` behind it; what the re-check scores again.
    thresholds (List[Optional[List[float]]]): Per decision, the threshold of each of its
        options (None: no threshold): a score close to its threshold is a close call.
    ranked (bool): The best option of a decision wins: close top two options are a close call.
    ranked_together (List[List[int]]): Decisions whose scores are ranked against one another
        (reranking: a query's items); two of them whose order could swap are close calls.
    state (Any): The task's own bookkeeping, for `decide` and `explain`.
    """

    pairs: List[Pair] = field(default_factory=list)
    rows: List[Rows] = field(default_factory=list)
    thresholds: List[Optional[List[float]]] = field(default_factory=list)
    ranked: bool = True
    ranked_together: List[List[int]] = field(default_factory=list)
    state: Any = None


@dataclass
class Explained:
    """One decision for the audit trail: the option decided on, its score and threshold, and
    the rows of the batch behind it, each with how the trail stores its premise."""

    doc_index: int
    target: Any
    label: str
    score: float
    rows: Sequence[Tuple[audit.Premise, int]]
    threshold: Optional[float] = None


class OptionScores(Protocol):
    """What the close-call re-check asks of a task: per decision of a batch, the scores of its options."""

    def option_scores(self, batch: PairBatch, logits: Logits) -> List[np.ndarray]: ...


@runtime_checkable
class PairTask(OptionScores, Protocol):
    """A zero-shot task in terms of NLI pairs (see the module docstring).

    requests: docs -> the pairs to score (no model call; `tokens` only measures text).
    option_scores: per decision of the batch, the scores of its options (for close calls).
    decide: the batch's logits -> per doc, plain msgpack data (what `set_annotations` writes).
    explain: the decisions behind `predictions`, for the audit trail (only called while one
        records).
    gold_groups: gold examples -> `training.TrainGroup`s, with the premises and hypotheses
        of inference.
    calibration: the task's calibration adapter (`decisions.CalibrationTask`: its decisions
        on gold examples, the thresholds and wording it may tune), or None.
    """

    def requests(self, docs: Sequence[Any], tokens: Tokens) -> PairBatch: ...

    def decide(self, docs: Sequence[Any], batch: PairBatch, logits: Logits) -> List[Any]: ...

    def explain(self, docs: Sequence[Any], batch: PairBatch, logits: Logits, predictions: Sequence[Any]) -> Iterable[Explained]: ...

    def gold_groups(self, examples: Sequence[Any], tokens: Tokens) -> List[Any]: ...

    def calibration(self) -> Optional[CalibrationTask]: ...


NO_LOGITS = Logits(np.zeros((0, 0)))


def score_batch(scorer: PairScorer, task: OptionScores, batch: PairBatch) -> Logits:
    """The scoring loop: one pooled call for every pair of the batch, then the decisions that
    are close calls (`close_decisions`) scored again exactly. An empty batch calls nothing
    (the model is not even loaded)."""
    if not batch.pairs:
        return NO_LOGITS
    logits = Logits(scorer.score(batch.pairs), scorer.entailment_index, scorer.contradiction_index)
    if scorer.rechecks:
        close = close_decisions(batch, task.option_scores(batch, logits), scorer.recheck_margin)
        rows = [batch.rows[i] for i in close if batch.rows[i][1] > batch.rows[i][0]]
        if rows:
            logits = Logits(scorer.rescore_exact(batch.pairs, logits.values, rows), logits.entailment, logits.contradiction)
    return logits


def close_decisions(batch: PairBatch, scores: Sequence[np.ndarray], margin: float) -> List[int]:
    """The decisions of `batch` that logit errors below `margin / 2` could change: the close
    call of each decision alone (`maths.is_close_call`: top two, or a score near its
    threshold), and of decisions ranked together (`close_in_rank`).

    RETURNS (List[int]): Sorted positions of the close decisions.
    """
    close = {
        i
        for i, (option_scores, limits) in enumerate(zip(scores, batch.thresholds))
        if option_scores.size and is_close_call(option_scores, margin, ranked=batch.ranked, thresholds=limits)
    }
    if batch.ranked_together:
        best = np.array([float(s.max()) if s.size else 0.0 for s in scores])
        close.update(close_in_rank(best, batch.ranked_together, margin))
    return sorted(close)


def close_in_rank(scores: np.ndarray, groups: Sequence[Sequence[int]], margin: float) -> List[int]:
    """Items whose rank in their group logit errors below `margin / 2` could change: a score
    is P(entailment) against P(contradiction), so an error of e in every logit moves its
    log-odds by at most 2e, and two items can swap only when their log-odds are less than
    2 * margin apart.

    RETURNS (List[int]): Sorted positions of the close items.
    """
    if margin <= 0:
        return []
    odds = log_odds(scores)
    close: Set[int] = set()
    for group in groups:
        items = sorted(group, key=lambda i: -odds[i])
        for a, b in zip(items, items[1:]):
            if odds[a] - odds[b] < 2 * margin:
                close.update((a, b))
    return sorted(close)


def capture(trail: audit.AuditTrail, batch: PairBatch, logits: Logits, decisions: Iterable[Explained]) -> None:
    """Add the explained decisions to the audit trail: each with its scored pairs (premise,
    hypothesis and raw logits, read from the batch)."""
    for decision in decisions:
        pairs = [(premise, batch.pairs[row][1], logits.values[row]) for premise, row in decision.rows]
        trail.add(decision.doc_index, decision.target, decision.label, decision.score, pairs, decision.threshold)


def run_task(scorer: PairScorer, task: PairTask, docs: Sequence[Any], batch: PairBatch) -> List[Any]:
    """Score a batch, decide, and record the decisions in the active audit trail (if any)."""
    logits = score_batch(scorer, task, batch)
    predictions = task.decide(docs, batch, logits)
    trail = audit.active_trail()
    if trail is not None and batch.pairs:
        capture(trail, batch, logits, task.explain(docs, batch, logits, predictions))
    return predictions
