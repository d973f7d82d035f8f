"""Zero-shot relation classification between pairs of entity spans.

Each relation label is verbalized by one or more templates filled with the two mentions
("{subj} was founded by {obj}."), and a pair gets the label whose best template the premise
entails most (Sainz et al. 2021, "Label Verbalization and Entailment for Effective Zero- and
Few-Shot Relation Extraction"). Entity-type constraints prune (pair, label) combinations
before any model call, so impossible pairs cost nothing.

This module knows spaCy, not torch: it builds (premise, hypothesis) pairs and turns the
backend's logits back into plain relation dicts.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..scheduler import row_ranges
from ..training.groups import TrainGroup, make_group
from .base import Explained, Logits, PairBatch, run_task
from .context import context_span
from .entities import target_spans
from .gold import premise_doc
from .relation_labels import (
    DEFAULT_TEMPLATE,
    LABEL_KEYS,
    TEMPLATE_FIELDS,
    RelationLabel,
    check_relation_template,
    normalize_relation_labels,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

__all__ = [
    "DEFAULT_TEMPLATE",
    "LABEL_KEYS",
    "TEMPLATE_FIELDS",
    "CandidatePair",
    "RelationLabel",
    "RelationSpans",
    "RelationTask",
    "candidate_pairs",
    "check_relation_template",
    "classify_pairs",
    "normalize_relation_labels",
    "relation_spans",
    "score_relations",
]

Offsets = Tuple[int, int]
Relation = Dict[str, Any]


# Candidate pairs -----------------------------------------------------------------------


@dataclass
class CandidatePair:
    """An ordered (head, tail) pair of one doc, the labels it may hold and its premise."""

    head: Offsets
    tail: Offsets
    labels: List[RelationLabel]
    premise: str
    subj: str
    obj: str
    premise_span: Tuple[int, int] = (0, 0)  # character offsets of the premise in the doc


def _sentence_ids(doc: Doc, name: str) -> List[int]:
    if len(doc) > 1 and not doc.has_annotation("SENT_START"):
        raise ValueError(Errors.E154.format(name=name))
    ids = [0] * len(doc)
    for number, sent in enumerate(doc.sents):
        for i in range(sent.start, sent.end):
            ids[i] = number
    return ids


def candidate_pairs(
    doc: Doc,
    spans: Sequence[Span],
    labels: Sequence[RelationLabel],
    *,
    max_distance: Optional[int],
    context: str,
    window: int,
    name: str,
) -> List[CandidatePair]:
    """Ordered pairs of distinct, non-overlapping spans that may hold at least one label.

    Without `max_distance`, two spans pair when they share a sentence (a span that crosses a
    sentence boundary belongs to every sentence it touches); with it, when at most
    `max_distance` tokens lie between them. Both directions are candidates. Labels whose
    type constraints exclude the pair are dropped here, before any model call.

    RETURNS (List[CandidatePair]): In span order: (0, 1), (0, 2), ..., (1, 0), ...
    """
    if len(spans) < 2:
        return []
    sentences: Optional[List[Tuple[int, int]]] = None
    if max_distance is None:
        ids = _sentence_ids(doc, name)
        sentences = [(ids[span.start], ids[span.end - 1]) for span in spans]
    premises: Dict[Offsets, Tuple[str, Offsets]] = {}
    result: List[CandidatePair] = []
    for i, head in enumerate(spans):
        for j, tail in enumerate(spans):
            if i == j or (head.start < tail.end and tail.start < head.end):
                continue
            if sentences is not None:
                (h0, h1), (t0, t1) = sentences[i], sentences[j]
                if h0 > t1 or t0 > h1:
                    continue
            elif max(head.start, tail.start) - min(head.end, tail.end) > (max_distance or 0):
                continue
            allowed = [label for label in labels if label.allows(head.label_, tail.label_)]
            if not allowed:
                continue
            start, end = min(head.start, tail.start), max(head.end, tail.end)
            if (start, end) not in premises:
                around = context_span(doc, start, end, context, window, name)
                premises[(start, end)] = (around.text, (around.start_char, around.end_char))
            premise, where = premises[(start, end)]
            result.append(
                CandidatePair((head.start, head.end), (tail.start, tail.end), allowed, premise, head.text, tail.text, where)
            )
    return result


# Scoring -------------------------------------------------------------------------------


class RelationTask:
    """Relation extraction as NLI pairs: every template of every label a candidate pair's
    entity types allow, against the pair's premise. A label's score is the best of its
    templates' multi-label scores (entailment vs contradiction); a pair's relation is its
    best label among those reaching their threshold (`thresholds[label]`, else `threshold`).

    cfg (Mapping[str, Any]): The component's settings ("labels", "threshold", "thresholds",
        "spans_key", "max_distance", "context", "window").
    name (str): The component name, for error messages.
    """

    def __init__(self, cfg: Mapping[str, Any], name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.labels = [RelationLabel.from_settings(label, settings) for label, settings in cfg["labels"].items()]
        self.threshold = float(cfg["threshold"])
        self.thresholds: Mapping[str, float] = cfg.get("thresholds") or {}

    def spans(self, doc: Doc) -> List[Span]:
        """The candidate mentions of a doc: `doc.ents`, or `doc.spans[spans_key]` (none if absent)."""
        key = self.cfg.get("spans_key")
        if key is None:
            return list(doc.ents)
        return list(doc.spans[key]) if key in doc.spans else []

    def candidates(self, doc: Doc, labels: Optional[Sequence[RelationLabel]] = None) -> List[CandidatePair]:
        """The (head, tail) pairs of a doc that will be scored, with their allowed labels."""
        return self.candidates_among(doc, self.spans(doc), labels)

    def candidates_among(
        self, doc: Doc, spans: Sequence[Span], labels: Optional[Sequence[RelationLabel]] = None
    ) -> List[CandidatePair]:
        cfg = self.cfg
        return candidate_pairs(
            doc,
            spans,
            self.labels if labels is None else labels,
            max_distance=cfg["max_distance"],
            context=cfg["context"],
            window=cfg["window"],
            name=self.name,
        )

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per candidate pair of every doc with gold relations in
        `reference._.<extension>` (None: not annotated, skipped): the gold relation's target
        is 1 and the pair's other allowed relations 0; a pair without a gold relation (or
        with a relation this component does not know) is a negative for all its allowed
        relations. A pair whose gold relation its entity types exclude is skipped (inference
        cannot give it)."""
        cfg, extension = self.cfg, self.cfg["extension"]
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
            doc = premise_doc(example, cfg["max_distance"] is None or cfg["context"] == "sentence", self.name)
            spans = [Span(doc, s.start, s.end, label=s.label_) for s in target_spans(reference, cfg.get("spans_key"))]
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
    task = RelationTask({"labels": {}, "threshold": threshold, "thresholds": thresholds}, "")
    return run_task(backend, task, [], task.batch(candidates))


# Reading relations back ----------------------------------------------------------------


class RelationSpans(NamedTuple):
    """A relation with its mentions as `Span` objects."""

    head: Span
    tail: Span
    label: str
    score: float


def relation_spans(doc: Doc, extension: str = "relations") -> List[RelationSpans]:
    """The relations stored in `doc._.<extension>`, with head and tail as `Span` objects.

    doc (Doc): A doc annotated by 'zeroshot_relation_extractor' (or with gold relations).
    extension (str): The `doc._` attribute holding the relations.
    RETURNS (List[RelationSpans]): (head, tail, label, score) per relation, in stored order.
    """
    relations = doc._.get(extension) if Doc.has_extension(extension) else None
    return [
        RelationSpans(
            doc[rel["head"][0] : rel["head"][1]],
            doc[rel["tail"][0] : rel["tail"][1]],
            rel["label"],
            float(rel.get("score", 1.0)),
        )
        for rel in relations or []
    ]


def _char_keys(doc: Doc, relations: Iterable[Relation]) -> List[Tuple[int, int, int, int, str]]:
    keys = []
    for rel in relations:
        head, tail = doc[rel["head"][0] : rel["head"][1]], doc[rel["tail"][0] : rel["tail"][1]]
        keys.append((head.start_char, head.end_char, tail.start_char, tail.end_char, rel["label"]))
    return keys


def _label_scores(pair: CandidatePair, probs: np.ndarray, row: int) -> Dict[str, float]:
    """A pair's score per label: the best of its templates' rows, which start at `row`."""
    scores: Dict[str, float] = {}
    for label in pair.labels:
        n = len(label.templates)
        scores[label.name] = float(probs[row : row + n].max())
        row += n
    return scores


def score_relations(examples: Iterable[Example], *, extension: str = "relations", prefix: str = "rel", **_: Any) -> Dict[str, Any]:
    """Micro and per-label precision, recall and F-score of predicted relations.

    Gold relations are read from the reference docs in the same format (`doc._.<extension>`);
    a relation is right when its label and both mentions' character offsets match, so the
    two docs may be tokenized differently. Examples whose reference has no relation
    annotation (None) are skipped.

    RETURNS (Dict[str, Any]): `{prefix}_micro_p`, `_micro_r`, `_micro_f` (None when no
        example has gold relations) and `{prefix}_per_type`: {label: {"p", "r", "f"}}.
    """
    micro = PRFScore()
    per_type: Dict[str, PRFScore] = {}
    annotated = False
    for example in examples:
        gold_relations = example.reference._.get(extension) if Doc.has_extension(extension) else None
        if gold_relations is None:
            continue
        annotated = True
        gold = set(_char_keys(example.reference, gold_relations))
        pred = set(_char_keys(example.predicted, example.predicted._.get(extension) or []))
        for key in gold | pred:
            score = per_type.setdefault(key[-1], PRFScore())
            if key in gold and key in pred:
                micro.tp += 1
                score.tp += 1
            elif key in pred:
                micro.fp += 1
                score.fp += 1
            else:
                micro.fn += 1
                score.fn += 1
    if not annotated:
        return {f"{prefix}_micro_p": None, f"{prefix}_micro_r": None, f"{prefix}_micro_f": None, f"{prefix}_per_type": None}
    return {
        f"{prefix}_micro_p": micro.precision,
        f"{prefix}_micro_r": micro.recall,
        f"{prefix}_micro_f": micro.fscore,
        f"{prefix}_per_type": {label: s.to_dict() for label, s in sorted(per_type.items())},
    }
