"""Review records out to the annotation tools: pick, order and convert.

`annotate` writes review records (`review_record`) and docs; this module ranks them
(`ordering.rank`), drops docs a reviewer already saw, keeps the first `limit`, and turns each
record into the tool's task.
"""

import json
from typing import Any, Collection, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

from ...errors import Errors
from . import doccano, label_studio, prodigy
from .ordering import rank
from .schema import ReviewSchema

EXPORT_FORMATS = ("review", "label-studio", "prodigy", "doccano")
FORMAT_SUFFIXES = {"review": (".jsonl",), "label-studio": (".json",), "prodigy": (".jsonl",), "doccano": (".jsonl",)}


def check_format(fmt: str) -> None:
    """RAISES ValueError: [E621] unless `fmt` is one of EXPORT_FORMATS."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(Errors.E621.format(value=fmt, options=", ".join(EXPORT_FORMATS)))


def token_records(doc: Doc) -> List[Dict[str, Any]]:
    """A doc's tokens as Prodigy lists them: "text", "start", "end", "id", "ws"."""
    return [
        {"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)} for t in doc
    ]


def select(
    rows: Sequence[Dict[str, Any]],
    schema: ReviewSchema,
    *,
    order: str = "input",
    limit: Optional[int] = None,
    seed: int = 0,
    reviewed_texts: Collection[str] = (),
) -> Tuple[List[Tuple[int, Dict[str, Any]]], int]:
    """The records to review, in review order.

    rows (Sequence[Dict[str, Any]]): Review records, in input order.
    order (str): "input", "uncertainty" or "random" (`ordering.rank`).
    limit (Optional[int]): Keep at most this many (after ranking and skipping).
    reviewed_texts (Collection[str]): Texts already reviewed: their records are left out.
    RETURNS (Tuple[List[Tuple[int, Dict[str, Any]]], int]): (input position, ranking entry) per
        kept record, and how many records were left out as already reviewed.
    """
    ranked = rank(rows, schema, order, seed=seed)
    kept = [(i, entry) for i, entry in ranked if rows[i]["text"] not in reviewed_texts]
    left_out = len(ranked) - len(kept)
    if limit is not None:
        kept = kept[:limit]
    for position, (_, entry) in enumerate(kept):
        entry["position"] = position
    return kept, left_out


def convert(
    fmt: str, row: Dict[str, Any], schema: ReviewSchema, *, doc: Optional[Doc] = None, task_id: int = 0
) -> Dict[str, Any]:
    """One review record in format `fmt` (`doc` gives Prodigy its tokens)."""
    check_format(fmt)
    if fmt == "label-studio":
        return label_studio.to_task(row, schema, task_id=task_id)
    if fmt == "prodigy":
        return prodigy.to_task(row, token_records(doc) if doc is not None else [], schema)
    if fmt == "doccano":
        return doccano.to_task(row, schema)
    return row


def serialize(fmt: str, records: Sequence[Dict[str, Any]]) -> bytes:
    """The file's bytes: a JSON list for Label Studio, JSON lines otherwise (UTF-8, no escapes)."""
    if fmt == "label-studio":
        return (json.dumps(list(records), ensure_ascii=False, indent=1) + "\n").encode("utf8")
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf8")
