"""`spacy-zeroshot label-studio-config PIPELINE`: print the Label Studio labeling interface
that shows this pipeline's predictions (categories, span labels, links, relations)."""

import argparse
import sys
from pathlib import Path
from typing import Any, Dict

from ..engines.review_export import pipeline_config


def add_label_studio_config_command(commands: Any) -> None:
    sub = commands.add_parser(
        "label-studio-config",
        help="Print the Label Studio labeling config (XML) for a pipeline's labels.",
        description=(
            "Print the Label Studio labeling interface for a pipeline: Choices per text classifier, Labels per span "
            "target (doc.ents, doc.spans[key]), a per-region TextArea for knowledge-base ids when the pipeline links, "
            "and Relations. Its control names match `annotate --format label-studio`."
        ),
    )
    sub.add_argument("pipeline", help="Pipeline folder, installed pipeline package name, or .cfg file.")
    sub.add_argument("--output", "-o", type=Path, default=None, help="Write the XML to this file instead of printing it.")
    sub.add_argument("--relations-attr", default="relations", help="doc._ extension for relations when the pipeline names none.")
    sub.add_argument("--code", default=None, help="Python file to import first (custom components or functions).")


def run_label_studio_config(options: argparse.Namespace, overrides: Dict[str, Any]) -> int:
    try:
        xml = pipeline_config(options.pipeline, overrides, code=options.code, relations_attr=options.relations_attr)
    except (ValueError, OSError, ImportError) as err:
        print(f"spacy-zeroshot label-studio-config: {err}", file=sys.stderr)
        return 1
    if options.output is None:
        sys.stdout.write(xml)
    else:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(xml, encoding="utf8")
    return 0
