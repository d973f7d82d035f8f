"""Span-level zero-shot decisions: premises around mentions, pooled scoring, span helpers.

Both span tasks (typing, `tasks.entities`, and linking, `tasks.linking`) turn every mention of
a minibatch into a `SpanQuery` (premise + one hypothesis per option) and score all of them
with ONE call to the backend, so pairs from all spans of all docs share the scheduler's
batches.
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..scheduler import row_ranges
from ..validation import template_fields
from .base import Explained, Logits, PairBatch
from .context import context_span

CharSpan = Tuple[int, int]


@dataclass
class SpanQuery:
    """One mention to decide: its premise and one hypothesis per option (type or candidate)."""

    premise: str
    options: List[str]
    hypotheses: List[str]


@dataclass
class SpanState:
    """A span task's batch bookkeeping: per doc its plain entries and spans, and one query per entry."""

    entries: List[List[Dict[str, Any]]]
    spans: List[List[Span]]
    queries: List[SpanQuery]


class SpanQueries:
    """The pair logic shared by the span tasks (typing, linking): one query per mention (its
    premise against one hypothesis per option), one decision per query; the best option wins.

    Subclasses say which mentions of a doc to query (`mentions`), the threshold of each option
    (`threshold_of`; None: no threshold) and what a query's scores decide (`decide_entry`).
    """

    multi_label = False
    name = ""
    context = "sentence"
    window = 0
    mention_markers: Optional[Sequence[str]] = None

    def mentions(self, doc: Doc) -> Iterable[Tuple[Span, Dict[str, Any], SpanQuery]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def threshold_of(self, option: str) -> Optional[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decide_entry(self, entry: Dict[str, Any], scores: Dict[str, float]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def requests(self, docs: Sequence[Doc], tokens: Any = None) -> PairBatch:
        state = SpanState([], [], [])
        for doc in docs:
            found = list(self.mentions(doc))
            state.entries.append([entry for _, entry, _ in found])
            state.spans.append([span for span, _, _ in found])
            state.queries.extend(query for _, _, query in found)
        limits: List[Optional[List[float]]] = []
        for query in state.queries:
            own = [self.threshold_of(option) for option in query.options]
            limits.append(None if any(t is None for t in own) else [float(t) for t in own if t is not None])
        return PairBatch(
            pairs=[(q.premise, h) for q in state.queries for h in q.hypotheses],
            rows=row_ranges([len(q.hypotheses) for q in state.queries]),
            thresholds=limits,
            ranked=True,
            state=state,
        )

    def option_scores(self, batch: PairBatch, logits: Logits) -> List[np.ndarray]:
        if not batch.pairs:
            return [np.zeros(0) for _ in batch.rows]
        return [logits.candidates(rows, self.multi_label) for rows in batch.rows]

    def decide(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits) -> List[List[Dict[str, Any]]]:
        """Per doc, its entries (plain dicts) with the option scores and decision added."""
        state: SpanState = batch.state
        all_scores = iter(self.option_scores(batch, logits))
        queries = iter(state.queries)
        result = []
        for doc_entries in state.entries:
            decided = []
            for entry in doc_entries:
                query, row = next(queries), next(all_scores)
                entry = dict(entry)
                self.decide_entry(entry, {option: float(s) for option, s in zip(query.options, row)})
                decided.append(entry)
            result.append(decided)
        return result

    def explain(
        self, docs: Sequence[Doc], batch: PairBatch, logits: Logits, predictions: Sequence[Sequence[Dict[str, Any]]]
    ) -> Iterable[Explained]:
        """One decision per option of every queried mention."""
        state: SpanState = batch.state
        queries, rows = iter(state.queries), iter(batch.rows)
        for doc_index, (doc, spans, entries) in enumerate(zip(docs, state.spans, predictions)):
            for span, entry in zip(spans, entries):
                query, (start, _) = next(queries), next(rows)
                if not query.options:
                    continue
                premise = premise_reference(doc, span, self.context, self.window, self.mention_markers, query.premise, self.name)
                target = audit.span_target(entry["start"], entry["end"])
                for k, option in enumerate(query.options):
                    yield Explained(doc_index, target, option, entry["scores"][option], [(premise, start + k)], self.threshold_of(option))


def check_markers(markers: Optional[Sequence[str]], name: str) -> Optional[List[str]]:
    if markers is None:
        return None
    if isinstance(markers, str) or len(markers) != 2 or not all(isinstance(m, str) for m in markers):
        raise ValueError(Errors.E103.format(value=markers, name=name))
    return list(markers)


def check_window(window: int, name: str) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(Errors.E104.format(value=window, name=name))
    return window


def check_template(template: str, allowed: Sequence[str], required: Sequence[Sequence[str]], name: str) -> str:
    """A hypothesis template whose fields are among `allowed` and that has, for each group
    of `required`, at least one of its fields."""
    fields = template_fields(template) if isinstance(template, str) else ["<not a string>"]
    unknown = [f for f in fields if f not in allowed]
    missing = [" or ".join("{%s}" % f for f in group) for group in required if not set(group) & set(fields)]
    if unknown or missing:
        raise ValueError(
            Errors.E101.format(
                template=template,
                name=name,
                allowed=", ".join("{%s}" % f for f in allowed),
                problem=f"unknown field(s) {unknown}" if unknown else f"missing {', '.join(missing)}",
            )
        )
    return template


def mention_premise(
    doc: Doc, span: Span, context: str, window: int, markers: Optional[Sequence[str]], name: str
) -> str:
    """The text around `span` that its hypotheses are checked against, with the mention
    wrapped in `markers` when given."""
    around = context_span(doc, span.start, span.end, context, window, name)
    text = around.text
    if not markers:
        return text
    start = span.start_char - around.start_char
    end = span.end_char - around.start_char
    return f"{text[:start]}{markers[0]}{text[start:end]}{markers[1]}{text[end:]}"


def premise_reference(
    doc: Doc, span: Span, context: str, window: int, markers: Optional[Sequence[str]], premise: str, name: str
) -> audit.Premise:
    """How the audit trail stores a mention's premise: its character offsets in the doc, or
    its text when mention markers make it differ from the doc."""
    if markers:
        return premise
    around = context_span(doc, span.start, span.end, context, window, name)
    return [around.start_char, around.end_char]


def target_spans(doc: Doc, spans_key: Optional[str]) -> List[Span]:
    """The spans a component reads: `doc.ents`, or `doc.spans[spans_key]` (none if absent)."""
    if spans_key is None:
        return list(doc.ents)
    return list(doc.spans[spans_key]) if spans_key in doc.spans else []


def write_spans(doc: Doc, spans_key: Optional[str], spans: Iterable[Span]) -> None:
    """Replace `doc.ents` or the span group with `spans` (group attrs are kept)."""
    spans = list(spans)
    if spans_key is None:
        doc.ents = spans
        return
    attrs = dict(doc.spans[spans_key].attrs) if spans_key in doc.spans else {}
    doc.spans[spans_key] = SpanGroup(doc, name=spans_key, attrs=attrs, spans=spans)


def respan(span: Span, label: Optional[str] = None, kb_id: Optional[str] = None) -> Span:
    """A copy of `span` with a new label and/or kb_id (everything else kept)."""
    return Span(
        span.doc,
        span.start,
        span.end,
        label=span.label_ if label is None else label,
        kb_id=span.kb_id_ if kb_id is None else kb_id,
        span_id=span.id_,
    )



def gold_spans(example: Example, spans_key: Optional[str]) -> Dict[CharSpan, Span]:
    """The reference's target spans by character offsets (calibration matches them so)."""
    return {(span.start_char, span.end_char): span for span in target_spans(example.reference, spans_key)}


def has_spans(example: Example, spans_key: Optional[str]) -> bool:
    """Whether the reference is annotated with target spans (`doc.ents` or the span group)."""
    if spans_key is None:
        return example.reference.has_annotation("ENT_IOB")
    return spans_key in example.reference.spans
