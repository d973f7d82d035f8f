"""`spacy-zeroshot import`: a review tool's export -> a gold .spacy corpus; and the review
options of `annotate` (`--format`, `--order`, `--limit`, `--skip-reviewed`)."""

import argparse
import sys
from pathlib import Path
from typing import Any, Dict

from ..engines.formats import ALIGNMENTS, EXPORT_FORMATS, IMPORT_FORMATS, ORDERS
from ..engines.review_import import import_file


def add_review_options(sub: argparse.ArgumentParser) -> None:
    """`annotate`'s options for the review loop."""
    group = sub.add_argument_group("Review loop")
    group.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="review",
        help="Review output format: review (our JSONL, default), label-studio (JSON tasks with predictions), prodigy or doccano (JSONL).",
    )
    group.add_argument(
        "--order",
        choices=ORDERS,
        default="input",
        help="Review order: input (default), uncertainty (closest calls first) or random (see --seed).",
    )
    group.add_argument("--limit", type=int, default=None, help="Write only the first N docs (after ordering).")
    group.add_argument(
        "--skip-reviewed", type=Path, default=None, help="Leave out docs whose text is in this .spacy file (reviewed already)."
    )
    group.add_argument("--seed", type=int, default=0, help="Seed of --order random (default 0).")


def add_import_command(commands: Any) -> None:
    sub = commands.add_parser(
        "import",
        help="Turn a review tool's export into a gold .spacy corpus for finetune / calibrate / spacy train.",
        description=(
            "Read a Label Studio JSON export, a Prodigy or doccano JSONL export, or a (corrected) review JSONL, "
            "and write the accepted docs as gold: doc.cats, doc.ents or doc.spans[key] with kb_id_, and relations "
            "in doc._.relations, tokenized by the pipeline. Skipped and rejected records are counted."
        ),
    )
    sub.add_argument("file", type=Path, help="The export file.")
    sub.add_argument("--format", required=True, choices=IMPORT_FORMATS, help="The export's format.")
    sub.add_argument("--pipeline", required=True, help="The pipeline the annotations are for (labels, tokenizer).")
    sub.add_argument("--output", "-o", type=Path, required=True, help="The gold corpus to write (.spacy).")
    sub.add_argument(
        "--alignment",
        choices=ALIGNMENTS,
        default="strict",
        help="Spans off token boundaries: strict skips them, contract / expand snap them to tokens (default: strict).",
    )
    sub.add_argument(
        "--include-unreviewed",
        action="store_true",
        help="Also import records nobody reviewed, as predicted (a round-trip check; by default they are counted only).",
    )
    sub.add_argument("--relations-attr", default="relations", help="doc._ extension for relations when the pipeline names none.")
    sub.add_argument("--code", default=None, help="Python file to import first (custom components or functions).")


def run_import(options: argparse.Namespace, overrides: Dict[str, Any]) -> int:
    try:
        import_file(
            options.file,
            options.format,
            options.pipeline,
            options.output,
            alignment=options.alignment,
            include_unreviewed=options.include_unreviewed,
            overrides=overrides,
            relations_attr=options.relations_attr,
            code=options.code,
        )
    except (ValueError, OSError, ImportError) as err:
        print(f"spacy-zeroshot import: {err}", file=sys.stderr)
        return 1
    return 0
