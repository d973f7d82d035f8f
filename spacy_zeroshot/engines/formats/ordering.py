"""Review what matters first: rank review records by the model's own doubt.

A doc's doubt is its closest call, the smallest margin among its decisions: the top-2 margin
of an exclusive category set, the distance of each multi-label category and each kept relation
label to its threshold, and the top-2 margin of each span's type scores and link scores. The
smaller the margin, the earlier the doc is reviewed; docs without any scored decision (an
empty doc) come last.
"""

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...errors import Errors
from .schema import ReviewSchema

ORDERS = ("input", "uncertainty", "random")


def _top2(scores: Sequence[float]) -> Optional[float]:
    ranked = sorted((float(s) for s in scores), reverse=True)
    if not ranked:
        return None
    return ranked[0] - ranked[1] if len(ranked) > 1 else ranked[0]


def doubt(record: Dict[str, Any], schema: ReviewSchema) -> Tuple[Optional[float], Optional[str]]:
    """The smallest decision margin of a review record and the decision it belongs to.

    record (Dict[str, Any]): A review record (`review_record`).
    schema (ReviewSchema): The pipeline's category sets and thresholds.
    RETURNS (Tuple[Optional[float], Optional[str]]): (margin, what), e.g. (0.04, "cats:sports");
        (None, None) when the record has no scored decision.
    """
    found: List[Tuple[float, str]] = []
    cats = record.get("cats") or {}
    for category_set in schema.categories:
        scores = {label: float(cats[label]) for label in category_set.labels if label in cats}
        if not scores or max(scores.values()) <= 0.0:  # an empty doc: nothing was decided
            continue
        if category_set.multi_label:
            for label, score in scores.items():
                found.append((abs(score - category_set.thresholds.get(label, 0.5)), f"cats:{label}"))
        else:
            margin = _top2(list(scores.values()))
            if margin is not None:
                found.append((margin, f"cats:{category_set.component}"))
    for i, span in enumerate(record.get("spans") or []):
        for key, what in (("type_scores", "type"), ("link_scores", "link")):
            margin = _top2(list((span.get(key) or {}).values()))
            if margin is not None:
                found.append((margin, f"{what}:span{i}"))
    for i, relation in enumerate(record.get("relations") or []):
        for label, score in (relation.get("scores") or {}).items():
            found.append((abs(float(score) - schema.relation_threshold(label)), f"relation{i}:{label}"))
    if not found:
        return None, None
    margin, what = min(found, key=lambda item: item[0])
    return round(margin, 6), what


def rank(
    records: Sequence[Dict[str, Any]], schema: ReviewSchema, order: str, *, seed: int = 0
) -> List[Tuple[int, Dict[str, Any]]]:
    """The positions of `records` in review order, each with its ranking entry.

    order (str): "input" (as read), "uncertainty" (smallest margin first; ties in input
        order) or "random" (shuffled with `seed`).
    RETURNS (List[Tuple[int, Dict[str, Any]]]): (input position, {"order", "position",
        "margin", "decision"}) in review order; "margin" and "decision" as `doubt` gives them.
    RAISES ValueError: [E620] for an unknown order.
    """
    if order not in ORDERS:
        raise ValueError(Errors.E620.format(value=order, options=", ".join(ORDERS)))
    doubts = [doubt(record, schema) for record in records]
    positions = list(range(len(records)))
    if order == "uncertainty":
        positions.sort(key=lambda i: (doubts[i][0] is None, doubts[i][0] or 0.0, i))
    elif order == "random":
        random.Random(seed).shuffle(positions)
    return [
        (i, {"order": order, "position": n, "margin": doubts[i][0], "decision": doubts[i][1]})
        for n, i in enumerate(positions)
    ]
