"""The `zeroshot_relation_extractor` task: relations between pairs of entity spans.

Each relation label is verbalized by one or more templates filled with the two mentions
("{subj} was founded by {obj}."), and a pair gets the label whose best template the premise
entails most (Sainz et al. 2021, "Label Verbalization and Entailment for Effective Zero- and
Few-Shot Relation Extraction"). Entity-type constraints prune (pair, label) combinations
before any model call, so impossible pairs cost nothing.

The task as one unit: its settings (`RelationSettings`, validated once when the component is
built), its pair logic (`RelationTask`; candidate pairs in `tasks.relation_pairs`), its gold
groups for fine-tuning, and its calibration adapter (`RelationCalibration`). Relations read
back from docs and their scorer live in `tasks.relation_scores` (importable from here too).
This module knows spaCy, not torch: it builds (premise, hypothesis) pairs and turns the
backend's logits back into plain relation dicts.
"""

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from spacy.tokens import Doc, Span
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..scheduler import row_ranges
from ..training.groups import TrainGroup, make_group
from ..training.negatives import check_negative_settings
from ..validation import check_choice, check_threshold
from .base import Explained, Logits, PairBatch, run_task
from .context import CONTEXTS, premise_doc
from .decisions import CalibrationTask, DecisionSet, Item
from .relation_labels import (
    DEFAULT_TEMPLATE,
    LABEL_KEYS,
    TEMPLATE_FIELDS,
    RelationLabel,
    check_relation_template,
    normalize_relation_labels,
)
from .relation_pairs import CandidatePair, candidate_pairs
from .relation_scores import Relation, RelationSpans, relation_spans, score_relations
from .spans import target_spans

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

__all__ = [
    "DEFAULT_TEMPLATE",
    "LABEL_KEYS",
    "TEMPLATE_FIELDS",
    "CandidatePair",
    "RelationCalibration",
    "RelationLabel",
    "RelationSettings",
    "RelationSpans",
    "RelationTask",
    "candidate_pairs",
    "check_relation_template",
    "classify_pairs",
    "normalize_relation_labels",
    "relation_spans",
    "score_relations",
]


@dataclass(frozen=True)
class RelationSettings:
    """The settings of a `zeroshot_relation_extractor` component (its `cfg`, read-only).

    labels (Dict[str, Dict[str, Any]]): Label -> {"templates", "allowed_head", "allowed_tail",
        "allowed_pairs"} (`normalize_relation_labels`).
    template (str): The template of labels given without one.
    threshold (float): A pair's best label is kept at or above this (else its own threshold).
    thresholds (Dict[str, float]): Per label, a threshold (set, or chosen by calibration).
    spans_key (Optional[str]): The span group whose spans are paired (None: `doc.ents`).
    max_distance (Optional[int]): Pair spans at most this many tokens apart (None: same sentence).
    context, window: The premise around a pair (`tasks.context.context_span`).
    extension (str): The `doc._` attribute the relations are written to.
    negatives_per_positive, no_relation_sample, hard_negatives: Fine-tuning's negatives
        (`training.negatives.sample_negatives`).
    """

    labels: Dict[str, Dict[str, Any]]
    template: str
    threshold: float
    thresholds: Dict[str, float]
    spans_key: Optional[str]
    max_distance: Optional[int]
    context: str
    window: int
    extension: str
    negatives_per_positive: int = -1
    no_relation_sample: float = 1.0
    hard_negatives: bool = False

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        labels: Union[Sequence[str], Mapping[str, Any]],
        template: str,
        threshold: float,
        thresholds: Mapping[str, float],
        spans_key: Optional[str],
        max_distance: Optional[int],
        context: str,
        window: int,
        extension: str,
        negatives_per_positive: int = -1,
        no_relation_sample: float = 1.0,
        hard_negatives: bool = False,
    ) -> "RelationSettings":
        """The settings of the component `name`, validated (the factory's arguments)."""
        settings = normalize_relation_labels(labels, template, name)
        unknown = sorted(set(thresholds or {}) - set(settings))
        if unknown:
            raise ValueError(Errors.E152.format(labels=unknown, name=name, known=list(settings)))
        for key, value in (("max_distance", max_distance), ("window", window)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(Errors.E153.format(key=key, name=name, value=value))
        if not isinstance(extension, str) or not extension.isidentifier():
            raise ValueError(Errors.E155.format(name=name, value=extension))
        check_negative_settings(negatives_per_positive, no_relation_sample, hard_negatives, name)
        return cls(
            labels=settings,
            template=template,
            threshold=check_threshold(threshold),
            thresholds={label: check_threshold(value) for label, value in (thresholds or {}).items()},
            spans_key=spans_key,
            max_distance=max_distance,
            context=check_choice("context", context, CONTEXTS, name),
            window=window,
            extension=extension,
            negatives_per_positive=negatives_per_positive,
            no_relation_sample=float(no_relation_sample),
            hard_negatives=hard_negatives,
        )


class RelationTask:
    """Relation extraction as NLI pairs: every template of every label a candidate pair's
    entity types allow, against the pair's premise. A label's score is the best of its
    templates' multi-label scores (entailment vs contradiction); a pair's relation is its
    best label among those reaching their threshold (`thresholds[label]`, else `threshold`).

    settings (RelationSettings): The component's settings.
    name (str): The component name, for error messages.
    """

    def __init__(self, settings: RelationSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.labels = [RelationLabel.from_settings(label, spec) for label, spec in settings.labels.items()]
        self.threshold = float(settings.threshold)
        self.thresholds: Mapping[str, float] = settings.thresholds

    def spans(self, doc: Doc) -> List[Span]:
        """The candidate mentions of a doc: `doc.ents`, or `doc.spans[spans_key]` (none if absent)."""
        key = self.settings.spans_key
        if key is None:
            return list(doc.ents)
        return list(doc.spans[key]) if key in doc.spans else []

    def candidates(self, doc: Doc, labels: Optional[Sequence[RelationLabel]] = None) -> List[CandidatePair]:
        """The (head, tail) pairs of a doc that will be scored, with their allowed labels."""
        return self.candidates_among(doc, self.spans(doc), labels)

    def candidates_among(
        self, doc: Doc, spans: Sequence[Span], labels: Optional[Sequence[RelationLabel]] = None
    ) -> List[CandidatePair]:
        settings = self.settings
        return candidate_pairs(
            doc,
            spans,
            self.labels if labels is None else labels,
            max_distance=settings.max_distance,
            context=settings.context,
            window=settings.window,
            name=self.name,
        )

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per candidate pair of every doc with gold relations in
        `reference._.<extension>` (None: not annotated, skipped): the gold relation's target
        is 1 and the pair's other allowed relations 0; a pair without a gold relation (or
        with a relation this component does not know) is a negative for all its allowed
        relations. A pair whose gold relation its entity types exclude is skipped (inference
        cannot give it)."""
        settings, extension = self.settings, self.settings.extension
        known = {label.name for label in self.labels}
        groups = []
        for example in examples:
            reference = example.reference
            gold_relations = reference._.get(extension) if Doc.has_extension(extension) else None
            if gold_relations is None:
                continue
            gold: Dict[Tuple[int, int, int, int], str] = {
                (rel["head"][0], rel["head"][1], rel["tail"][0], rel["tail"][1]): rel["label"] for rel in gold_relations
            }
            doc = premise_doc(example, settings.max_distance is None or settings.context == "sentence", self.name)
            spans = [Span(doc, s.start, s.end, label=s.label_) for s in target_spans(reference, settings.spans_key)]
            for pair in self.candidates_among(doc, spans):
                label = gold.get((*pair.head, *pair.tail))
                allowed = [rel.name for rel in pair.labels]
                if label in known and label not in allowed:
                    continue
                targets = [1.0 if rel == label else 0.0 for rel in allowed]
                options = [rel.hypotheses(pair.subj, pair.obj) for rel in pair.labels]
                group = make_group([pair.premise], options, exclusive=False, targets=targets, keys=allowed)
                if group is not None:
                    groups.append(group)
        return groups

    def requests(self, docs: Sequence[Doc], tokens: Any = None) -> PairBatch:
        return self.batch([self.candidates(doc) for doc in docs])

    def batch(self, candidates: Sequence[Sequence[CandidatePair]]) -> PairBatch:
        """The pairs of every template of every allowed label of the candidate pairs (per doc)."""
        flat = [pair for doc_pairs in candidates for pair in doc_pairs]
        pairs = [(pair.premise, h) for pair in flat for label in pair.labels for h in label.hypotheses(pair.subj, pair.obj)]
        limits: List[Optional[List[float]]] = [
            [float(self.thresholds.get(label.name, self.threshold)) for label in pair.labels] for pair in flat
        ]
        return PairBatch(
            pairs=pairs,
            rows=row_ranges([sum(len(label.templates) for label in pair.labels) for pair in flat]),
            thresholds=limits,
            ranked=True,
            state=[list(doc_pairs) for doc_pairs in candidates],
        )

    def option_scores(self, batch: PairBatch, logits: Logits) -> List[np.ndarray]:
        return [np.array(list(scores.values())) for scores in self._scores(batch, logits)]

    def _scores(self, batch: PairBatch, logits: Logits) -> List[Dict[str, float]]:
        if not batch.pairs:
            return []
        probs = logits.multilabel()
        flat = (pair for doc_pairs in batch.state for pair in doc_pairs)
        return [_label_scores(pair, probs, start) for pair, (start, _) in zip(flat, batch.rows)]

    def decide(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits) -> List[List[Relation]]:
        """Per doc, its relations as plain dicts {"head", "tail", "label", "score", "scores"}."""
        all_scores = iter(self._scores(batch, logits))
        results: List[List[Relation]] = []
        for doc_pairs in batch.state:
            relations: List[Relation] = []
            for pair in doc_pairs:
                scores = next(all_scores)
                passing = [label for label, s in scores.items() if s >= self.thresholds.get(label, self.threshold)]
                if passing:
                    best = max(passing, key=lambda label: scores[label])
                    relations.append(
                        {"head": list(pair.head), "tail": list(pair.tail), "label": best, "score": scores[best], "scores": scores}
                    )
            results.append(relations)
        return results

    def explain(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits, predictions: Any) -> Iterable[Explained]:
        """One decision per label of every candidate pair, with its templates' pairs."""
        all_scores = iter(self._scores(batch, logits))
        rows = iter(batch.rows)
        for doc_index, doc_pairs in enumerate(batch.state):
            for pair in doc_pairs:
                scores, (row, _) = next(all_scores), next(rows)
                target = audit.relation_target(pair.head, pair.tail)
                for label in pair.labels:
                    scored = [(pair.premise_span, row + k) for k in range(len(label.templates))]
                    limit = self.thresholds.get(label.name, self.threshold)
                    yield Explained(doc_index, target, label.name, scores[label.name], scored, limit)
                    row += len(label.templates)

    def calibration(self) -> "RelationCalibration":
        return RelationCalibration(self.settings, self.name)


def classify_pairs(
    backend: "NLIBackend",
    candidates: Sequence[Sequence[CandidatePair]],
    threshold: float,
    thresholds: Mapping[str, float],
) -> List[List[Relation]]:
    """Score the candidate pairs of many docs in ONE backend call; keep the related pairs
    (see `RelationTask`).

    candidates (Sequence[Sequence[CandidatePair]]): Per doc, its candidate pairs.
    RETURNS (List[List[Dict[str, Any]]]): Per doc, the relations as plain dicts.
    """
    settings = RelationSettings(
        labels={},
        template=DEFAULT_TEMPLATE,
        threshold=threshold,
        thresholds=dict(thresholds),
        spans_key=None,
        max_distance=None,
        context="sentence",
        window=0,
        extension="relations",
    )
    task = RelationTask(settings, "")
    return run_task(backend, task, [], task.batch(candidates))


def _label_scores(pair: CandidatePair, probs: np.ndarray, row: int) -> Dict[str, float]:
    """A pair's score per label: the best of its templates' rows, which start at `row`."""
    scores: Dict[str, float] = {}
    for label in pair.labels:
        n = len(label.templates)
        scores[label.name] = float(probs[row : row + n].max())
        row += n
    return scores



class RelationCalibration(CalibrationTask):
    """One threshold per relation label: a pair takes its best label among those reaching
    their thresholds. `template` candidates replace the template of the labels that use the
    component's `template`; a label's wording is its list of templates."""

    rule = "passing"
    template_key = "template"
    gold_name = "relations in the component's `doc._` extension"

    def labels(self) -> List[str]:
        return list(self.settings.labels)

    def has_gold(self, example: Example) -> bool:
        extension = self.settings.extension
        return Doc.has_extension(extension) and example.reference._.get(extension) is not None

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        labels = set(self.labels())
        items: List[Item] = []
        missed: Counter = Counter()
        missed_other = 0
        for doc, relations, example in zip(docs, predictions, examples):
            gold: Dict[Tuple[int, int, int, int], str] = {}
            unreachable: List[str] = []
            for rel in example.reference._.get(self.settings.extension) or []:
                key = _relation_chars(example.reference, rel)
                if key in gold:  # a second gold label for one pair can never be predicted
                    unreachable.append(rel["label"])
                else:
                    gold[key] = rel["label"]
            for rel in relations:
                label = gold.pop(_relation_chars(doc, rel), None)
                scores = rel["scores"]
                if label is None or label in scores:
                    items.append((scores, label))
                else:  # the pair's entity types do not allow the gold label
                    items.append((scores, None))
                    unreachable.append(label)
            unreachable.extend(gold.values())  # gold pairs that were never candidates
            missed.update(label for label in unreachable if label in labels)
            missed_other += sum(label not in labels for label in unreachable)
        return DecisionSet.from_items(items, self.rule, labels=self.labels(), missed=missed, missed_other=missed_other)

    def check_template(self, value: Any) -> str:
        return check_relation_template(value, "<every label with the default template>", self.name, needs_label=True)

    def with_template(self, settings: RelationSettings, value: str) -> RelationSettings:
        old = settings.template
        labels = {
            label: {**spec, "templates": [value]} if list(spec["templates"]) == [old] else spec
            for label, spec in settings.labels.items()
        }
        return replace(settings, labels=labels, template=value)

    def check_label_wording(self, label: str, value: Any) -> List[str]:
        templates = [value] if isinstance(value, str) else value
        if not isinstance(templates, (list, tuple)) or not templates:
            expected = "a template or a non-empty list of templates"
            raise ValueError(Errors.E433.format(name=self.name, label=label, value=value, expected=expected))
        return [check_relation_template(t, label, self.name) for t in templates]

    def get_label_wording(self, settings: RelationSettings, label: str) -> List[str]:
        return list(settings.labels[label]["templates"])

    def with_label_wording(self, settings: RelationSettings, label: str, value: List[str]) -> RelationSettings:
        labels = {**settings.labels, label: {**settings.labels[label], "templates": list(value)}}
        return replace(settings, labels=labels)


def _relation_chars(doc: Doc, relation: Dict[str, Any]) -> Tuple[int, int, int, int]:
    head = doc[relation["head"][0] : relation["head"][1]]
    tail = doc[relation["tail"][0] : relation["tail"][1]]
    return (head.start_char, head.end_char, tail.start_char, tail.end_char)
