"""The `zeroshot_entity_typer` task: zero-shot (re)typing of entity spans.

The task as one unit: its settings (`TyperSettings`, validated once when the component is
built), its pair logic (`TyperTask`: each span against "{mention} is a {label}." per
candidate type, on the span queries of `tasks.spans`), its gold groups for fine-tuning, and its
calibration adapter (`TyperCalibration`). The span helpers of `tasks.spans` are importable from
here too.
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union, cast

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import Errors
from ..training.groups import TrainGroup, make_group
from ..validation import Labels, check_choice, check_threshold, normalize_labels
from .base import run_task
from .context import CONTEXTS, premise_doc
from .decisions import CalibrationTask, DecisionSet, Item, check_description
from .spans import (
    CharSpan,
    SpanQueries,
    SpanQuery,
    SpanState,
    check_markers,
    check_template,
    check_window,
    gold_spans,
    has_spans,
    mention_premise,
    premise_reference,
    respan,
    target_spans,
    write_spans,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

__all__ = [
    "ANY_LABEL",
    "ON_LOW_CONFIDENCE",
    "PROPOSALS",
    "TYPER_FIELDS",
    "SpanQueries",
    "SpanQuery",
    "SpanState",
    "TypeLabels",
    "TyperCalibration",
    "TyperSettings",
    "TyperTask",
    "check_markers",
    "check_template",
    "check_window",
    "mention_premise",
    "normalize_type_labels",
    "premise_reference",
    "proposal_spans",
    "respan",
    "target_spans",
    "type_decision",
    "type_names",
    "type_spans",
    "types_for",
    "write_spans",
]

ON_LOW_CONFIDENCE = ("keep", "drop")
PROPOSALS = ("noun_chunks",)
ANY_LABEL = "*"
TYPER_FIELDS = ("mention", "label")

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


def type_names(types: Mapping[str, Mapping[str, str]]) -> Tuple[str, ...]:
    """Every type of the candidate sets, in order, once."""
    seen: Dict[str, None] = {}
    for options in types.values():
        seen.update(dict.fromkeys(options))
    return tuple(seen)


@dataclass(frozen=True)
class TyperSettings:
    """The settings of a `zeroshot_entity_typer` component (its `cfg`, read-only).

    types (Dict[str, Dict[str, str]]): Per span label ("*": every span), type -> the text its
        hypothesis names.
    spans_key (Optional[str]): The span group to type (None: `doc.ents`).
    proposals (Optional[str]): "noun_chunks": type noun chunks as new spans too.
    hypothesis_template (str): With `{mention}` and `{label}`.
    context, window, mention_markers: The premise around a mention (`tasks.spans`).
    multi_label (bool): Independent scores per type instead of a softmax across types.
    threshold (float): The best type becomes the label at or above this (else its own threshold).
    thresholds (Dict[str, float]): Per type, a threshold chosen by calibration.
    on_low_confidence (str): "keep" or "drop" a span whose best type is below its threshold.
    """

    types: Dict[str, Dict[str, str]]
    spans_key: Optional[str]
    proposals: Optional[str]
    hypothesis_template: str
    context: str
    window: int
    mention_markers: Optional[List[str]]
    multi_label: bool
    threshold: float
    thresholds: Dict[str, float] = field(default_factory=dict)
    on_low_confidence: str = "keep"

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        labels: TypeLabels,
        spans_key: Optional[str],
        proposals: Optional[str],
        hypothesis_template: str,
        context: str,
        window: int,
        mention_markers: Optional[List[str]],
        multi_label: bool,
        threshold: float,
        on_low_confidence: str,
    ) -> "TyperSettings":
        """The settings of the component `name`, validated (the factory's arguments)."""
        types = normalize_type_labels(labels, name)
        if proposals is not None:
            check_choice("proposals", proposals, PROPOSALS, name)
            if ANY_LABEL not in types:
                raise ValueError(Errors.E100.format(name=name, problem="`proposals` needs one list of types for every span"))
        return cls(
            types=types,
            spans_key=spans_key,
            proposals=proposals,
            hypothesis_template=check_template(hypothesis_template, TYPER_FIELDS, [["mention"], ["label"]], name),
            context=check_choice("context", context, CONTEXTS, name),
            window=check_window(window, name),
            mention_markers=check_markers(mention_markers, name),
            multi_label=bool(multi_label),
            threshold=check_threshold(threshold),
            thresholds={},  # per type, from calibration (`calibrate`, `initialize`)
            on_low_confidence=check_choice("on_low_confidence", on_low_confidence, ON_LOW_CONFIDENCE, name),
        )


class TyperTask(SpanQueries):
    """Entity typing: each span whose label has candidate types (and, with `proposals`, each
    noun chunk) against "{mention} is a {label}."; the best type at or above its threshold
    becomes the span's label.

    settings (TyperSettings): The component's settings.
    name (str): The component name, for error messages.
    """

    def __init__(self, settings: TyperSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.types: Mapping[str, Mapping[str, str]] = settings.types
        self.multi_label = settings.multi_label
        self.context, self.window, self.mention_markers = settings.context, settings.window, settings.mention_markers
        self.threshold = float(settings.threshold)
        self.thresholds: Mapping[str, float] = settings.thresholds

    def threshold_of(self, option: str) -> float:
        return float(self.thresholds.get(option, self.threshold))

    def mentions(self, doc: Doc) -> Iterable[Tuple[Span, Dict[str, Any], SpanQuery]]:
        existing = target_spans(doc, self.settings.spans_key)
        spans = [(span, False) for span in existing]
        if self.settings.proposals is not None and ANY_LABEL in self.types:
            taken = {(s.start, s.end) for s in existing}
            covered = {i for s in existing for i in range(s.start, s.end)} if self.settings.spans_key is None else set()
            for span in proposal_spans(doc, self.settings.proposals, self.name):
                if (span.start, span.end) in taken or covered.intersection(range(span.start, span.end)):
                    continue
                spans.append((span, True))
        for span, proposed in spans:
            options = types_for(span.label_, self.types)
            if options is None:
                continue
            premise = mention_premise(doc, span, self.context, self.window, self.mention_markers, self.name)
            template = self.settings.hypothesis_template
            hypotheses = [template.format(mention=span.text, label=text) for text in options.values()]
            entry = {"start": span.start, "end": span.end, "label": span.label_, "proposed": proposed}
            yield span, entry, SpanQuery(premise, list(options), hypotheses)

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per gold span (in `reference.ents` or `reference.spans[spans_key]`) whose
        label is one of the candidate types: gold type vs the other types, with the premise
        and hypotheses of inference."""
        groups = []
        for example in examples:
            spans = target_spans(example.reference, self.settings.spans_key)
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
                template = self.settings.hypothesis_template
                hyps = [[template.format(mention=mention.text, label=text)] for text in options.values()]
                gold = names.index(span.label_)
                targets = [1.0 if i == gold else 0.0 for i in range(len(names))]
                group = make_group([premise], hyps, exclusive=not self.multi_label, gold=gold, targets=targets)
                if group is not None:
                    groups.append(group)
        return groups

    def decide_entry(self, entry: Dict[str, Any], scores: Dict[str, float]) -> None:
        on_low = "drop" if entry["proposed"] else self.settings.on_low_confidence
        chosen, keep = type_decision(scores, self.threshold, on_low, self.thresholds)
        entry.update({"type": chosen, "keep": keep, "scores": scores})

    def calibration(self) -> "TyperCalibration":
        return TyperCalibration(self.settings, self.name)


def type_spans(backend: "NLIBackend", docs: Sequence[Doc], *, name: str, **settings: Any) -> List[List[Dict[str, Any]]]:
    """Decide the type of every span of every doc, scoring all of them in one backend call.

    settings: `TyperSettings`' fields ("types", "spans_key", ...; "thresholds" and
        "on_low_confidence" optional).
    RETURNS (List[List[Dict[str, Any]]]): Per doc, one plain dict per scored span:
        {"start", "end", "label" (its label before typing), "type" (the new label, or None
        to keep the old one), "keep" (False: remove the span), "proposed" (a new span from
        `proposals`), "scores" ({type: score})}.
    """
    task = TyperTask(TyperSettings(**settings), name)
    return run_task(backend, task, docs, task.requests(docs, backend))


class TyperCalibration(CalibrationTask):
    """One threshold per type: a span takes its best type if that reaches the type's threshold."""

    gold_name = "entity spans"

    def labels(self) -> List[str]:
        return list(type_names(self.settings.types))

    def has_gold(self, example: Example) -> bool:
        return has_spans(example, self.settings.spans_key)

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        types = set(self.labels())
        items: List[Item] = []
        missed: Counter = Counter()
        for doc, entries, example in zip(docs, predictions, examples):
            gold = {key: span.label_ for key, span in gold_spans(example, self.settings.spans_key).items()}
            seen: Set[CharSpan] = set()
            for entry in entries:
                span = doc[entry["start"] : entry["end"]]
                key = (span.start_char, span.end_char)
                seen.add(key)
                label = gold.get(key)
                options = entry["scores"]
                if label in options:
                    items.append((options, label))
                else:
                    items.append((options, None))
                    if label in types:
                        missed[label] += 1
            missed.update(label for key, label in gold.items() if key not in seen and label in types)
        return DecisionSet.from_items(items, self.rule, labels=self.labels(), missed=missed)

    def check_template(self, value: Any) -> str:
        return check_template(value, TYPER_FIELDS, [["mention"], ["label"]], self.name)

    def check_label_wording(self, label: str, value: Any) -> str:
        return check_description(self.name, label, value)

    def get_label_wording(self, settings: TyperSettings, label: str) -> str:
        return next(options[label] for options in settings.types.values() if label in options)

    def with_label_wording(self, settings: TyperSettings, label: str, value: str) -> TyperSettings:
        types = {source: {**options, label: value} if label in options else options for source, options in settings.types.items()}
        return replace(settings, types=types)
