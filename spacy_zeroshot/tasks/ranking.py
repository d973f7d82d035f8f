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
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from spacy.tokens import Doc
from spacy.tokens import Span as SpacySpan

from ..errors import Errors, Warnings
from ..scheduler import row_ranges
from ..validation import check_choice, check_positional_template, check_threshold
from .base import Explained, Logits, PairBatch, Tokens, close_decisions, score_batch
from .classification import AGGREGATE, premise_windows
from .decisions import CalibrationTask
from .rank_metrics import ndcg as ndcg
from .rank_metrics import reciprocal_rank as reciprocal_rank

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

DEFAULT_TEMPLATE = "This text is about {}."
LONG_TEXT = ("truncate", "windows")
Span = Tuple[int, int]
Result = Dict[str, Any]



@dataclass(frozen=True)
class RankerSettings:
    """The settings of a `zeroshot_span_ranker` component (its `cfg`, read-only).

    query (Optional[str]): The query of docs without their own `doc._.zeroshot_query`.
    hypothesis_template (str): The hypothesis, with `{}` for the query.
    spans_key (Optional[str]): The span group to rank (None: the doc's sentences).
    top_k (Optional[int]): Keep at most this many spans (None: all that pass).
    threshold (float): Keep the spans scoring at least this.
    output_key (str): The span group the kept spans are written to.
    long_text (str): "truncate" or "windows" for spans past the token budget.
    aggregate (str): "max" or "mean" of per-window scores.
    """

    query: Optional[str]
    hypothesis_template: str
    spans_key: Optional[str]
    top_k: Optional[int]
    threshold: float
    output_key: str
    long_text: str
    aggregate: str

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        query: Optional[str],
        hypothesis_template: str,
        spans_key: Optional[str],
        top_k: Optional[int],
        threshold: float,
        output_key: str,
        long_text: str,
        aggregate: str,
    ) -> "RankerSettings":
        """The settings of the component `name`, validated (the factory's arguments)."""
        if query is not None:
            check_query(query, f" (the `query` of '{name}')")
        for key, value, optional in (("spans_key", spans_key, True), ("output_key", output_key, False)):
            if not (isinstance(value, str) and value) and not (optional and value is None):
                raise ValueError(Errors.E407.format(key=key, name=name, value=value))
        return cls(
            query=query,
            hypothesis_template=check_positional_template(hypothesis_template),
            spans_key=spans_key,
            top_k=check_top_k(top_k),
            threshold=check_threshold(threshold),
            output_key=output_key,
            long_text=check_choice("long_text", long_text, LONG_TEXT, name),
            aggregate=check_choice("aggregate", aggregate, AGGREGATE, name),
        )


@dataclass
class Relevance:
    """Scores of (premise, hypothesis) items: one per item (0.0 for an empty premise), and
    whether the item's premise was cut at `max_length`."""

    scores: np.ndarray
    truncated: List[bool]


class RelevanceScoring:
    """The pair logic of reranking: each item's premise (or its windows) against its own
    hypothesis; one decision per item, scored P(entailment) against P(contradiction).

    long_text (str): "truncate" or "windows" for premises past the token budget.
    aggregate (str): "max" or "mean" of a long premise's window scores.
    """

    def __init__(self, long_text: str = "truncate", aggregate: str = "max") -> None:
        self.long_text = long_text
        self.aggregate = aggregate

    def item_requests(
        self,
        premises: Sequence[str],
        hypotheses: Sequence[str],
        tokens: Tokens,
        groups: Optional[Sequence[Sequence[int]]] = None,
        threshold: Optional[float] = None,
    ) -> PairBatch:
        """The pairs of every item (rows: its windows); `groups` are ranked together and, with
        them, `threshold` is a decision threshold (both for close calls). Only empty premises:
        no pairs, and `tokens` is not asked."""
        n = len(premises)
        windows: List[List[Span]] = [[] for _ in range(n)]
        truncated = [False] * n
        by_hypothesis: Dict[str, List[int]] = {}
        for i, premise in enumerate(premises):
            if premise.strip():
                by_hypothesis.setdefault(hypotheses[i], []).append(i)
        for hypothesis, items in by_hypothesis.items():
            # Each hypothesis leaves its own room for the premise, as the HF pipeline's only-first truncation does.
            budget = tokens.premise_budget([hypothesis])
            texts = [premises[i] for i in items]
            for i, (spans, cut) in zip(items, premise_windows(tokens, texts, [budget] * len(texts), self.long_text)):
                windows[i], truncated[i] = spans, cut
        limits = [[float(threshold)] if groups and threshold is not None else None for _ in range(n)]
        return PairBatch(
            pairs=[(premises[i][s:e], hypotheses[i]) for i in range(n) for s, e in windows[i]],
            rows=row_ranges([len(spans) for spans in windows]),
            thresholds=list(limits),
            ranked=False,
            ranked_together=[list(group) for group in groups or []],
            state=Relevance(np.zeros(n), truncated),
        )

    def option_scores(self, batch: PairBatch, logits: Logits) -> List[np.ndarray]:
        return [np.array([score]) for score in self.relevance(batch, logits).scores]

    def relevance(self, batch: PairBatch, logits: Logits) -> Relevance:
        """Per item its score (0.0 for an empty premise), and whether its premise was cut."""
        truncated = batch.state.truncated
        scores = np.zeros(len(batch.rows))
        if batch.pairs:
            for i, rows in enumerate(batch.rows):
                if rows[1] > rows[0]:
                    per_window = logits.multilabel(rows)
                    scores[i] = per_window.max() if self.aggregate == "max" else per_window.mean()
        return Relevance(scores, truncated)


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
    task = RelevanceScoring(long_text, aggregate)
    batch = task.item_requests(premises, hypotheses, backend, groups, threshold)
    return task.relevance(batch, score_batch(backend, task, batch))


def close_items(
    scores: np.ndarray, groups: Sequence[Sequence[int]], margin: float, threshold: Optional[float] = None
) -> List[int]:
    """Items whose rank in their group, or side of `threshold`, logit errors below
    `margin / 2` could change (`tasks.base.close_decisions` with one decision per item).

    scores (np.ndarray): Shape (n_items,), each in [0, 1].
    groups (Sequence[Sequence[int]]): Item positions ranked together.
    margin (float): In logits; 0 means nothing is close.
    RETURNS (List[int]): Sorted positions of the close items.
    """
    values = np.asarray(scores, dtype=np.float64)
    limits = [[float(threshold)] if threshold is not None else None for _ in values]
    batch = PairBatch(rows=[(i, i + 1) for i in range(len(values))], thresholds=list(limits), ranked=False, ranked_together=[list(g) for g in groups])
    in_groups = {i for group in groups for i in group}
    return [i for i in close_decisions(batch, [np.array([v]) for v in values], margin) if i in in_groups]


class SpanRankTask(RelevanceScoring):
    """Span ranking: each candidate span of a doc (its sentences, or `doc.spans[spans_key]`)
    against the doc's query; the spans scoring at least `threshold`, best first and at most
    `top_k`, are kept.

    settings (RankerSettings): The component's settings (its `query` is read by `query_for`).
    name (str): The component name, for messages.
    query_for (Callable[[Doc], str]): The query a doc is ranked against.
    """

    def __init__(self, settings: RankerSettings, name: str, query_for: Callable[[Doc], str]) -> None:
        super().__init__(settings.long_text, settings.aggregate)
        self.settings = settings
        self.name = name
        self.query_for = query_for

    def requests(self, docs: Sequence[Doc], tokens: Tokens) -> PairBatch:
        template = self.settings.hypothesis_template
        queries = [self.query_for(doc) for doc in docs]
        spans = [candidate_spans(doc, self.settings.spans_key, self.name) for doc in docs]
        premises = [span.text for doc_spans in spans for span in doc_spans]
        hypotheses = [template.format(q) for q, doc_spans in zip(queries, spans) for _ in doc_spans]
        groups = [list(range(start, end)) for start, end in row_ranges([len(doc_spans) for doc_spans in spans])]
        batch = self.item_requests(premises, hypotheses, tokens, groups, self.settings.threshold or None)
        batch.state = (batch.state, queries, spans, groups, tokens)
        return batch

    def relevance(self, batch: PairBatch, logits: Logits) -> Relevance:
        own = PairBatch(batch.pairs, batch.rows, state=batch.state[0])
        return super().relevance(own, logits)

    def decide(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits) -> List[Dict[str, Any]]:
        """Per doc {"query", "spans": [{"start", "end", "label", "kb_id", "score"}, ...], "kept":
        [positions in "spans", best first]}."""
        _, queries, spans, groups, tokens = batch.state
        relevance = self.relevance(batch, logits)
        warn_truncated(tokens, relevance.truncated, "span(s)", f"on component '{self.name}'")
        predictions = []
        for query, doc_spans, group in zip(queries, spans, groups):
            scores = [float(relevance.scores[i]) for i in group]
            entries = [
                {"start": s.start, "end": s.end, "label": s.label_, "kb_id": s.kb_id_, "score": score}
                for s, score in zip(doc_spans, scores)
            ]
            kept = [i for i in ranked_order(scores) if scores[i] >= self.settings.threshold][: self.settings.top_k]
            predictions.append({"query": query, "spans": entries, "kept": kept})
        return predictions

    def explain(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits, predictions: Any) -> Iterable[Explained]:
        """Ranked spans are not recorded in the audit trail (yet)."""
        return []

    def gold_groups(self, examples: Sequence[Any], tokens: Tokens) -> List[Any]:
        """Span ranking does not learn from gold examples (yet)."""
        return []

    def calibration(self) -> Optional[CalibrationTask]:
        """Span ranking is not calibrated (yet)."""
        return None


def candidate_spans(doc: Doc, spans_key: Optional[str], name: str) -> List[SpacySpan]:
    """The spans a doc ranks: its sentences (`spans_key` None) or `doc.spans[spans_key]`."""
    if spans_key is not None:
        return list(doc.spans[spans_key]) if spans_key in doc.spans else []
    if not len(doc):
        return []
    if not doc.has_annotation("SENT_START") and len(doc) > 1:
        raise ValueError(Errors.E405.format(name=name))
    return list(doc.sents)


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


def warn_truncated(backend: Tokens, truncated: Sequence[bool], what: str, where: str) -> None:
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
