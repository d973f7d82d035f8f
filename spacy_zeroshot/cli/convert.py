"""`spacy-zeroshot convert`: plain labelled CSV / TSV / JSON lines -> a `.spacy` training corpus.

Only parses; the reading and checking live in `engines.convert`.
"""

import argparse
import sys
from pathlib import Path
from typing import IO, Any, Dict, Optional

import spacy

from ..engines.convert import ALIGNMENTS, ConvertError, convert, pipeline_labels
from ..errors import Errors


def add_convert_parser(commands: Any) -> None:
    """Add the `convert` sub-command to the `spacy-zeroshot` parser's sub-commands."""
    sub = commands.add_parser(
        "convert",
        help="Turn labelled CSV/TSV/JSONL rows into a .spacy corpus for spacy train / finetune.",
        description=(
            "Convert plain labelled data into a .spacy corpus with the doc.cats, doc.ents (label_, kb_id_) "
            "and doc._.relations the few-shot trainer reads. CSV/TSV rows are text,label[,label...]; JSONL "
            "rows hold \"text\" and any of \"label\"/\"labels\"/\"cats\", \"spans\" and \"relations\". Bad rows "
            "are reported as file:line; with --pipeline, labels it does not know are named too."
        ),
    )
    sub.add_argument("inputs", nargs="+", type=Path, help="Input .csv, .tsv or .jsonl file(s).")
    sub.add_argument("--output", "-o", type=Path, required=True, help="The .spacy file to write.")
    sub.add_argument("--pipeline", "-p", default=None,
                     help="Pipeline to train (folder, package or .cfg; a .cfg loads no model): its tokenizer, and its "
                          "labels to check against. Config overrides (--section.key value) apply to it.")
    sub.add_argument("--lang", default="en", help="Language of the tokenizer without --pipeline (default: en).")
    sub.add_argument("--spans-key", default=None, help="Write spans to doc.spans[KEY] instead of doc.ents.")
    sub.add_argument("--alignment", choices=ALIGNMENTS, default="strict",
                     help="How character offsets that cut a token are mapped (default: strict, an error).")


def run_convert(
    options: argparse.Namespace,
    overrides: Optional[Dict[str, Any]] = None,
    *,
    out: Optional[IO[str]] = None,
    err: Optional[IO[str]] = None,
) -> int:
    """Run `convert` with parsed options and config overrides (`--section.key value`, for
    the --pipeline). RETURNS (int): 0 on success, 1 on bad input."""
    from ..engines.loading import assemble_pipeline

    try:
        if options.pipeline is not None:
            nlp = assemble_pipeline(options.pipeline, overrides or {})
            known = pipeline_labels(nlp)
        elif overrides:
            raise ValueError(Errors.E657.format(names=", ".join(f"--{name}" for name in overrides)))
        else:
            nlp, known = spacy.blank(options.lang), {}
        summary = convert(options.inputs, options.output, nlp=nlp, known=known, spans_key=options.spans_key,
                          alignment_mode=options.alignment)
    except (ConvertError, ValueError, OSError, ImportError) as error:
        print(f"spacy-zeroshot convert: {error}", file=err or sys.stderr)
        return 1
    for warning in summary.warnings:
        print(f"spacy-zeroshot convert: {warning}", file=err or sys.stderr)
    print("\n".join(summary.lines()), file=out or sys.stdout)
    return 0
