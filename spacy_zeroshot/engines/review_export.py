"""`annotate --format/--order/--limit/--skip-reviewed`: annotate, then pick, order and convert.

The corpus is annotated exactly as a plain run would (crash-safe chunks, `--resume`) into a
work folder beside the output; the records are then ranked, filtered and written in the
annotation tool's format, with the chosen docs (in the same order) in the .spacy output if one
is asked for. The work folder is removed at the end, so the log names it only as temporary and
the summary names the outputs that stay.
"""

import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Set, Tuple

import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import Errors
from .chunks import atomic_write
from .formats import FORMAT_SUFFIXES, ORDERS, convert, schema_from_pipeline, select, serialize
from .formats.exporting import check_format
from .formats.label_studio import labeling_config
from .progress import format_summary, say

WORK_SUFFIX = ".review-work"


def wants_review_export(settings: Any) -> bool:
    """Whether `annotate` must run through this module (any review option off its default)."""
    return (
        settings.format != "review"
        or settings.order != "input"
        or settings.limit is not None
        or settings.skip_reviewed is not None
    )


def split_outputs(fmt: str, outputs: List[Path]) -> Tuple[Path, Optional[Path]]:
    """(the format's output, the .spacy output or None). RAISES ValueError: [E625]."""
    suffixes = FORMAT_SUFFIXES[fmt]
    main = [Path(p) for p in outputs if Path(p).suffix in suffixes]
    spacy_out = [Path(p) for p in outputs if Path(p).suffix == ".spacy"]
    others = [Path(p) for p in outputs if Path(p).suffix not in suffixes and Path(p).suffix != ".spacy"]
    if len(main) != 1 or len(spacy_out) > 1 or others:
        bad = others[0] if others else (main[1] if len(main) > 1 else Path(outputs[0]))
        raise ValueError(Errors.E625.format(fmt=fmt, suffixes=" / ".join(suffixes), path=bad))
    return main[0], (spacy_out[0] if spacy_out else None)


def check_review_settings(settings: Any) -> None:
    check_format(settings.format)
    if settings.order not in ORDERS:
        raise ValueError(Errors.E620.format(value=settings.order, options=", ".join(ORDERS)))
    if settings.limit is not None and (isinstance(settings.limit, bool) or not isinstance(settings.limit, int) or settings.limit < 1):
        raise ValueError(Errors.E624.format(option="--limit", value=settings.limit))
    if settings.skip_reviewed is not None:
        path = Path(settings.skip_reviewed)
        if path.suffix != ".spacy" or not path.is_file():
            raise ValueError(Errors.E627.format(path=path))
    split_outputs(settings.format, settings.outputs)


def reviewed_texts(path: Optional[Path]) -> Set[str]:
    """The texts of the docs in a .spacy file (the docs a reviewer already saw)."""
    if path is None:
        return set()
    return {doc.text for doc in DocBin().from_disk(path).get_docs(Vocab())}


def annotate_for_review(settings: Any, run: Any, *, log: IO[str] = sys.stderr) -> Dict[str, Any]:
    """Annotate with `run` (the plain `annotate`) into a work folder, then export for review.

    settings (AnnotateSettings): The run's settings, review options included.
    run (Callable): `annotate` itself, called with the plain settings.
    RETURNS (Dict[str, Any]): The run's summary, with "review": what was written.
    """
    check_review_settings(settings)
    target, spacy_out = split_outputs(settings.format, settings.outputs)
    work = target.with_name(target.name + WORK_SUFFIX)
    annotated = [work / "annotated.jsonl", work / "annotated.spacy"]
    if work.exists() and not settings.resume and not (work / "annotated.jsonl.parts").exists():
        shutil.rmtree(work)  # a finished annotation whose export never ran: start clean
    work.mkdir(parents=True, exist_ok=True)
    say(
        log,
        f"Annotating into a temporary work folder, {work} (removed once {target.name} is written;"
        " kept for --resume if the run stops).",
    )
    plain = replace(
        settings, outputs=annotated, format="review", order="input", limit=None, skip_reviewed=None, summary=None
    )
    summary = run(plain, log=log, report=False)
    rows = [row for row in srsly.read_jsonl(annotated[0])]
    docs: List[Doc] = list(DocBin(store_user_data=True).from_disk(annotated[1]).get_docs(Vocab()))

    from .loading import import_code, load_pipeline

    import_code(settings.code)
    nlp = load_pipeline(settings.pipeline, settings.overrides)
    schema = schema_from_pipeline(nlp, settings.pipeline, relations_attr=settings.relations_attr)
    chosen, left_out = select(
        rows,
        schema,
        order=settings.order,
        limit=settings.limit,
        seed=settings.seed,
        reviewed_texts=reviewed_texts(settings.skip_reviewed),
    )
    records = []
    for task_id, (i, entry) in enumerate(chosen):
        row = dict(rows[i])
        if settings.order != "input":
            row["ranking"] = entry
        records.append(convert(settings.format, row, schema, doc=docs[i], task_id=task_id))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, serialize(settings.format, records))
    if spacy_out is not None:
        spacy_out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(spacy_out, DocBin(store_user_data=True, docs=[docs[i] for i, _ in chosen]).to_bytes())
    shutil.rmtree(work)
    summary["outputs"] = [str(p) for p in settings.outputs]
    summary["review"] = {
        "format": settings.format,
        "order": settings.order,
        "written": len(records),
        "already_reviewed": left_out,
        "limit": settings.limit,
        "model_version": schema.model_version,
    }
    if settings.summary is not None:
        srsly.write_json(settings.summary, summary)
    say(log, format_summary(summary))
    say(
        log,
        f"Review: {len(records):,} docs written to {target} ({settings.format}, order {settings.order}"
        f"{f', {left_out:,} already reviewed left out' if left_out else ''}).",
    )
    return summary


def pipeline_config(pipeline: str, overrides: Dict[str, Any], *, code: Any = None, relations_attr: str = "relations") -> str:
    """The Label Studio labeling XML for a pipeline (loaded with `overrides`): `spacy-zeroshot label-studio-config`."""
    from .loading import import_code, load_pipeline

    import_code(code)
    nlp = load_pipeline(pipeline, overrides)
    return labeling_config(schema_from_pipeline(nlp, pipeline, relations_attr=relations_attr))
