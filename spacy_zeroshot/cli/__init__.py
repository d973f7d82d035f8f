"""The `spacy-zeroshot` command line (also `python -m spacy_zeroshot`).

    spacy-zeroshot annotate PIPELINE INPUT OUTPUT [OUTPUT] [options] [--section.key value ...]
    spacy-zeroshot finetune PIPELINE TRAIN --dev DEV --output DIR [options] [--section.key value ...]
    spacy-zeroshot serve PIPELINE [--host 127.0.0.1] [--port 8000] [options] [--section.key value ...]
    spacy-zeroshot import FILE --format FORMAT --pipeline PIPELINE --output X.spacy [options]
    spacy-zeroshot label-studio-config PIPELINE
    spacy-zeroshot convert INPUT [INPUT ...] --output OUTPUT.spacy [--pipeline PIPELINE] [options]

Options that contain a dot are config overrides in spaCy's style (`--components.zeroshot_nli.model
path`), parsed by spaCy's own `parse_config_overrides`. The command line only parses: the run
itself (`engines.run.annotate`) lives in `engines/`, which never imports this package.
"""

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from ..engines.finetune import FinetuneSettings, finetune
from ..engines.run import annotate
from ..engines.serve import ServeCommand, serve
from ..engines.settings import ENGINES, ON_ERROR, AnnotateSettings
from ..serving import ServeSettings
from .convert import add_convert_parser, run_convert
from .import_reviewed import add_import_command, add_review_options, run_import
from .label_studio_config import add_label_studio_config_command, run_label_studio_config

__all__ = ["main", "annotate", "AnnotateSettings", "finetune", "FinetuneSettings", "serve", "ServeCommand"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spacy-zeroshot", description="Zero-shot information extraction with spaCy.")
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser(
        "annotate",
        help="Annotate a corpus with a pipeline; write .spacy and/or .jsonl.",
        description=(
            "Annotate a corpus with a pipeline (a saved folder, an installed package, or a config.cfg; "
            "config overrides as --section.key value) and write a DocBin (.spacy) and/or review JSON "
            "lines (.jsonl). Output is written in chunks with atomic renames; --resume continues an "
            "interrupted run."
        ),
    )
    sub.add_argument("pipeline", help="Pipeline folder, installed pipeline package name, or .cfg file.")
    sub.add_argument("input", help="A .txt (one doc per line), .jsonl or .spacy file, or a folder of them.")
    sub.add_argument(
        "outputs", nargs="+", type=Path, help="Output .spacy and/or .jsonl file (.json for --format label-studio)."
    )
    sub.add_argument("--text-key", default="text", help="Key of the text in .jsonl input (default: text).")
    sub.add_argument("--batch-size", type=int, default=64, help="Docs per minibatch (default: 64).")
    sub.add_argument(
        "--chunk-size", type=int, default=1024, help="Docs per output chunk, rounded up to whole batches (default: 1024)."
    )
    sub.add_argument("--n-process", type=int, default=1, help="CPU processes (default: 1).")
    sub.add_argument("--gpu-id", type=int, default=None, help="GPU to run the NLI models on; -1 for the CPU.")
    sub.add_argument("--on-error", choices=ON_ERROR, default="fail", help="Malformed input records: fail or skip.")
    sub.add_argument("--resume", action="store_true", help="Continue an interrupted run with the same settings.")
    sub.add_argument("--quiet", "-q", action="store_true", help="No progress bar: start line, warnings, summary.")
    sub.add_argument(
        "--relations-attr", default="relations", help="The doc._ extension holding relations (default: relations)."
    )
    sub.add_argument(
        "--explain",
        action="store_true",
        help="Turn on the audit trail (save_io) and add each doc's decisions to the .jsonl: premise, hypothesis, logits, score.",
    )
    sub.add_argument("--summary", type=Path, default=None, help="Also write the summary as JSON to this file.")
    sub.add_argument("--code", default=None, help="Python file to import first (custom components or functions).")
    add_review_options(sub)
    ray = sub.add_argument_group("Ray engine (needs spacy-zeroshot[ray])")
    ray.add_argument(
        "--engine", choices=ENGINES, default="local", help="local (this process) or ray (a Ray cluster); default: local."
    )
    ray.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (e.g. auto, or HOST:6379); default: a private local one."
    )
    ray.add_argument(
        "--num-actors", type=int, default=None, help="Actors, each holding the pipeline (default: as many as fit)."
    )
    ray.add_argument("--gpus-per-actor", type=float, default=0.0, help="GPUs per actor (default 0: the CPU).")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPUs per actor (default 1).")
    tune = commands.add_parser(
        "finetune",
        help="Fine-tune a pipeline's NLI model on a few labelled docs (spacy train, no config to write).",
        description=(
            "Fine-tune the shared NLI model of a saved pipeline on gold docs (.spacy) with spaCy's training "
            "loop: every component is sourced from the pipeline, training settings are the few-shot defaults "
            "(override them as --training.key value). Writes OUTPUT/model-best, OUTPUT/model-last, "
            "OUTPUT/config.cfg and OUTPUT/training.json."
        ),
    )
    tune.add_argument("pipeline", help="Pipeline folder or installed pipeline package name.")
    tune.add_argument("train", type=Path, help="Training corpus (.spacy) with gold annotations.")
    tune.add_argument("--dev", type=Path, required=True, help="Dev corpus (.spacy): picks model-best.")
    tune.add_argument("--output", "-o", type=Path, required=True, help="Output folder.")
    tune.add_argument("--gpu-id", "-g", type=int, default=-1, help="GPU id, or -1 for the CPU (default).")
    tune.add_argument(
        "--no-keep-zero-shot",
        action="store_true",
        help="Keep the fine-tuned model-best even when it scores lower on dev than the zero-shot pipeline.",
    )
    tune.add_argument("--code", default=None, help="Python file to import first (custom components or functions).")
    _add_serve(commands)
    add_import_command(commands)
    add_label_studio_config_command(commands)
    add_convert_parser(commands)
    return parser


def _add_serve(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    defaults = ServeSettings()
    sub = commands.add_parser(
        "serve",
        help="Serve a pipeline over HTTP (POST /annotate), pooling concurrent requests (needs spacy-zeroshot[serve]).",
        description=(
            "Serve a pipeline (a saved folder, an installed package, or a config.cfg; config overrides as "
            "--section.key value) with FastAPI and uvicorn. POST /annotate {\"text\": ..., \"meta\": ...} returns "
            "the review record of `spacy-zeroshot annotate`; POST /annotate/batch {\"docs\": [...]} several; "
            "GET /health. The docs of concurrent requests are pooled into one nlp.pipe batch."
        ),
    )
    sub.add_argument("pipeline", help="Pipeline folder, installed pipeline package name, or .cfg file.")
    sub.add_argument("--host", default=defaults.host, help=f"Interface to listen on (default: {defaults.host}).")
    sub.add_argument("--port", type=int, default=defaults.port, help=f"TCP port (default: {defaults.port}).")
    sub.add_argument(
        "--max-wait-ms",
        type=float,
        default=defaults.max_wait_ms,
        help=f"Milliseconds a doc may wait for others to join its batch (default: {defaults.max_wait_ms:g}).",
    )
    sub.add_argument(
        "--max-batch-docs",
        type=int,
        default=defaults.max_batch_docs,
        help=f"Most docs per pooled batch; 1 turns pooling off (default: {defaults.max_batch_docs}).",
    )
    sub.add_argument(
        "--no-pooling", action="store_true", help="One doc at a time (same as --max-batch-docs 1 --max-wait-ms 0)."
    )
    sub.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults.max_body_bytes,
        help=f"Largest request body; larger ones get HTTP 413 (default: {defaults.max_body_bytes:,}).",
    )
    sub.add_argument("--gpu-id", type=int, default=None, help="GPU to run the NLI models on; -1 for the CPU.")
    sub.add_argument(
        "--relations-attr", default="relations", help="The doc._ extension holding relations (default: relations)."
    )
    sub.add_argument("--explain", action="store_true", help="Add each doc's audit trail to its record ('explain').")
    sub.add_argument("--access-log", action="store_true", help="Log every request (uvicorn's access log).")
    sub.add_argument("--code", default=None, help="Python file to import first (custom components or functions).")


def split_overrides(argv: List[str]) -> Tuple[List[str], List[str]]:
    """Separate spaCy-style config overrides (`--a.b value`, `--a.b=value`) from the other arguments."""
    args: List[str] = []
    overrides: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg.startswith("--") and "." in name:
            overrides.append(arg)
            if "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                overrides.append(argv[i + 1])
                i += 1
        else:
            args.append(arg)
        i += 1
    return args, overrides


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code (0 success, 1 failure)."""
    from spacy.cli._util import parse_config_overrides

    args, override_args = split_overrides(list(sys.argv[1:] if argv is None else argv))
    options = _parser().parse_args(args)
    if options.command == "finetune":
        return _finetune(options, parse_config_overrides(override_args))
    if options.command == "serve":
        return _serve(options, parse_config_overrides(override_args))
    if options.command == "import":
        return run_import(options, parse_config_overrides(override_args))
    if options.command == "label-studio-config":
        return run_label_studio_config(options, parse_config_overrides(override_args))
    if options.command == "convert":
        return run_convert(options, parse_config_overrides(override_args))
    settings = AnnotateSettings(
        pipeline=options.pipeline,
        input=options.input,
        outputs=options.outputs,
        overrides=parse_config_overrides(override_args),
        text_key=options.text_key,
        batch_size=options.batch_size,
        chunk_size=options.chunk_size,
        n_process=options.n_process,
        gpu_id=options.gpu_id,
        on_error=options.on_error,
        resume=options.resume,
        quiet=options.quiet,
        relations_attr=options.relations_attr,
        explain=options.explain,
        summary=options.summary,
        code=options.code,
        engine=options.engine,
        ray_address=options.ray_address,
        num_actors=options.num_actors,
        gpus_per_actor=options.gpus_per_actor,
        cpus_per_actor=options.cpus_per_actor,
        format=options.format,
        order=options.order,
        limit=options.limit,
        skip_reviewed=options.skip_reviewed,
        seed=options.seed,
    )
    try:
        annotate(settings)
    except (ValueError, OSError, ImportError) as err:
        print(f"spacy-zeroshot annotate: {err}", file=sys.stderr)
        return 1
    return 0


def _finetune(options: argparse.Namespace, overrides: dict) -> int:
    settings = FinetuneSettings(
        pipeline=options.pipeline,
        train=options.train,
        dev=options.dev,
        output=options.output,
        overrides=overrides,
        gpu_id=options.gpu_id,
        keep_zero_shot=not options.no_keep_zero_shot,
        code=options.code,
    )
    try:
        finetune(settings)
    except (ValueError, OSError) as err:
        print(f"spacy-zeroshot finetune: {err}", file=sys.stderr)
        return 1
    return 0


def _serve(options: argparse.Namespace, overrides: dict) -> int:
    server = ServeSettings(
        host=options.host,
        port=options.port,
        max_wait_ms=0.0 if options.no_pooling else options.max_wait_ms,
        max_batch_docs=1 if options.no_pooling else options.max_batch_docs,
        max_body_bytes=options.max_body_bytes,
        access_log=options.access_log,
    )
    command = ServeCommand(
        pipeline=options.pipeline,
        server=server,
        overrides=overrides,
        gpu_id=options.gpu_id,
        relations_attr=options.relations_attr,
        explain=options.explain,
        code=options.code,
    )
    try:
        serve(command)
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has shut down gracefully, then re-raised it
        return 0
    except (ValueError, OSError, ImportError) as err:
        print(f"spacy-zeroshot serve: {err}", file=sys.stderr)
        return 1
    return 0
