"""`spacy-zeroshot import`: reviewed tasks of an annotation tool back into gold docs (.spacy)."""

import sys
from pathlib import Path
from typing import Any, Dict, Optional

from spacy.tokens import DocBin

from ..errors import Errors
from .chunks import atomic_write
from .formats import import_reviewed, schema_from_pipeline
from .loading import import_code, load_pipeline

MAX_WARNINGS = 50


def import_file(
    file: Path,
    fmt: str,
    pipeline: str,
    output: Path,
    *,
    alignment: str = "strict",
    include_unreviewed: bool = False,
    overrides: Optional[Dict[str, Any]] = None,
    relations_attr: str = "relations",
    code: Any = None,
    log: Any = sys.stderr,
) -> Dict[str, Any]:
    """Import `file` and write the gold docs to `output`; returns the report as a dict."""
    output = Path(output)
    if output.suffix != ".spacy":
        raise ValueError(Errors.E626.format(path=output))
    import_code(code)
    nlp = load_pipeline(pipeline, overrides or {})
    schema = schema_from_pipeline(nlp, pipeline, relations_attr=relations_attr)
    docs, report = import_reviewed(Path(file), fmt, nlp, schema, alignment=alignment, use_predictions=include_unreviewed)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, DocBin(store_user_data=True, docs=docs).to_bytes())
    for message in report.warnings[:MAX_WARNINGS]:
        print(message, file=log)
    if len(report.warnings) > MAX_WARNINGS:
        print(f"... and {len(report.warnings) - MAX_WARNINGS:,} more warnings.", file=log)
    counts = report.as_dict()
    print(
        f"Imported {report.docs:,} docs to {output} from {report.records:,} records: {counts['accepted']:,} accepted, "
        f"{counts['rejected']:,} rejected, {counts['skipped']:,} skipped, {counts['unreviewed']:,} unreviewed; "
        f"{counts['warnings']:,} warnings.",
        file=log,
        flush=True,
    )
    return counts
