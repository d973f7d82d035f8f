"""Candidate entity pairs for relation extraction: which (head, tail) pairs of a doc's spans are
scored, with the labels their entity types allow and their premise."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from ..errors import Errors
from .context import context_span
from .relation_labels import RelationLabel

Offsets = Tuple[int, int]


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

