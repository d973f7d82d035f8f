"""Span-level zero-shot decisions: premises around mentions, pooled scoring, entity typing.

Both span components (typing and linking) turn every mention of a minibatch into a
`SpanQuery` (premise + one hypothesis per option) and score all of them with ONE call to the
backend, so pairs from all spans of all docs share the scheduler's batches.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, cast

import numpy as np
from spacy.tokens import Doc, Span, SpanGroup

from .. import audit
from ..errors import Errors
from ..maths import candidate_scores, is_close_call
from ..scheduler import row_ranges
from ..validation import Labels, normalize_labels, template_fields
from .context import context_span

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

ON_LOW_CONFIDENCE = ("keep", "drop")
PROPOSALS = ("noun_chunks",)
ANY_LABEL = "*"
TYPER_FIELDS = ("mention", "label")


@dataclass
class SpanQuery:
    """One mention to decide: its premise and one hypothesis per option (type or candidate).

    While an audit trail is recording, `score_queries` fills `logits` (options x classes).
    """

    premise: str
    options: List[str]
    hypotheses: List[str]
    logits: Optional[np.ndarray] = None


def score_queries(
    backend: "NLIBackend",
    queries: Sequence[SpanQuery],
    multi_label: bool = False,
    threshold: Optional[float] = None,
    thresholds: Optional[Mapping[str, float]] = None,
) -> List[Dict[str, float]]:
    """Scores of every option of every query, from one pooled backend call.

    Exclusive softmax across a query's options unless `multi_label` or a single option
    (transformers' zero-shot pipeline rule). A query without options gets {}. The best option
    wins if it reaches its threshold (`thresholds[option]`, else `threshold`): with the
    backend's `recheck_margin`, queries whose best two options, or whose scores and
    thresholds, are close are re-checked in float32.
    """
    pairs = [(q.premise, h) for q in queries for h in q.hypotheses]
    if not pairs:
        return [{} for _ in queries]
    logits = backend.score(pairs)
    ranges = row_ranges([len(query.hypotheses) for query in queries])
    scores = _query_scores(backend, logits, ranges, multi_label)
    if backend.rechecks:
        close = [
            rows
            for query, rows, option_scores in zip(queries, ranges, scores)
            if is_close_call(
                option_scores,
                backend.recheck_margin,
                ranked=True,
                thresholds=None if threshold is None else [(thresholds or {}).get(o, threshold) for o in query.options],
            )
        ]
        if close:
            logits = backend.rescore_exact(pairs, logits, close)
            scores = _query_scores(backend, logits, ranges, multi_label)
    if audit.active_trail() is not None:
        for query, (start, end) in zip(queries, ranges):
            query.logits = logits[start:end]
    return [{option: float(s) for option, s in zip(q.options, row)} for q, row in zip(queries, scores)]


def _query_scores(
    backend: "NLIBackend", logits: np.ndarray, ranges: Sequence[Tuple[int, int]], multi_label: bool
) -> List[np.ndarray]:
    ent, contra = backend.entailment_index, backend.contradiction_index
    return [
        candidate_scores(logits[start:end], ent, contra, multi_label) if end > start else np.zeros(0)
        for start, end in ranges
    ]


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


# Typing ------------------------------------------------------------------------------

TypeLabels = Union[Sequence[str], Mapping[str, str], Mapping[str, Union[Sequence[str], Mapping[str, str]]]]


def normalize_type_labels(labels: TypeLabels, name: str) -> Dict[str, Dict[str, str]]:
    """The candidate types per current span label, each type -> text used in the hypothesis.

    labels: a list of types (for every span), a mapping type -> description (for every
        span), or a mapping span label -> list of types / mapping type -> description.
    RETURNS (Dict[str, Dict[str, str]]): span label (or "*" for every span) -> {type: text}.
    """
    if isinstance(labels, Mapping) and labels and all(isinstance(v, (list, tuple, Mapping)) for v in labels.values()):
        result = {}
        for label, types in labels.items():
            if not isinstance(label, str) or not label:
                raise ValueError(Errors.E100.format(name=name, problem=f"invalid span label {label!r}"))
            result[label] = normalize_labels(types, name)
        return result
    if isinstance(labels, Mapping) and not all(isinstance(v, str) for v in labels.values()):
        raise ValueError(
            Errors.E100.format(name=name, problem="values mix descriptions (strings) and lists of types")
        )
    return {ANY_LABEL: normalize_labels(cast(Labels, labels), name)}


def types_for(span_label: str, types: Mapping[str, Mapping[str, str]]) -> Optional[Mapping[str, str]]:
    """The candidate types of a span with this label, or None when it is left alone."""
    if ANY_LABEL in types:
        return types[ANY_LABEL]
    return types.get(span_label)


def proposal_spans(doc: Doc, proposals: Optional[str], name: str) -> List[Span]:
    """Extra candidate spans to type (zero-shot NER without an upstream NER)."""
    if proposals is None or not len(doc):
        return []
    if not doc.has_annotation("DEP"):
        raise ValueError(Errors.E105.format(name=name, proposals=proposals))
    return [Span(doc, chunk.start, chunk.end) for chunk in doc.noun_chunks]


def type_decision(
    scores: Mapping[str, float], threshold: float, on_low_confidence: str, thresholds: Optional[Mapping[str, float]] = None
) -> Tuple[Optional[str], bool]:
    """(chosen type or None, keep the span?) for one span's scores: the best type, if it
    reaches its threshold (`thresholds[type]`, else `threshold`)."""
    if not scores:
        return None, True
    best = max(scores, key=lambda t: scores[t])
    if scores[best] >= (thresholds or {}).get(best, threshold):
        return best, True
    return None, on_low_confidence == "keep"


def type_spans(
    backend: "NLIBackend",
    docs: Sequence[Doc],
    *,
    types: Mapping[str, Mapping[str, str]],
    spans_key: Optional[str],
    proposals: Optional[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[Sequence[str]],
    multi_label: bool,
    threshold: float,
    on_low_confidence: str,
    name: str,
    thresholds: Optional[Mapping[str, float]] = None,
) -> List[List[Dict[str, Any]]]:
    """Decide the type of every span of every doc, scoring all of them in one backend call.

    A span takes its best type if that reaches `thresholds[type]` (calibrated), else
    `threshold`.

    RETURNS (List[List[Dict[str, Any]]]): Per doc, one plain dict per scored span:
        {"start", "end", "label" (its label before typing), "type" (the new label, or None
        to keep the old one), "keep" (False: remove the span), "proposed" (a new span from
        `proposals`), "scores" ({type: score})}.
    """
    trail = audit.active_trail()
    premises: List[audit.Premise] = []
    entries: List[List[Dict[str, Any]]] = []
    queries: List[SpanQuery] = []
    for doc in docs:
        doc_entries: List[Dict[str, Any]] = []
        existing = target_spans(doc, spans_key)
        spans = [(span, False) for span in existing]
        if proposals is not None and ANY_LABEL in types:
            taken = {(s.start, s.end) for s in existing}
            covered = {i for s in existing for i in range(s.start, s.end)} if spans_key is None else set()
            for span in proposal_spans(doc, proposals, name):
                if (span.start, span.end) in taken or covered.intersection(range(span.start, span.end)):
                    continue
                spans.append((span, True))
        for span, proposed in spans:
            options = types_for(span.label_, types)
            if options is None:
                continue
            premise = mention_premise(doc, span, context, window, mention_markers, name)
            hypotheses = [hypothesis_template.format(mention=span.text, label=text) for text in options.values()]
            queries.append(SpanQuery(premise, list(options), hypotheses))
            doc_entries.append({"start": span.start, "end": span.end, "label": span.label_, "proposed": proposed})
            if trail is not None:
                premises.append(premise_reference(doc, span, context, window, mention_markers, premise, name))
        entries.append(doc_entries)
    all_scores = iter(score_queries(backend, queries, multi_label, threshold, thresholds))
    for doc_entries in entries:
        for entry in doc_entries:
            scores = next(all_scores)
            chosen, keep = type_decision(scores, threshold, "drop" if entry["proposed"] else on_low_confidence, thresholds)
            entry.update({"type": chosen, "keep": keep, "scores": scores})
    if trail is not None:
        record_queries(trail, entries, queries, premises, lambda option: (thresholds or {}).get(option, threshold))
    return entries


def record_queries(
    trail: audit.AuditTrail,
    entries: Sequence[Sequence[Mapping[str, Any]]],
    queries: Sequence[SpanQuery],
    premises: Sequence[audit.Premise],
    threshold_of: Callable[[str], float],
) -> None:
    """Add one decision per option of every scored span to the audit trail."""
    flat = iter(zip(queries, premises))
    for doc_index, doc_entries in enumerate(entries):
        for entry in doc_entries:
            query, premise = next(flat)
            target = audit.span_target(entry["start"], entry["end"])
            for k, option in enumerate(query.options):
                logits = query.logits[k] if query.logits is not None else []
                pair = (premise, query.hypotheses[k], logits)
                trail.add(doc_index, target, option, entry["scores"][option], [pair], threshold_of(option))
