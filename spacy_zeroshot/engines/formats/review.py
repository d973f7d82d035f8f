"""Our own review JSONL (`annotate`'s default output) read back as reviewed records.

A record's categories are the decisions its scores give (the schema's thresholds), its spans
and relations are kept as written; an optional "answer" ("accept", "reject", "ignore", as in
Prodigy) marks the review, and without one a record counts as accepted.
"""

from typing import Any, Dict

from .prodigy import ANSWERS
from .reviewed import ACCEPTED, Reviewed, ReviewedSpan
from .schema import ReviewSchema


def from_record(record: Dict[str, Any], where: str, schema: ReviewSchema, *, use_predictions: bool = False) -> Reviewed:
    """A review record (`review_record`, possibly edited) as a reviewed record."""
    text = record.get("text") if isinstance(record.get("text"), str) else ""
    status = ANSWERS.get(str(record["answer"]), ACCEPTED) if "answer" in record else ACCEPTED
    reviewed = Reviewed(where=where, text=text or "", status=status, meta=record.get("meta"))
    for span in record.get("spans") or []:
        source = span.get("source")
        reviewed.spans.append(
            ReviewedSpan(int(span["start"]), int(span["end"]), span.get("label"), None if source == "relations" else source, span.get("kb_id"))
        )
    cats = record.get("cats")
    if isinstance(cats, dict) and schema.categories:
        reviewed.categories = [label for c in schema.categories for label in c.decided(cats)]
        known = {label for c in schema.categories for label in c.labels}
        reviewed.categories += [label for label, score in cats.items() if label not in known and float(score) >= 0.5]
    for relation in record.get("relations") or []:
        reviewed.relations.append((int(relation["head"]), int(relation["tail"]), relation.get("label")))
    return reviewed
