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
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..maths import is_close_call, multilabel_scores
from ..scheduler import row_ranges
from ..validation import template_fields
from .context import context_span

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

DEFAULT_TEMPLATE = "{subj} {label} {obj}."
TEMPLATE_FIELDS = frozenset({"subj", "obj", "label"})
LABEL_KEYS = ("templates", "allowed_head", "allowed_tail", "allowed_pairs")
Offsets = Tuple[int, int]
Relation = Dict[str, Any]


@dataclass(frozen=True)
class RelationLabel:
    """A relation label, its verbalizations and the entity types it may connect."""

    name: str
    templates: Tuple[str, ...]
    allowed_head: Optional[FrozenSet[str]] = None
    allowed_tail: Optional[FrozenSet[str]] = None
    allowed_pairs: Optional[FrozenSet[Tuple[str, str]]] = None

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any]) -> "RelationLabel":
        """Build from the plain dict that `normalize_relation_labels` returns."""
        pairs = settings.get("allowed_pairs")
        return cls(
            name=name,
            templates=tuple(settings["templates"]),
            allowed_head=_frozen(settings.get("allowed_head")),
            allowed_tail=_frozen(settings.get("allowed_tail")),
            allowed_pairs=None if pairs is None else frozenset(_split_pair(p) for p in pairs),
        )

    def allows(self, head_type: str, tail_type: str) -> bool:
        """Whether a head of `head_type` and a tail of `tail_type` may hold this relation."""
        if self.allowed_head is not None and head_type not in self.allowed_head:
            return False
        if self.allowed_tail is not None and tail_type not in self.allowed_tail:
            return False
        return self.allowed_pairs is None or (head_type, tail_type) in self.allowed_pairs

    def hypotheses(self, subj: str, obj: str) -> List[str]:
        return [template.format(subj=subj, obj=obj, label=self.name) for template in self.templates]


def _frozen(values: Optional[Sequence[str]]) -> Optional[FrozenSet[str]]:
    return None if values is None else frozenset(values)


def _split_pair(pair: str) -> Tuple[str, str]:
    head, _, tail = pair.partition(":")
    return head, tail


# Settings ------------------------------------------------------------------------------


def check_relation_template(template: Any, label: str, name: str, needs_label: bool = False) -> str:
    """A relation template: '{subj}' and '{obj}' (and '{label}' for plain label lists)."""
    fields = template_fields(template) if isinstance(template, str) else ["<not a string>"]
    required = {"subj", "obj", "label"} if needs_label else {"subj", "obj"}
    if not required <= set(fields) or not set(fields) <= TEMPLATE_FIELDS:
        raise ValueError(Errors.E150.format(template=template, label=label, name=name, fields=fields))
    return template


def _type_list(value: Any, key: str, label: str, name: str) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        problem = f"`{key}` must be a non-empty list of non-empty strings, got {value!r}"
        raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    if key == "allowed_pairs":
        for pair in value:
            head, sep, tail = pair.partition(":")
            if not sep or not head or not tail or ":" in tail:
                problem = f"{pair!r} in `allowed_pairs` is not of the form \"HEADTYPE:TAILTYPE\""
                raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    return list(value)


def _label_settings(label: str, spec: Any, name: str) -> Dict[str, Any]:
    if isinstance(spec, str) or (isinstance(spec, (list, tuple)) and spec):
        spec = {"templates": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(Errors.E151.format(label=label, name=name, problem=f"got {spec!r}"))
    unknown = [key for key in spec if key not in LABEL_KEYS]
    if unknown:
        raise ValueError(Errors.E151.format(label=label, name=name, problem=f"unknown key(s) {unknown}"))
    templates = spec.get("templates")
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, (list, tuple)) or not templates:
        problem = f"`templates` must be a template or a non-empty list of templates, got {templates!r}"
        raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    settings: Dict[str, Any] = {"templates": [check_relation_template(t, label, name) for t in templates]}
    for key in LABEL_KEYS[1:]:
        settings[key] = _type_list(spec.get(key), key, label, name)
    return settings


def normalize_relation_labels(
    labels: Union[Sequence[str], Mapping[str, Any]], template: str, name: str
) -> Dict[str, Dict[str, Any]]:
    """Turn the user's relation labels into label -> plain settings (msgpack/config safe).

    labels (Union[Sequence[str], Mapping[str, Any]]): A list of labels (each verbalized with
        `template`), or a mapping label -> template, list of templates, or a dict with
        "templates", "allowed_head", "allowed_tail" and "allowed_pairs" ("HEAD:TAIL").
    template (str): The template for labels given without one; needs '{subj}', '{label}'
        and '{obj}'.
    name (str): The component name, for error messages.
    RETURNS (Dict[str, Dict[str, Any]]): Label -> {"templates": [...], "allowed_head": ...}.
    """
    if isinstance(labels, str) and labels.strip():
        labels = [labels]
    if isinstance(labels, str) or not labels:
        raise ValueError(Errors.E052.format(name=name))
    if not isinstance(labels, Mapping):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(Errors.E052.format(name=name))
        duplicates = sorted({label for label in labels if list(labels).count(label) > 1}, key=str)
        if duplicates:
            raise ValueError(Errors.E053.format(labels=duplicates, name=name))
        for label in labels:
            if isinstance(label, str) and label.strip():
                check_relation_template(template, label, name, needs_label=True)
        labels = {label: template for label in labels}
    result: Dict[str, Dict[str, Any]] = {}
    for label, spec in labels.items():
        if not isinstance(label, str) or not label.strip():
            raise ValueError(Errors.E054.format(label=label, name=name))
        result[label] = _label_settings(label, spec, name)
    return result


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


def classify_pairs(
    backend: "NLIBackend",
    candidates: Sequence[Sequence[CandidatePair]],
    threshold: float,
    thresholds: Mapping[str, float],
) -> List[List[Relation]]:
    """Score the candidate pairs of many docs in ONE backend call; keep the related pairs.

    A label's score is the maximum, over its templates, of the multi-label entailment
    probability (entailment vs contradiction). A pair's relation is its best-scoring label
    among those reaching their threshold (`thresholds[label]`, else `threshold`).

    candidates (Sequence[Sequence[CandidatePair]]): Per doc, its candidate pairs.
    RETURNS (List[List[Dict[str, Any]]]): Per doc, the relations as plain dicts.
    """
    pairs: List[Tuple[str, str]] = []
    for doc_pairs in candidates:
        for pair in doc_pairs:
            for label in pair.labels:
                pairs.extend((pair.premise, h) for h in label.hypotheses(pair.subj, pair.obj))
    if not pairs:
        return [[] for _ in candidates]
    logits = backend.score(pairs)
    flat = [pair for doc_pairs in candidates for pair in doc_pairs]
    ranges = row_ranges([sum(len(label.templates) for label in pair.labels) for pair in flat])
    if backend.rechecks:
        logits = _recheck_close_pairs(backend, pairs, logits, flat, ranges, threshold, thresholds)
    probs = multilabel_scores(logits, backend.entailment_index, backend.contradiction_index)
    trail = audit.active_trail()
    results: List[List[Relation]] = []
    starts = iter(start for start, _ in ranges)
    for doc_index, doc_pairs in enumerate(candidates):
        relations: List[Relation] = []
        for pair in doc_pairs:
            row = next(starts)
            scores = _label_scores(pair, probs, row)
            if trail is not None:
                _record_pair(trail, doc_index, pair, scores, logits, row, threshold, thresholds)
            passing = [label for label, s in scores.items() if s >= thresholds.get(label, threshold)]
            if passing:
                best = max(passing, key=lambda label: scores[label])
                relations.append(
                    {
                        "head": list(pair.head),
                        "tail": list(pair.tail),
                        "label": best,
                        "score": scores[best],
                        "scores": scores,
                    }
                )
        results.append(relations)
    return results


def _record_pair(
    trail: audit.AuditTrail,
    doc_index: int,
    pair: CandidatePair,
    scores: Mapping[str, float],
    logits: np.ndarray,
    row: int,
    threshold: float,
    thresholds: Mapping[str, float],
) -> None:
    """Add one decision per label of a candidate pair (its templates' pairs) to the audit trail."""
    target = audit.relation_target(pair.head, pair.tail)
    for label in pair.labels:
        hypotheses = label.hypotheses(pair.subj, pair.obj)
        scored = [(pair.premise_span, h, logits[row + k]) for k, h in enumerate(hypotheses)]
        trail.add(doc_index, target, label.name, scores[label.name], scored, thresholds.get(label.name, threshold))
        row += len(hypotheses)


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


def _recheck_close_pairs(
    backend: "NLIBackend",
    pairs: Sequence[Tuple[str, str]],
    logits: np.ndarray,
    flat: Sequence[CandidatePair],
    ranges: Sequence[Tuple[int, int]],
    threshold: float,
    thresholds: Mapping[str, float],
) -> np.ndarray:
    """Score again in float32 the candidate pairs (rows `ranges`) whose relation is a close call."""
    probs = multilabel_scores(logits, backend.entailment_index, backend.contradiction_index)
    close = []
    for pair, (start, end) in zip(flat, ranges):
        scores = _label_scores(pair, probs, start)
        limits = [thresholds.get(label, threshold) for label in scores]
        if is_close_call(np.array(list(scores.values())), backend.recheck_margin, ranked=True, thresholds=limits):
            close.append((start, end))
    return backend.rescore_exact(pairs, logits, close)


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
