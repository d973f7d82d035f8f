"""Span-level zero-shot decisions: premises around mentions, pooled scoring, entity typing.

Both span components (typing and linking) turn every mention of a minibatch into a
`SpanQuery` (premise + one hypothesis per option) and score all of them with ONE call to the
backend, so pairs from all spans of all docs share the scheduler's batches.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, cast

import numpy as np
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..scheduler import row_ranges
from ..training.groups import TrainGroup, make_group
from ..validation import Labels, normalize_labels, template_fields
from .base import Explained, Logits, PairBatch, run_task
from .context import context_span
from .gold import premise_doc

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

ON_LOW_CONFIDENCE = ("keep", "drop")
PROPOSALS = ("noun_chunks",)
ANY_LABEL = "*"
TYPER_FIELDS = ("mention", "label")


@dataclass
class SpanQuery:
    """One mention to decide: its premise and one hypothesis per option (type or candidate).

    """

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


def _type_options(label: str, types: Mapping[str, Mapping[str, str]]) -> Optional[Mapping[str, str]]:
    """The candidate types among which a gold span of type `label` was chosen: every type
    (`"*"`), else the first source label's types that include it."""
    if ANY_LABEL in types:
        return types[ANY_LABEL]
    return next((options for options in types.values() if label in options), None)


class TyperTask(SpanQueries):
    """Entity typing: each span whose label has candidate types (and, with `proposals`, each
    noun chunk) against "{mention} is a {label}."; the best type at or above its threshold
    becomes the span's label.

    cfg (Mapping[str, Any]): The component's settings ("types", "spans_key", "proposals",
        "hypothesis_template", "context", "window", "mention_markers", "multi_label",
        "threshold", "thresholds", "on_low_confidence").
    name (str): The component name, for error messages.
    """

    def __init__(self, cfg: Mapping[str, Any], name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.types: Mapping[str, Mapping[str, str]] = cfg["types"]
        self.multi_label = bool(cfg["multi_label"])
        self.context, self.window, self.mention_markers = cfg["context"], cfg["window"], cfg["mention_markers"]
        self.threshold = float(cfg["threshold"])
        self.thresholds: Mapping[str, float] = cfg.get("thresholds") or {}

    def threshold_of(self, option: str) -> float:
        return float(self.thresholds.get(option, self.threshold))

    def mentions(self, doc: Doc) -> Iterable[Tuple[Span, Dict[str, Any], SpanQuery]]:
        cfg = self.cfg
        existing = target_spans(doc, cfg["spans_key"])
        spans = [(span, False) for span in existing]
        if cfg["proposals"] is not None and ANY_LABEL in self.types:
            taken = {(s.start, s.end) for s in existing}
            covered = {i for s in existing for i in range(s.start, s.end)} if cfg["spans_key"] is None else set()
            for span in proposal_spans(doc, cfg["proposals"], self.name):
                if (span.start, span.end) in taken or covered.intersection(range(span.start, span.end)):
                    continue
                spans.append((span, True))
        for span, proposed in spans:
            options = types_for(span.label_, self.types)
            if options is None:
                continue
            premise = mention_premise(doc, span, self.context, self.window, self.mention_markers, self.name)
            template = cfg["hypothesis_template"]
            hypotheses = [template.format(mention=span.text, label=text) for text in options.values()]
            entry = {"start": span.start, "end": span.end, "label": span.label_, "proposed": proposed}
            yield span, entry, SpanQuery(premise, list(options), hypotheses)

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per gold span (in `reference.ents` or `reference.spans[spans_key]`) whose
        label is one of the candidate types: gold type vs the other types, with the premise
        and hypotheses of inference."""
        cfg = self.cfg
        groups = []
        for example in examples:
            spans = target_spans(example.reference, cfg["spans_key"])
            if not spans:
                continue
            doc = premise_doc(example, self.context == "sentence", self.name)
            for span in spans:
                options = _type_options(span.label_, self.types)
                if options is None or span.label_ not in options:
                    continue
                names = list(options)
                mention = doc[span.start : span.end]
                premise = mention_premise(doc, mention, self.context, self.window, self.mention_markers, self.name)
                template = cfg["hypothesis_template"]
                hyps = [[template.format(mention=mention.text, label=text)] for text in options.values()]
                gold = names.index(span.label_)
                targets = [1.0 if i == gold else 0.0 for i in range(len(names))]
                group = make_group([premise], hyps, exclusive=not self.multi_label, gold=gold, targets=targets)
                if group is not None:
                    groups.append(group)
        return groups

    def decide_entry(self, entry: Dict[str, Any], scores: Dict[str, float]) -> None:
        on_low = "drop" if entry["proposed"] else self.cfg["on_low_confidence"]
        chosen, keep = type_decision(scores, self.threshold, on_low, self.thresholds)
        entry.update({"type": chosen, "keep": keep, "scores": scores})


def type_spans(backend: "NLIBackend", docs: Sequence[Doc], *, name: str, **settings: Any) -> List[List[Dict[str, Any]]]:
    """Decide the type of every span of every doc, scoring all of them in one backend call.

    settings: `TyperTask`'s settings ("types", "spans_key", ...; "thresholds" optional).
    RETURNS (List[List[Dict[str, Any]]]): Per doc, one plain dict per scored span:
        {"start", "end", "label" (its label before typing), "type" (the new label, or None
        to keep the old one), "keep" (False: remove the span), "proposed" (a new span from
        `proposals`), "scores" ({type: score})}.
    """
    task = TyperTask(settings, name)
    return run_task(backend, task, docs, task.requests(docs, backend))
