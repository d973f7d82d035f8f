"""The `zeroshot_entity_linker` task: choose among a mention's candidates with NLI hypotheses.

The task as one unit: its settings (`LinkerSettings`, validated once when the component is
built), its pair logic (`LinkerTask`, on the span queries of `tasks.spans`), its gold groups
for fine-tuning, and its calibration adapter (`LinkerCalibration`: the NIL threshold).
"""

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import Errors
from ..training.groups import TrainGroup, make_group
from ..validation import check_choice, check_threshold
from .base import run_task
from .candidates import Candidate, CandidateSource
from .context import CONTEXTS, premise_doc
from .decisions import CalibrationTask, DecisionSet, Item
from .spans import (
    SpanQueries,
    SpanQuery,
    check_markers,
    check_template,
    check_window,
    gold_spans,
    mention_premise,
    premise_reference,
    target_spans,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

LINKER_FIELDS = ("mention", "name", "description", "id")
CANDIDATE_FIELDS = ("name", "description", "id")

__all__ = [
    "LinkerCalibration",
    "LinkerSettings",
    "LinkerTask",
    "candidate_hypothesis",
    "link_decision",
    "link_spans",
    "premise_reference",
]


@dataclass(frozen=True)
class LinkerSettings:
    """The settings of a `zeroshot_entity_linker` component (its `cfg`, read-only).

    spans_key (Optional[str]): The span group to link (None: `doc.ents`).
    ent_labels (List[str]): Only spans with these labels are linked ([]: every span).
    hypothesis_template (str): With `{mention}` and one of `{name}`, `{description}`, `{id}`.
    context, window, mention_markers: The premise around a mention (`tasks.spans`).
    threshold (float): The best candidate is linked at or above this, else `nil`.
    nil (str): The id of a mention linked to nothing.
    """

    spans_key: Optional[str]
    ent_labels: List[str]
    hypothesis_template: str
    context: str
    window: int
    mention_markers: Optional[List[str]]
    threshold: float
    nil: str

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        spans_key: Optional[str],
        ent_labels: List[str],
        hypothesis_template: str,
        context: str,
        window: int,
        mention_markers: Optional[List[str]],
        threshold: float,
        nil: str,
    ) -> "LinkerSettings":
        """The settings of the component `name`, validated (the factory's arguments)."""
        if not isinstance(nil, str) or not nil:
            raise ValueError(Errors.E111.format(value=nil, name=name))
        return cls(
            spans_key=spans_key,
            ent_labels=list(ent_labels),
            hypothesis_template=check_template(hypothesis_template, LINKER_FIELDS, [CANDIDATE_FIELDS], name),
            context=check_choice("context", context, CONTEXTS, name),
            window=check_window(window, name),
            mention_markers=check_markers(mention_markers, name),
            threshold=check_threshold(threshold),
            nil=nil,
        )

def candidate_hypothesis(template: str, mention: str, candidate: Mapping[str, str]) -> str:
    """The hypothesis for one candidate; an empty description falls back to the name."""
    return template.format(
        mention=mention,
        name=candidate["name"],
        description=candidate["description"] or candidate["name"],
        id=candidate["id"],
    )


def link_decision(scores: Mapping[str, float], threshold: float, nil: str) -> str:
    if not scores:
        return nil
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] >= threshold else nil


class LinkerTask(SpanQueries):
    """Entity linking: each mention's candidates (from a `CandidateSource`) as hypotheses;
    exclusive softmax across them (a single candidate is scored entailment vs contradiction,
    so it can still fall below `threshold`); the best at or above `threshold` is linked, else
    `nil`.

    settings (LinkerSettings): The component's settings.
    source (CandidateSource): The candidates of a mention.
    name (str): The component name, for error messages.
    """

    def __init__(self, settings: LinkerSettings, source: CandidateSource, name: str) -> None:
        self.settings = settings
        self.source = source
        self.name = name
        self.context, self.window, self.mention_markers = settings.context, settings.window, settings.mention_markers
        self.threshold = float(settings.threshold)

    def threshold_of(self, option: str) -> float:
        return self.threshold

    def mentions(self, doc: Doc) -> Iterable[Tuple[Span, Dict[str, Any], SpanQuery]]:
        ent_labels = self.settings.ent_labels
        for span in target_spans(doc, self.settings.spans_key):
            if ent_labels and span.label_ not in ent_labels:
                continue
            candidates: List[Candidate] = self.source.candidates(span.text)
            premise = mention_premise(doc, span, self.context, self.window, self.mention_markers, self.name) if candidates else ""
            hypotheses = [candidate_hypothesis(self.settings.hypothesis_template, span.text, c) for c in candidates]
            entry = {"start": span.start, "end": span.end, "label": span.label_}
            yield span, entry, SpanQuery(premise, [c["id"] for c in candidates], hypotheses)

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per gold mention whose `kb_id_` is among its candidates: the gold
        candidate vs the others (exclusive, as inference scores them). Mentions linked to
        `nil`, unlinked, or whose gold id is not a candidate are skipped."""
        nil, ent_labels = self.settings.nil, self.settings.ent_labels
        groups = []
        for example in examples:
            spans = [s for s in target_spans(example.reference, self.settings.spans_key) if s.kb_id_ and s.kb_id_ != nil]
            spans = [s for s in spans if not ent_labels or s.label_ in ent_labels]
            if not spans:
                continue
            doc = premise_doc(example, self.context == "sentence", self.name)
            for span in spans:
                candidates = self.source.candidates(span.text)
                ids = [c["id"] for c in candidates]
                if span.kb_id_ not in ids:
                    continue
                mention = doc[span.start : span.end]
                premise = mention_premise(doc, mention, self.context, self.window, self.mention_markers, self.name)
                hyps = [[candidate_hypothesis(self.settings.hypothesis_template, mention.text, c)] for c in candidates]
                group = make_group([premise], hyps, exclusive=True, gold=ids.index(span.kb_id_))
                if group is not None:
                    groups.append(group)
        return groups

    def decide_entry(self, entry: Dict[str, Any], scores: Dict[str, float]) -> None:
        entry.update({"kb_id": link_decision(scores, self.threshold, self.settings.nil), "scores": scores})

    def calibration(self) -> "LinkerCalibration":
        return LinkerCalibration(self.settings, self.name)


def link_spans(
    backend: "NLIBackend", docs: Sequence[Doc], *, source: CandidateSource, name: str, **settings: Any
) -> List[List[Dict[str, Any]]]:
    """Link every mention of every doc, scoring all candidates in one backend call.

    settings: `LinkerSettings`' fields ("spans_key", "ent_labels", ...).
    RETURNS (List[List[Dict[str, Any]]]): Per doc, per linked mention: {"start", "end",
        "label", "kb_id" (chosen id or `nil`), "scores" ({candidate id: score})}.
    """
    task = LinkerTask(LinkerSettings(**settings), source, name)
    return run_task(backend, task, docs, task.requests(docs, backend))


class LinkerCalibration(CalibrationTask):
    """One threshold (NIL below it) for every mention; gold ids from the reference's `kb_id_`."""

    scope = "global"
    label_wording = False
    gold_name = "`kb_id_` on entity spans"

    def labels(self) -> List[str]:
        return []

    def has_gold(self, example: Example) -> bool:
        return any(span.kb_id_ for span in target_spans(example.reference, self.settings.spans_key))

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        nil = self.settings.nil
        items: List[Item] = []
        missed: Counter = Counter()
        for doc, entries, example in zip(docs, predictions, examples):
            gold = gold_spans(example, self.settings.spans_key)
            for entry in entries:
                span = doc[entry["start"] : entry["end"]]
                reference = gold.get((span.start_char, span.end_char))
                if reference is None:  # as spaCy's link scorer: only mentions found in both
                    continue
                kb_id = reference.kb_id_ if reference.kb_id_ and reference.kb_id_ != nil else None
                options = entry["scores"]
                if kb_id is not None and kb_id not in options:
                    missed[kb_id] += 1
                    kb_id = None
                items.append((options, kb_id))
        return DecisionSet.from_items(items, self.rule, missed=missed)

    def check_template(self, value: Any) -> str:
        return check_template(value, LINKER_FIELDS, [CANDIDATE_FIELDS], self.name)
