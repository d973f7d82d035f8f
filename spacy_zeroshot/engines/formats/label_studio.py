"""Label Studio: tasks with predictions out, the JSON export back in, and the labeling config.

Layouts follow Label Studio's documentation ("Import pre-annotated data", "Export
annotations": the JSON format): a task is {"data": {...}, "predictions": [{"model_version",
"score", "result": [...]}]}; text spans are "labels" results with character offsets, categories
"choices" results, relations "relation" results between region ids, and a per-region
"textarea" holds a span's knowledge-base id. A reviewed export holds "annotations", each with
its "result" and "was_cancelled" (skipped).
"""

from typing import Any, Dict, List, Optional, Tuple
from xml.sax.saxutils import quoteattr

from .common import control_name, decided_categories, fix_offsets, shown_spans, source_of
from .reviewed import ACCEPTED, SKIPPED, UNREVIEWED, Reviewed, ReviewedSpan
from .schema import ReviewSchema

TEXT = "text"
KB_CONTROL = "kb_id"


def to_task(record: Dict[str, Any], schema: ReviewSchema, *, task_id: int = 0) -> Dict[str, Any]:
    """A review record as a Label Studio task with the model's annotations as a prediction.

    record (Dict[str, Any]): A review record (`review_record`), with "ranking" when ranked.
    schema (ReviewSchema): The pipeline's layers (decisions, control names, model version).
    task_id (int): Makes the result ids unique across the file.
    RETURNS (Dict[str, Any]): {"data": {"text", "meta"[, "review_margin"]}, "predictions": [...]}.
        The prediction's "score" is the ranking margin when ranked (Label Studio sorts tasks
        by it, lowest first), else absent.
    """
    prefix = f"t{task_id}"
    result: List[Dict[str, Any]] = []
    for component, labels in decided_categories(record, schema):
        if labels:
            cats = record.get("cats") or {}
            result.append(
                {
                    "id": f"{prefix}-{component}",
                    "from_name": component,
                    "to_name": TEXT,
                    "type": "choices",
                    "value": {"choices": labels},
                    "score": max(float(cats[label]) for label in labels),
                }
            )
    for i, span in enumerate(shown_spans(record)):
        region = f"{prefix}-s{i}"
        value = {"start": span["start"], "end": span["end"], "text": span["text"]}
        item: Dict[str, Any] = {
            "id": region,
            "from_name": control_name(span.get("source")),
            "to_name": TEXT,
            "type": "labels",
            "value": {**value, "labels": [span["label"]] if span.get("label") is not None else []},
        }
        if span.get("score") is not None:
            item["score"] = span["score"]
        result.append(item)
        if span.get("kb_id") is not None:
            kb: Dict[str, Any] = {
                "id": region,
                "from_name": KB_CONTROL,
                "to_name": TEXT,
                "type": "textarea",
                "value": {**value, "text": [span["kb_id"]]},
            }
            if span.get("kb_score") is not None:
                kb["score"] = span["kb_score"]
            result.append(kb)
    for relation in record.get("relations") or []:
        item = {
            "from_id": f"{prefix}-s{relation['head']}",
            "to_id": f"{prefix}-s{relation['tail']}",
            "type": "relation",
            "direction": "right",
            "labels": [relation["label"]] if relation.get("label") is not None else [],
        }
        if relation.get("score") is not None:
            item["score"] = relation["score"]
        result.append(item)
    prediction: Dict[str, Any] = {"model_version": schema.model_version, "result": result}
    data: Dict[str, Any] = {TEXT: record["text"], "meta": record.get("meta")}
    ranking = record.get("ranking")
    if ranking is not None:
        data["review_margin"] = ranking.get("margin")
        if ranking.get("margin") is not None:
            prediction["score"] = ranking["margin"]
    return {"data": data, "predictions": [prediction]}


def from_task(task: Dict[str, Any], where: str, *, use_predictions: bool = False) -> Reviewed:
    """A task of Label Studio's JSON export as a reviewed record.

    The last annotation that was not cancelled counts ("accepted"); a task whose annotations
    were all cancelled is "skipped"; one without annotations is "unreviewed", unless
    `use_predictions`, which reads its first prediction as accepted (a round-trip check).
    """
    data = task.get("data") or {}
    text = data.get(TEXT)
    if not isinstance(text, str):
        text = ""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    kept = [a for a in annotations if not a.get("was_cancelled")]
    results: Optional[List[Dict[str, Any]]] = None
    if kept:
        status, results = ACCEPTED, kept[-1].get("result") or []
    elif annotations:
        status = SKIPPED
    elif use_predictions and task.get("predictions"):
        status, results = ACCEPTED, task["predictions"][0].get("result") or []
    else:
        status = UNREVIEWED
    reviewed = Reviewed(where=where, text=text, status=status, meta=data.get("meta"))
    if results is not None:
        _read_results(reviewed, results)
    return reviewed


def _read_results(reviewed: Reviewed, results: List[Dict[str, Any]]) -> None:
    text = reviewed.text
    regions: Dict[str, int] = {}
    kb_ids: Dict[str, str] = {}
    categories: List[str] = []
    relations: List[Tuple[str, str, Optional[str]]] = []
    for item in results:
        kind = item.get("type")
        value = item.get("value") or {}
        if kind == "labels" and "start" in value and "end" in value:
            start, end = fix_offsets(text, int(value["start"]), int(value["end"]), value.get("text"))
            labels = value.get("labels") or [None]
            for label in labels:  # a region with several labels is several spans
                regions.setdefault(str(item.get("id")), len(reviewed.spans))
                reviewed.spans.append(ReviewedSpan(start, end, label, source_of(item.get("from_name"))))
        elif kind == "choices":
            categories.extend(str(choice) for choice in value.get("choices") or [])
        elif kind == "textarea" and item.get("from_name") == KB_CONTROL and value.get("text"):
            kb_ids[str(item.get("id"))] = str(value["text"][0]).strip()
        elif kind == "relation":
            labels = item.get("labels") or [None]
            head, tail = str(item.get("from_id")), str(item.get("to_id"))
            if item.get("direction") == "left":
                head, tail = tail, head
            relations.extend((head, tail, label) for label in labels)
    for region, kb_id in kb_ids.items():
        if region in regions and kb_id:
            reviewed.spans[regions[region]].kb_id = kb_id
    reviewed.categories = categories
    for head, tail, label in relations:
        if head in regions and tail in regions:
            reviewed.relations.append((regions[head], regions[tail], label))


def labeling_config(schema: ReviewSchema) -> str:
    """The Label Studio labeling interface (XML) for a pipeline's layers: a `Text`, one
    `Choices` per category set (single or multiple choice), one `Labels` per span target, a
    per-region `TextArea` for knowledge-base ids, and `Relations`. Control names match the
    names `to_task` writes, so predictions display without editing."""
    lines = ["<View>"]
    for target in schema.spans:
        lines.append(f"  <Labels name={quoteattr(control_name(target.source))} toName={quoteattr(TEXT)}>")
        lines.extend(f"    <Label value={quoteattr(label)}/>" for label in target.labels)
        lines.append("  </Labels>")
    lines.append(f"  <Text name={quoteattr(TEXT)} value=\"$text\"/>")
    if schema.relation_labels:
        lines.append("  <Relations>")
        lines.extend(f"    <Relation value={quoteattr(label)}/>" for label in schema.relation_labels)
        lines.append("  </Relations>")
    if schema.links:
        lines.append(
            f"  <TextArea name={quoteattr(KB_CONTROL)} toName={quoteattr(TEXT)} perRegion=\"true\" "
            "editable=\"true\" maxSubmissions=\"1\" placeholder=\"Knowledge-base id\"/>"
        )
    for category_set in schema.categories:
        choice = "multiple" if category_set.multi_label else "single"
        lines.append(
            f"  <Choices name={quoteattr(category_set.component)} toName={quoteattr(TEXT)} choice=\"{choice}\" showInLine=\"true\">"
        )
        lines.extend(f"    <Choice value={quoteattr(label)}/>" for label in category_set.labels)
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"
