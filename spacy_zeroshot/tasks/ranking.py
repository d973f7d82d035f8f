"""Zero-shot reranking: how relevant each text is to a query, and ranking metrics.

The premise is the text (a search result, a sentence), the hypothesis the query filled into
a template ("This text is about {}."). Each (text, query) pair is scored on its own,
entailment vs contradiction, as transformers' ZeroShotClassificationPipeline scores a label
with `multi_label=True`. Every pair of a call, across queries, texts and windows of long
texts, goes to the backend in one pooled call. Shared by `ZeroShotClassifier.rerank` and the
`zeroshot_span_ranker` component.
"""

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from ..errors import Errors, Warnings
from ..maths import multilabel_scores
from ..scheduler import row_ranges
from ..validation import check_choice, check_positional_template
from .classification import AGGREGATE, premise_windows

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

DEFAULT_TEMPLATE = "This text is about {}."
LONG_TEXT = ("truncate", "windows")
Span = Tuple[int, int]
Result = Dict[str, Any]


@dataclass
class Relevance:
    """Scores of (premise, hypothesis) items: one per item (0.0 for an empty premise), and
    whether the item's premise was cut at `max_length`."""

    scores: np.ndarray
    truncated: List[bool]


def score_relevance(
    backend: "NLIBackend",
    premises: Sequence[str],
    hypotheses: Sequence[str],
    *,
    long_text: str = "truncate",
    aggregate: str = "max",
    groups: Optional[Sequence[Sequence[int]]] = None,
    threshold: Optional[float] = None,
) -> Relevance:
    """P(entailment) against P(contradiction) of each premise for its own hypothesis.

    premises (Sequence[str]): The texts to rank. Empty or whitespace-only texts score 0.0
        without a model call.
    hypotheses (Sequence[str]): One filled template per premise (pairs are de-duplicated, so
        many premises may share one).
    long_text (str): "truncate" (only the premise is cut to `max_length` tokens, as the HF
        pipeline does) or "windows" (overlapping windows of the premise, scored each).
    aggregate (str): "max" or "mean" of a long premise's window scores.
    groups (Optional[Sequence[Sequence[int]]]): Item positions ranked together (one query's
        texts). With the backend's `recheck_margin` under a lossy dtype, items whose order
        within their group, or whose side of `threshold`, a logit error of half the margin
        could change are scored again in float32.
    threshold (Optional[float]): A decision threshold on the scores, for the re-check.
    RETURNS (Relevance): Scores in [0, 1] (shape (len(premises),)), and truncation flags.
    """
    n = len(premises)
    windows: List[List[Span]] = [[] for _ in range(n)]
    truncated = [False] * n
    by_hypothesis: Dict[str, List[int]] = {}
    for i, premise in enumerate(premises):
        if premise.strip():
            by_hypothesis.setdefault(hypotheses[i], []).append(i)
    if not by_hypothesis:
        return Relevance(np.zeros(n), truncated)  # no model call (nor load) for empty texts
    for hypothesis, items in by_hypothesis.items():
        # Each hypothesis leaves its own room for the premise, as the HF pipeline's only-first truncation does.
        budget = backend.premise_budget([hypothesis])
        texts = [premises[i] for i in items]
        for i, (spans, cut) in zip(items, premise_windows(backend, texts, [budget] * len(texts), long_text)):
            windows[i], truncated[i] = spans, cut
    pairs = [(premises[i][s:e], hypotheses[i]) for i in range(n) for s, e in windows[i]]
    logits = backend.score(pairs)
    ranges = row_ranges([len(spans) for spans in windows])
    scores = _item_scores(backend, logits, ranges, aggregate)
    if backend.rechecks and groups:
        close = [ranges[i] for i in close_items(scores, groups, backend.recheck_margin, threshold) if windows[i]]
        if close:
            scores = _item_scores(backend, backend.rescore_exact(pairs, logits, close), ranges, aggregate)
    return Relevance(scores, truncated)


def _item_scores(backend: "NLIBackend", logits: np.ndarray, ranges: Sequence[Span], aggregate: str) -> np.ndarray:
    ent, contra = backend.entailment_index, backend.contradiction_index
    scores = np.zeros(len(ranges))
    for i, (start, end) in enumerate(ranges):
        if end > start:
            per_window = multilabel_scores(logits[start:end], ent, contra)
            scores[i] = per_window.max() if aggregate == "max" else per_window.mean()
    return scores


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def close_items(
    scores: np.ndarray, groups: Sequence[Sequence[int]], margin: float, threshold: Optional[float] = None
) -> List[int]:
    """Items whose rank in their group, or side of `threshold`, logit errors below
    `margin / 2` could change.

    A score is P(entailment) against P(contradiction), so an error of e in every logit moves
    its log-odds by at most 2e: two items of a group can swap only when their log-odds are
    less than 2 * margin apart, and an item can cross `threshold` only when its log-odds are
    within `margin` of the threshold's (thresholds of 0 or 1 never make an item close).

    scores (np.ndarray): Shape (n_items,), each in [0, 1].
    groups (Sequence[Sequence[int]]): Item positions ranked together.
    margin (float): In logits; 0 means nothing is close.
    RETURNS (List[int]): Sorted positions of the close items.
    """
    if margin <= 0:
        return []
    odds = _log_odds(scores)
    close: Set[int] = set()
    for group in groups:
        items = sorted(group, key=lambda i: -odds[i])
        for a, b in zip(items, items[1:]):
            if odds[a] - odds[b] < 2 * margin:
                close.update((a, b))
        if threshold is not None and 0.0 < threshold < 1.0:
            limit = _log_odds(np.array(threshold))
            close.update(i for i in items if abs(odds[i] - limit) < margin)
    return sorted(close)


def ranked_order(scores: Sequence[float]) -> List[int]:
    """Positions sorted by score, best first; ties keep their input order."""
    return [int(i) for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]


# ------------------------------------------------------------------------------ rerank


def rerank(
    backend: "NLIBackend",
    query: Union[str, Sequence[str]],
    documents: Union[Sequence[str], Sequence[Sequence[str]]],
    *,
    template: str = DEFAULT_TEMPLATE,
    top_k: Optional[int] = None,
    long_text: str = "truncate",
    aggregate: str = "max",
) -> Union[Result, List[Result]]:
    """Rank documents by relevance to a query (see `ZeroShotClassifier.rerank`)."""
    single = isinstance(query, str)
    queries = [check_query(query)] if isinstance(query, str) else _query_list(query)
    lists = _document_lists(documents, len(queries), single)
    check_positional_template(template)
    top_k = check_top_k(top_k)
    check_choice("long_text", long_text, LONG_TEXT, "rerank")
    check_choice("aggregate", aggregate, AGGREGATE, "rerank")
    premises = [doc for docs in lists for doc in docs]
    hypotheses = [template.format(q) for q, docs in zip(queries, lists) for _ in docs]
    groups = [list(range(start, end)) for start, end in row_ranges([len(docs) for docs in lists])]
    relevance = score_relevance(
        backend, premises, hypotheses, long_text=long_text, aggregate=aggregate, groups=groups
    )
    warn_truncated(backend, relevance.truncated, "document(s)", "in `rerank`")
    results = []
    for q, docs, group in zip(queries, lists, groups):
        scores = [float(relevance.scores[i]) for i in group]
        order = ranked_order(scores)[:top_k]
        results.append(
            {"query": q, "documents": [docs[i] for i in order], "scores": [scores[i] for i in order], "indices": order}
        )
    return results[0] if single else results


def check_query(query: Any, where: str = "") -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValueError(Errors.E400.format(value=query, where=where))
    return query


def check_top_k(top_k: Any) -> Optional[int]:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(Errors.E403.format(value=top_k))
    return top_k


def warn_truncated(backend: "NLIBackend", truncated: Sequence[bool], what: str, where: str) -> None:
    n = sum(truncated)
    if n:
        message = Warnings.W400.format(n=n, total=len(truncated), what=what, max_length=backend.max_length, where=where)
        warnings.warn(message, stacklevel=3)


def _query_list(queries: Any) -> List[str]:
    if not isinstance(queries, (list, tuple)):
        raise ValueError(Errors.E400.format(value=queries, where=" or a list of them"))
    return [check_query(q, " or a list of them") for q in queries]


def _document_lists(documents: Any, n_queries: int, single: bool) -> List[List[str]]:
    """One list of documents per query: the given list, the shared list, or the lists given."""
    if not isinstance(documents, (list, tuple)):
        raise ValueError(Errors.E401.format(value=documents))
    if all(isinstance(d, str) for d in documents):
        return [list(documents)] * n_queries
    nested = all(isinstance(d, (list, tuple)) and all(isinstance(t, str) for t in d) for d in documents)
    if single or not nested:
        raise ValueError(Errors.E401.format(value=documents))
    if len(documents) != n_queries:
        raise ValueError(Errors.E402.format(n_queries=n_queries, n_lists=len(documents)))
    return [list(d) for d in documents]


# ----------------------------------------------------------------------------- metrics


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """1 / (rank of the first relevant item) of a ranked list; 0.0 when none is relevant.

    Its mean over queries is the mean reciprocal rank (MRR; Voorhees, TREC-8 QA track, 1999).
    """
    return next((1.0 / (rank + 1) for rank, hit in enumerate(relevant) if hit), 0.0)


def ndcg(gains: Sequence[float], k: Optional[int] = None, ideal: Optional[Sequence[float]] = None) -> Optional[float]:
    """Normalised discounted cumulative gain of a ranked list, cut at `k` (Järvelin &
    Kekäläinen 2002; linear gains, discount 1 / log2(rank + 1)).

    gains (Sequence[float]): The gain (relevance) of each item, in ranked order; 1/0 for
        binary relevance.
    k (Optional[int]): Only the first k ranks count (nDCG@k); None: all.
    ideal (Optional[Sequence[float]]): The gains of every relevant item, when some of them
        are missing from the ranked list; default: `gains` themselves.
    RETURNS (Optional[float]): DCG over the DCG of the ideal order, in [0, 1]; None when no
        item has a gain.
    """
    values = np.asarray(gains, dtype=np.float64)
    best_order = np.sort(np.asarray(gains if ideal is None else ideal, dtype=np.float64))[::-1][:k]
    discounts = 1.0 / np.log2(np.arange(2, max(len(values), len(best_order)) + 2))
    best = float((best_order * discounts[: len(best_order)]).sum())
    if best <= 0:
        return None
    top = values[:k]
    return float((top * discounts[: len(top)]).sum()) / best
