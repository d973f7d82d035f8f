"""`spacy-zeroshot annotate`: run a pipeline over a corpus, crash-safe, in input order."""

import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors, Warnings
from .chunks import ChunkStore, check_outputs
from .export import DEFAULT_RELATIONS_ATTR, count_labels, review_record
from .loading import enable_audit_trail, import_code, load_pipeline, move_to_device
from .plan import plan_chunks
from .progress import PairCounter, Progress, estimate_line, format_summary, summarize
from .readers import META_ATTR, Record, ensure_meta_extension, input_files, read_records

ON_ERROR = ("fail", "skip")
ENGINES = ("local", "ray")
MAX_REPORTED = 20


@dataclass
class AnnotateSettings:
    """Everything `annotate` needs; the command line fills it (see `cli/__init__.py`)."""

    pipeline: str
    input: str
    outputs: List[Path]
    overrides: Dict[str, Any] = field(default_factory=dict)
    text_key: str = "text"
    batch_size: int = 64
    chunk_size: int = 1024
    n_process: int = 1
    gpu_id: Optional[int] = None
    on_error: str = "fail"
    resume: bool = False
    quiet: bool = False
    relations_attr: str = DEFAULT_RELATIONS_ATTR
    explain: bool = False
    summary: Optional[Path] = None
    code: Optional[str] = None
    engine: str = "local"
    ray_address: Optional[str] = None
    num_actors: Optional[int] = None
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 1.0
    format: str = "review"  # the review options: see cli/review_export.py
    order: str = "input"
    limit: Optional[int] = None
    skip_reviewed: Optional[Path] = None
    seed: int = 0


def annotate(settings: AnnotateSettings, *, log: IO[str] = sys.stderr) -> Dict[str, Any]:
    """Annotate `settings.input` with `settings.pipeline` and write the outputs.

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
        _say(log, Warnings.W200.format(where=record.where, reason=record.error))
    if len(malformed) > MAX_REPORTED:
        _say(log, f"... and {len(malformed) - MAX_REPORTED:,} more malformed records (listed in the summary).")
    if settings.engine == "ray":
        from .ray_engine import annotate_with_ray

        summary = annotate_with_ray(settings, store, files, plan, log)
    else:
        summary = _annotate_locally(settings, store, files, total, malformed, chunk_size, log)
    summary["engine"] = settings.engine
    if settings.summary is not None:
        srsly.write_json(settings.summary, summary)
    _say(log, format_summary(summary))
    return summary


def _annotate_locally(
    settings: AnnotateSettings,
    store: ChunkStore,
    files: List[Path],
    total: int,
    malformed: List[Record],
    chunk_size: int,
    log: IO[str],
) -> Dict[str, Any]:
    started = time.perf_counter()
    import_code(settings.code)
    nlp = load_pipeline(settings.pipeline, settings.overrides)
    move_to_device(nlp, settings.gpu_id)
    if settings.explain:
        enable_audit_trail(nlp)
    ensure_meta_extension()
    load_seconds = time.perf_counter() - started

    done = store.start(settings.resume)
    previous = store.completed_records(done)
    skip = sum(chunk["records"] for chunk in previous)
    if done:
        _say(log, f"Resuming: {done} chunk(s), {sum(c['docs'] for c in previous):,} docs already annotated.")
    remaining = total - skip - sum(1 for record in malformed if record.index >= skip)
    counter = PairCounter()
    if settings.n_process == 1 or PairCounter.counts_workers():
        counter.install(nlp)
    run = _Run(nlp, settings, store, counter, first_chunk=done, first_record=skip, chunk_size=chunk_size)
    if not settings.quiet:
        _say(log, f"Pipeline: {nlp.pipe_names}. {remaining:,} docs to annotate from {len(files)} file(s).")
    t0 = time.perf_counter()
    records = read_records(files, nlp.vocab, text_key=settings.text_key, skip=skip)
    n_chunks = run.process(records, remaining, log)
    store.assemble(n_chunks)
    seconds = time.perf_counter() - t0
    return summarize(
        previous + run.written,
        seconds=seconds,
        load_seconds=load_seconds,
        session_docs=run.docs,
        session_pairs=counter.total,
        resumed_chunks=done,
        outputs=[str(p) for p in store.outputs],
    )


class _Run:
    """One session of a run: streams records through the pipeline and writes chunks in order."""

    def __init__(
        self,
        nlp: Language,
        settings: AnnotateSettings,
        store: ChunkStore,
        counter: PairCounter,
        *,
        first_chunk: int,
        first_record: int,
        chunk_size: int,
    ) -> None:
        self.nlp = nlp
        self.settings = settings
        self.store = store
        self.counter = counter
        self.chunk_number = first_chunk
        self.chunk_start = first_record  # index of the first record of the current chunk
        self.chunk_size = chunk_size
        self.skipped: List[Record] = []
        self.written: List[Dict[str, Any]] = []
        self.docs = 0
        self.records_read = first_record
        self._pairs_written = 0

    def _valid(self, records: Iterator[Record]) -> Iterator[Tuple[Union[str, Doc], Record]]:
        for record in records:
            self.records_read = record.index + 1
            if record.error is not None:
                if self.settings.on_error == "fail":
                    raise ValueError(Errors.E208.format(where=record.where, reason=record.error, n=1))
                self.skipped.append(record)
                continue
            yield (record.doc if record.doc is not None else record.text or ""), record

    def process(self, records: Iterator[Record], remaining: int, log: IO[str]) -> int:
        """Annotate and write everything; returns the total number of chunks (all sessions)."""
        stream = self._valid(records)
        batch_size = self.settings.batch_size
        start = time.perf_counter()
        first = list(itertools.islice(stream, batch_size))
        # The first minibatch runs in this process, to measure pairs per doc before the rest.
        annotated = iter(self.nlp.pipe(first, as_tuples=True, batch_size=batch_size))
        head = [next(annotated) for _ in first]
        line = estimate_line(self.counter.total, len(first), remaining)
        if line and not self.settings.quiet:
            _say(log, line)
        progress = Progress(remaining, self.counter, start=start, quiet=self.settings.quiet, stream=log)
        progress.update(len(head))
        rest = self._pipe_rest(stream)
        docs: List[Doc] = []
        rows: List[Dict[str, Any]] = []
        labels: Dict[str, Dict[str, int]] = {}
        last_index = self.chunk_start - 1
        try:
            for i, (doc, record) in enumerate(itertools.chain(head, rest)):
                if i >= len(head):
                    progress.update()
                if record.meta is not None:
                    doc._.set(META_ATTR, record.meta)
                row = review_record(
                    doc, record.meta, relations_attr=self.settings.relations_attr, explain=self.settings.explain
                )
                count_labels(row, labels)
                docs.append(doc)
                rows.append(row)
                last_index = record.index
                if len(docs) == self.chunk_size:
                    self._write(docs, rows, labels, last_index + 1)
                    docs, rows, labels = [], [], {}
        finally:
            progress.close()
        if docs or self.skipped:
            self._write(docs, rows, labels, None)
        return self.chunk_number

    def _pipe_rest(self, stream: Iterator[Tuple[Union[str, Doc], Record]]) -> Iterator[Tuple[Doc, Record]]:
        n_process = self.settings.n_process
        if n_process == 1:
            yield from self.nlp.pipe(stream, as_tuples=True, batch_size=self.settings.batch_size)
            return
        import torch

        # Forked workers must not use the tokenizers' thread pool (it would warn and disable it).
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        threads = torch.get_num_threads()
        # Each worker gets its share of the cores instead of all of them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_process))
        try:
            yield from self.nlp.pipe(stream, as_tuples=True, batch_size=self.settings.batch_size, n_process=n_process)
        finally:
            torch.set_num_threads(threads)

    def _write(self, docs: List[Doc], rows: List[Dict[str, Any]], labels: Dict[str, Dict[str, int]], end: Optional[int]) -> None:
        """Write a chunk covering records [chunk_start, end) (end None: everything read so far)."""
        if end is None:
            end = max(self.chunk_start, self.records_read)
        skipped = [r for r in self.skipped if r.index < end]
        self.skipped = [r for r in self.skipped if r.index >= end]
        pairs = self.counter.total - self._pairs_written
        info = {
            "records": end - self.chunk_start,
            "docs": len(docs),
            "skipped": [{"file": r.source, "line": r.line, "reason": r.error} for r in skipped],
            "pairs": pairs,
            "labels": labels,
        }
        self.store.write(self.chunk_number, docs, rows, info)
        self.written.append(info)
        self.chunk_number += 1
        self.chunk_start = end
        self.docs += len(docs)
        self._pairs_written += pairs


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
    from ..engines.ray_data import check_numbers

    check_numbers(
        batch_size=settings.batch_size,
        num_actors=settings.num_actors,
        num_gpus=settings.gpus_per_actor,
        num_cpus=settings.cpus_per_actor,
    )


def _say(log: IO[str], message: str) -> None:
    print(message, file=log, flush=True)
