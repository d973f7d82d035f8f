"""Prodigy: JSONL tasks out (`text`, `tokens`, `spans`, `relations`, `options`/`accept`,
`meta`), and Prodigy's `db-out` JSONL back in.

Layouts follow Prodigy's "Annotation interfaces" documentation: tokens carry "text", "start",
"end", "id", "ws"; spans carry character offsets and token offsets ("token_end" inclusive);
a relation names its "head" and "child" tokens and their spans ("head_span", "child_span");
categories are "options" with the chosen ids in "accept"; a reviewed task has an "answer"
("accept", "reject" or "ignore"). Our extras ride along where Prodigy passes unknown keys:
a span's "kb_id" and "source" (ents or spans:<key>), the ranking in "meta".
"""

from typing import Any, Dict, List, Optional

from .common import decided_categories, shown_spans
from .reviewed import ACCEPTED, REJECTED, SKIPPED, UNREVIEWED, Reviewed, ReviewedSpan
from .schema import ENTS, ReviewSchema

ANSWERS = {"accept": ACCEPTED, "reject": REJECTED, "ignore": SKIPPED}


def to_task(record: Dict[str, Any], tokens: List[Dict[str, Any]], schema: ReviewSchema) -> Dict[str, Any]:
    """A review record as a Prodigy task.

    record (Dict[str, Any]): A review record (`review_record`), with "ranking" when ranked.
    tokens (List[Dict[str, Any]]): The doc's tokens (`token_records`).
    schema (ReviewSchema): The pipeline's layers (category sets).
    RETURNS (Dict[str, Any]): The task; no "answer" (nobody reviewed it yet).
    """
    spans = [_span(span) for span in shown_spans(record)]
    task: Dict[str, Any] = {"text": record["text"], "tokens": tokens, "spans": spans}
    relations = []
    for relation in record.get("relations") or []:
        head, child = spans[relation["head"]], spans[relation["tail"]]
        relations.append(
            {
                "head": head["token_end"],
                "child": child["token_end"],
                "head_span": {k: head[k] for k in ("start", "end", "token_start", "token_end", "label")},
                "child_span": {k: child[k] for k in ("start", "end", "token_start", "token_end", "label")},
                "label": relation.get("label"),
            }
        )
    if relations or schema.relation_labels:
        task["relations"] = relations
    if schema.categories:
        decided = decided_categories(record, schema)
        task["options"] = [{"id": label, "text": label} for c in schema.categories for label in c.labels]
        task["accept"] = [label for _, labels in decided for label in labels]
        if any(c.multi_label for c in schema.categories):
            task["config"] = {"choice_style": "multiple"}
    meta: Dict[str, Any] = {}
    if isinstance(record.get("meta"), dict):
        meta.update(record["meta"])
    elif record.get("meta") is not None:
        meta["meta"] = record["meta"]
    ranking = record.get("ranking")
    if ranking is not None:
        meta["review_margin"] = ranking.get("margin")
        task["ranking"] = ranking
    task["meta"] = meta
    task["model_version"] = schema.model_version
    return task


def _span(span: Dict[str, Any]) -> Dict[str, Any]:
    item: Dict[str, Any] = {
        "start": span["start"],
        "end": span["end"],
        "token_start": span["token_start"],
        "token_end": span["token_end"] - 1,
        "label": span.get("label"),
        "source": span.get("source") if span.get("source") != "relations" else ENTS,
    }
    if span.get("kb_id") is not None:
        item["kb_id"] = span["kb_id"]
    if span.get("score") is not None:
        item["score"] = span["score"]
    return item


def from_task(task: Dict[str, Any], where: str, *, use_predictions: bool = False) -> Reviewed:
    """A line of Prodigy's `db-out` as a reviewed record: "answer" gives the status; a task
    without one is "unreviewed" (read as accepted with `use_predictions`)."""
    text = task.get("text") if isinstance(task.get("text"), str) else ""
    answer = task.get("answer")
    status = ANSWERS.get(str(answer), UNREVIEWED) if answer is not None else UNREVIEWED
    if status == UNREVIEWED and use_predictions:
        status = ACCEPTED
    meta = task.get("meta")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k != "review_margin"}
        meta = meta.get("meta", meta) if set(meta) == {"meta"} else meta
    reviewed = Reviewed(where=where, text=text or "", status=status, meta=meta)
    if status != ACCEPTED:
        return reviewed
    index: Dict[tuple, int] = {}
    tokens = task.get("tokens") or []

    def add(span: Dict[str, Any]) -> Optional[int]:
        start, end = span.get("start"), span.get("end")
        if start is None or end is None:
            if "token_start" not in span or not tokens:
                return None
            start, end = tokens[span["token_start"]]["start"], tokens[span["token_end"]]["end"]
        source = span.get("source")
        if not (source == ENTS or (isinstance(source, str) and source.startswith("spans:"))):
            source = None  # Prodigy's own "source" names a model, not a span target
        key = (int(start), int(end), span.get("label"), source)
        if key not in index:
            index[key] = len(reviewed.spans)
            reviewed.spans.append(ReviewedSpan(int(start), int(end), span.get("label"), source, span.get("kb_id")))
        return index[key]

    for span in task.get("spans") or []:
        add(span)
    for relation in task.get("relations") or []:
        head, child = relation.get("head_span"), relation.get("child_span")
        if head is None or child is None:
            head = {"token_start": relation["head"], "token_end": relation["head"]}
            child = {"token_start": relation["child"], "token_end": relation["child"]}
        i, j = add(_with_source(head, task)), add(_with_source(child, task))
        if i is not None and j is not None:
            reviewed.relations.append((i, j, relation.get("label")))
    if "options" in task or "accept" in task:
        reviewed.categories = [str(label) for label in task.get("accept") or []]
    return reviewed


def _with_source(span: Dict[str, Any], task: Dict[str, Any]) -> Dict[str, Any]:
    """A relation end as the matching span of "spans" (with its source and kb_id), if any."""
    for other in task.get("spans") or []:
        if (other.get("start"), other.get("end"), other.get("label")) == (span.get("start"), span.get("end"), span.get("label")):
            return other
    return span
