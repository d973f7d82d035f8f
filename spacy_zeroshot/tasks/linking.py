"""Zero-shot entity linking: choose among a mention's candidates with NLI hypotheses."""

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from spacy.tokens import Doc

from .. import audit
from .candidates import Candidate, CandidateSource
from .entities import SpanQuery, mention_premise, premise_reference, record_queries, score_queries, target_spans

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

LINKER_FIELDS = ("mention", "name", "description", "id")
CANDIDATE_FIELDS = ("name", "description", "id")


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


def link_spans(
    backend: "NLIBackend",
    docs: Sequence[Doc],
    *,
    source: CandidateSource,
    spans_key: Optional[str],
    ent_labels: Sequence[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[Sequence[str]],
    threshold: float,
    nil: str,
    name: str,
) -> List[List[Dict[str, Any]]]:
    """Link every mention of every doc, scoring all candidates in one backend call.

    Exclusive softmax across a mention's candidates; a mention with one candidate is scored
    entailment vs contradiction, so it can still fall below `threshold` and become `nil`.

    RETURNS (List[List[Dict[str, Any]]]): Per doc, per linked mention: {"start", "end",
        "label", "kb_id" (chosen id or `nil`), "scores" ({candidate id: score})}.
    """
    trail = audit.active_trail()
    premises: List[audit.Premise] = []
    entries: List[List[Dict[str, Any]]] = []
    queries: List[SpanQuery] = []
    for doc in docs:
        doc_entries: List[Dict[str, Any]] = []
        for span in target_spans(doc, spans_key):
            if ent_labels and span.label_ not in ent_labels:
                continue
            candidates: List[Candidate] = source.candidates(span.text)
            premise = mention_premise(doc, span, context, window, mention_markers, name) if candidates else ""
            hypotheses = [candidate_hypothesis(hypothesis_template, span.text, c) for c in candidates]
            queries.append(SpanQuery(premise, [c["id"] for c in candidates], hypotheses))
            doc_entries.append({"start": span.start, "end": span.end, "label": span.label_})
            if trail is not None:
                premises.append(premise_reference(doc, span, context, window, mention_markers, premise, name) if candidates else "")
        entries.append(doc_entries)
    all_scores = iter(score_queries(backend, queries, threshold=threshold))
    for doc_entries in entries:
        for entry in doc_entries:
            scores = next(all_scores)
            entry.update({"kb_id": link_decision(scores, threshold, nil), "scores": scores})
    if trail is not None:
        record_queries(trail, entries, queries, premises, lambda _: threshold)
    return entries
