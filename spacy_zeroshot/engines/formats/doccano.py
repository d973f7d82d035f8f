"""doccano: JSONL out and doccano's JSONL export back in.

Layouts follow doccano's documentation of its import/export formats: "text"; categories as
"label" (a list of names, the text classification format); spans as "entities" with "id",
"label", "start_offset", "end_offset"; relations with "id", "from_id", "to_id", "type" (the
sequence labeling with relations format). Imports also read the sequence labeling layout
("label" as [start, end, label] triples). doccano's export has no per-record review state (its
"export only approved documents" option filters instead), so every record counts as accepted.
Knowledge-base ids ride along as an entity's "kb_id", which doccano does not display.
"""

from typing import Any, Dict, List

from .common import decided_categories, shown_spans
from .reviewed import ACCEPTED, Reviewed, ReviewedSpan
from .schema import ENTS, ReviewSchema


def to_task(record: Dict[str, Any], schema: ReviewSchema) -> Dict[str, Any]:
    """A review record as a doccano JSONL line ("text", "label", "entities", "relations", "meta")."""
    entities: List[Dict[str, Any]] = []
    for i, span in enumerate(shown_spans(record)):
        entity: Dict[str, Any] = {"id": i, "label": span.get("label"), "start_offset": span["start"], "end_offset": span["end"]}
        source = span.get("source")
        if source is not None:
            entity["source"] = ENTS if source == "relations" else source
        if span.get("kb_id") is not None:
            entity["kb_id"] = span["kb_id"]
        entities.append(entity)
    relations = [
        {"id": i, "from_id": relation["head"], "to_id": relation["tail"], "type": relation.get("label")}
        for i, relation in enumerate(record.get("relations") or [])
    ]
    task: Dict[str, Any] = {"text": record["text"]}
    if schema.categories:
        task["label"] = [label for _, labels in decided_categories(record, schema) for label in labels]
    task["entities"] = entities
    task["relations"] = relations
    task["meta"] = record.get("meta")
    if record.get("ranking") is not None:
        task["ranking"] = record["ranking"]
    return task


def from_task(task: Dict[str, Any], where: str, *, use_predictions: bool = False) -> Reviewed:
    """A line of doccano's export as an accepted reviewed record."""
    text = task.get("text") if isinstance(task.get("text"), str) else ""
    reviewed = Reviewed(where=where, text=text or "", status=ACCEPTED, meta=task.get("meta"))
    ids: Dict[Any, int] = {}
    categories: List[str] = []
    has_categories = False
    labels = task.get("label")
    if labels is None:
        labels = task.get("cats")
    for item in labels or []:
        if isinstance(item, (list, tuple)) and len(item) == 3:
            reviewed.spans.append(ReviewedSpan(int(item[0]), int(item[1]), str(item[2])))
        else:
            has_categories = True
            categories.append(str(item))
    if "label" in task and not any(isinstance(item, (list, tuple)) for item in task.get("label") or []):
        has_categories = True
    for entity in task.get("entities") or []:
        if isinstance(entity, (list, tuple)):
            reviewed.spans.append(ReviewedSpan(int(entity[0]), int(entity[1]), str(entity[2])))
            continue
        ids[entity.get("id")] = len(reviewed.spans)
        source = entity.get("source")
        reviewed.spans.append(
            ReviewedSpan(
                int(entity["start_offset"]),
                int(entity["end_offset"]),
                entity.get("label"),
                source if source == ENTS or (isinstance(source, str) and source.startswith("spans:")) else None,
                entity.get("kb_id"),
            )
        )
    for relation in task.get("relations") or []:
        head, tail = ids.get(relation.get("from_id")), ids.get(relation.get("to_id"))
        if head is not None and tail is not None:
            reviewed.relations.append((head, tail, relation.get("type")))
    if has_categories:
        reviewed.categories = categories
    return reviewed
