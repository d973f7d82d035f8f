"""A review-friendly JSON view of annotated docs, and the label counts of a run.

The export reads only what spaCy and the components leave on a doc (`doc.cats`, `doc.ents`,
`doc.spans`, span extensions, the relations extension), and each of them only when it is
there, so it works for any pipeline: textcat alone, entities, links, relations.
"""

from typing import Any, Dict, List, Optional, Tuple

from spacy.tokens import Doc, Span

from ..audit import review_explanations
from ..components.entity_linker import LINK_SCORES_ATTR
from ..components.entity_typer import TYPE_SCORES_ATTR
from ..components.span_ranker import RELEVANCE_ATTR

DEFAULT_RELATIONS_ATTR = "relations"


def review_record(
    doc: Doc, meta: Any = None, *, relations_attr: str = DEFAULT_RELATIONS_ATTR, explain: bool = False
) -> Dict[str, Any]:
    """One doc as a plain dict for review tools and JSONL.

    doc (Doc): An annotated doc.
    meta (Any): The input record's meta, passed through unchanged.
    relations_attr (str): The `doc._` extension holding relations.
    explain (bool): Add "explain": the doc's audit trail (`audit.review_explanations`), the
        premise, hypothesis, logits and score behind every decision ([] without a trail).
    RETURNS (Dict[str, Any]): {"text", "spans", "cats", "relations", "meta"}. Each span has
        character offsets ("start", "end"), token offsets ("token_start", "token_end",
        end exclusive), "text", "label", "source" ("ents" or "spans:<key>"), "score" (the
        type score of its label, when the entity typer scored it), "kb_id" and "kb_score"
        (when a linker set it), the full "type_scores" / "link_scores" when present, and
        "relevance" (`span._.zeroshot_relevance`, when a span ranker scored it).
        Relations refer to spans by their index in "spans".
    """
    spans: List[Dict[str, Any]] = []
    by_offsets: Dict[Tuple[int, int], int] = {}

    def add(span: Span, source: str) -> int:
        by_offsets.setdefault((span.start, span.end), len(spans))
        spans.append(_span_record(span, source))
        return len(spans) - 1

    for ent in doc.ents:
        add(ent, "ents")
    for key, group in doc.spans.items():
        for span in group:
            add(span, f"spans:{key}")
    relations = []
    if Doc.has_extension(relations_attr):
        for relation in doc._.get(relations_attr) or []:
            ends = []
            for role in ("head", "tail"):
                start, end = relation[role]
                found = by_offsets.get((start, end))
                if found is None:
                    found = add(doc[start:end], "relations")
                ends.append(found)
            item: Dict[str, Any] = {"head": ends[0], "tail": ends[1], "label": relation.get("label")}
            for key in ("score", "scores"):
                if key in relation:
                    item[key] = relation[key]
            relations.append(item)
    record = {"text": doc.text, "spans": spans, "cats": dict(doc.cats), "relations": relations, "meta": meta}
    if explain:
        record["explain"] = review_explanations(doc)
    return record


def _span_record(span: Span, source: str) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "start": span.start_char,
        "end": span.end_char,
        "token_start": span.start,
        "token_end": span.end,
        "text": span.text,
        "label": span.label_ or None,
        "source": source,
        "score": None,
        "kb_id": span.kb_id_ or None,
    }
    type_scores = _span_extension(span, TYPE_SCORES_ATTR)
    if type_scores:
        record["score"] = type_scores.get(span.label_)
        record["type_scores"] = dict(type_scores)
    link_scores = _span_extension(span, LINK_SCORES_ATTR)
    if link_scores:
        record["kb_score"] = link_scores.get(span.kb_id_)
        record["link_scores"] = dict(link_scores)
    if Span.has_extension(RELEVANCE_ATTR):
        relevance = span._.get(RELEVANCE_ATTR)
        if isinstance(relevance, (int, float)):
            record["relevance"] = float(relevance)
    return record


def _span_extension(span: Span, name: str) -> Optional[Dict[str, float]]:
    if not Span.has_extension(name):
        return None
    value = span._.get(name)
    return value if isinstance(value, dict) else None


def count_labels(record: Dict[str, Any], counts: Dict[str, Dict[str, int]]) -> None:
    """Add a review record's labels to `counts`: top category, span labels, links, relations."""
    cats = record["cats"]
    if cats and max(cats.values()) > 0:  # an empty doc scores 0.0 everywhere: it has no top label
        top = max(cats, key=lambda label: cats[label])
        _bump(counts, "cats", top)
    for span in record["spans"]:
        if span["source"] != "relations":
            _bump(counts, span["source"], str(span["label"]))
        if span["kb_id"] is not None:
            _bump(counts, "kb_id", "NIL" if span["kb_id"] == "NIL" else "linked")
    for relation in record["relations"]:
        _bump(counts, "relations", str(relation["label"]))


def _bump(counts: Dict[str, Dict[str, int]], group: str, label: str) -> None:
    counts.setdefault(group, {})
    counts[group][label] = counts[group].get(label, 0) + 1


def merge_counts(total: Dict[str, Dict[str, int]], part: Dict[str, Dict[str, int]]) -> None:
    for group, labels in part.items():
        for label, n in labels.items():
            total.setdefault(group, {})
            total[group][label] = total[group].get(label, 0) + n
