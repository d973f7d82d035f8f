"""One reviewed record, as every import format reads it: the common ground between the tools'
exports and the gold `Doc`s (`importing.reviewed_doc`)."""

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

ACCEPTED = "accepted"
REJECTED = "rejected"
SKIPPED = "skipped"
UNREVIEWED = "unreviewed"
STATUSES = (ACCEPTED, REJECTED, SKIPPED, UNREVIEWED)


@dataclass
class ReviewedSpan:
    """A span as a reviewer left it: character offsets into the record's text."""

    start: int
    end: int
    label: Optional[str]
    source: Optional[str] = None  # "ents" / "spans:<key>"; None: the pipeline's first span target
    kb_id: Optional[str] = None


@dataclass
class Reviewed:
    """One record of a tool's export.

    where (str): "file:record" (1-based record number), for warnings.
    status (str): "accepted" (accepted or submitted), "rejected", "skipped" or "unreviewed".
    categories (Optional[List[str]]): The categories chosen; None when the record has no
        category layer at all (its `doc.cats` stay unset).
    relations (List[Tuple[int, int, Optional[str]]]): (head, tail, label), spans by index.
    """

    where: str
    text: str
    status: str
    spans: List[ReviewedSpan] = field(default_factory=list)
    categories: Optional[List[str]] = None
    relations: List[Tuple[int, int, Optional[str]]] = field(default_factory=list)
    meta: Any = None
