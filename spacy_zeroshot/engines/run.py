"""A whole annotation run, as `spacy-zeroshot annotate` starts it: settings, checks, then an engine.

`annotate` validates the settings, scans the input once (`plan.plan_chunks`), opens the
crash-safe chunk store and hands the run to the local engine (`local.annotate_locally`,
`nlp.pipe` in this process) or the Ray engine (`ray_run.annotate_with_ray`). Both write the
same files and return the same summary. The command line only fills `AnnotateSettings`.
"""

import sys
from pathlib import Path
from typing import IO, Any, Dict, List

import srsly

from ..errors import Errors, Warnings
from .chunks import ChunkStore, check_outputs
from .plan import plan_chunks
from .progress import format_summary, say
from .readers import input_files
from .settings import ENGINES, ON_ERROR, AnnotateSettings

MAX_REPORTED = 20


def annotate(settings: AnnotateSettings, *, log: IO[str] = sys.stderr, report: bool = True) -> Dict[str, Any]:
    """Annotate `settings.input` with `settings.pipeline` and write the outputs.

    report (bool): Print the summary at the end (the review export prints its own, naming
        its outputs rather than its temporary work folder).
    RETURNS (Dict[str, Any]): The run's summary (docs, pairs, time, throughput, label counts).
    """
    from .review_export import annotate_for_review, wants_review_export

    if wants_review_export(settings):
        return annotate_for_review(settings, annotate, log=log)
    outputs = check_outputs(settings.outputs)
    _check_settings(settings)
    # Chunks hold whole minibatches, so a resumed run batches docs exactly as an uninterrupted one.
    chunk_size = -(-settings.chunk_size // settings.batch_size) * settings.batch_size
    files = input_files(settings.input)
    store = ChunkStore(outputs, _fingerprint(settings, files, chunk_size))
    if store.path.exists() and not settings.resume:
        raise ValueError(Errors.E205.format(path=store.path))
    total, malformed, plan = plan_chunks(files, settings.text_key, chunk_size)
    if malformed and settings.on_error == "fail":
        first = malformed[0]
        raise ValueError(Errors.E208.format(where=first.where, reason=first.error, n=len(malformed)))
    for record in malformed[:MAX_REPORTED]:
        say(log, Warnings.W200.format(where=record.where, reason=record.error))
    if len(malformed) > MAX_REPORTED:
        say(log, f"... and {len(malformed) - MAX_REPORTED:,} more malformed records (listed in the summary).")
    if settings.engine == "ray":
        from .ray_run import annotate_with_ray

        summary = annotate_with_ray(settings, store, files, plan, log)
    else:
        from .local import annotate_locally

        summary = annotate_locally(settings, store, files, total, malformed, chunk_size, log)
    summary["engine"] = settings.engine
    if settings.summary is not None:
        srsly.write_json(settings.summary, summary)
    if report:
        say(log, format_summary(summary))
    return summary


def _fingerprint(settings: AnnotateSettings, files: List[Path], chunk_size: int) -> Dict[str, Any]:
    """What must not change between an interrupted run and its resumption."""
    pipeline = Path(settings.pipeline)
    fingerprint: Dict[str, Any] = {
        "pipeline": str(pipeline.resolve()) if pipeline.exists() else settings.pipeline,
        "overrides": {key: repr(value) for key, value in sorted(settings.overrides.items())},
        "inputs": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "outputs": [str(Path(p).resolve()) for p in settings.outputs],
        "text_key": settings.text_key,
        "batch_size": settings.batch_size,
        "chunk_size": chunk_size,
        "on_error": settings.on_error,
        "relations_attr": settings.relations_attr,
        "explain": settings.explain,
    }
    if settings.engine != "local":  # a local run's fingerprint stays as it was before engines
        fingerprint["engine"] = settings.engine
    return fingerprint


def _check_settings(settings: AnnotateSettings) -> None:
    for name in ("batch_size", "chunk_size", "n_process"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(Errors.E013.format(name=name, value=value))
    if settings.on_error not in ON_ERROR:
        raise ValueError(Errors.E057.format(key="on_error", value=settings.on_error, name="annotate", options=ON_ERROR))
    if settings.n_process > 1 and settings.gpu_id is not None and settings.gpu_id >= 0:
        raise ValueError(Errors.E209.format(n_process=settings.n_process, gpu_id=settings.gpu_id))
    if settings.engine not in ENGINES:
        raise ValueError(Errors.E057.format(key="engine", value=settings.engine, name="annotate", options=ENGINES))
    if settings.engine == "local":
        ray_only = {
            "--ray-address": settings.ray_address is not None,
            "--num-actors": settings.num_actors is not None,
            "--gpus-per-actor": settings.gpus_per_actor != 0,
            "--cpus-per-actor": settings.cpus_per_actor != 1,
        }
        for option, given in ray_only.items():
            if given:
                raise ValueError(Errors.E509.format(option=option))
        return
    for option, given in (("--n-process", settings.n_process != 1), ("--gpu-id", settings.gpu_id is not None)):
        if given:
            raise ValueError(Errors.E510.format(option=option))
    from .ray_data import check_numbers

    check_numbers(
        batch_size=settings.batch_size,
        num_actors=settings.num_actors,
        num_gpus=settings.gpus_per_actor,
        num_cpus=settings.cpus_per_actor,
    )

