"""The local engine: `nlp.pipe` in this process (or `n_process` forked workers), chunks written in order."""

import itertools
import os
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from .chunks import ChunkStore
from .loading import enable_audit_trail, import_code, load_pipeline, move_to_device
from .progress import PairCounter, Progress, estimate_line, say, summarize
from .readers import META_ATTR, Record, ensure_meta_extension, read_records
from .review import count_labels, review_record
from .settings import AnnotateSettings


def annotate_locally(
    settings: AnnotateSettings,
    store: ChunkStore,
    files: List[Path],
    total: int,
    malformed: List[Record],
    chunk_size: int,
    log: IO[str],
) -> Dict[str, Any]:
    """Annotate every record not yet in `store` with the pipeline loaded here, writing
    chunks of `chunk_size` docs in input order, then join them into the outputs.

    settings (AnnotateSettings): The run's settings (checked by `run.annotate`).
    store (ChunkStore): The run's parts folder.
    files (List[Path]): The input files.
    total (int): Records in the input, malformed ones included (`plan.plan_chunks`).
    malformed (List[Record]): The malformed records, with their global index.
    chunk_size (int): Docs per chunk, a whole number of minibatches.
    log (IO[str]): Where the start line and progress go.
    RETURNS (Dict[str, Any]): The run's summary (`progress.summarize`).
    """
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
        say(log, f"Resuming: {done} chunk(s), {sum(c['docs'] for c in previous):,} docs already annotated.")
    remaining = total - skip - sum(1 for record in malformed if record.index >= skip)
    # Spawned workers would count in their own copies: then no count rather than a partial one.
    counter = PairCounter(nlp if settings.n_process == 1 or PairCounter.counts_workers() else None)
    run = _Run(nlp, settings, store, counter, first_chunk=done, first_record=skip, chunk_size=chunk_size)
    if not settings.quiet:
        say(log, f"Pipeline: {nlp.pipe_names}. {remaining:,} docs to annotate from {len(files)} file(s).")
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
            say(log, line)
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



