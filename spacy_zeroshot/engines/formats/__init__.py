"""Review formats: annotation tools in and out (Label Studio, Prodigy, doccano, our review JSONL).

Pure functions from review records (`engines.review.review_record`) to each tool's task, and from
each tool's export back to gold spaCy docs; a `ReviewSchema` says what a pipeline annotates.
"""

from .exporting import EXPORT_FORMATS, FORMAT_SUFFIXES, convert, select, serialize, token_records
from .importing import ALIGNMENTS, IMPORT_FORMATS, ImportReport, import_reviewed, read_reviewed
from .ordering import ORDERS, doubt, rank
from .schema import ReviewSchema, schema_from_pipeline

__all__ = [
    "ALIGNMENTS",
    "EXPORT_FORMATS",
    "FORMAT_SUFFIXES",
    "IMPORT_FORMATS",
    "ORDERS",
    "ImportReport",
    "ReviewSchema",
    "convert",
    "doubt",
    "import_reviewed",
    "rank",
    "read_reviewed",
    "schema_from_pipeline",
    "select",
    "serialize",
    "token_records",
]
