"""Cross-request pooling: the docs of concurrent requests go through `nlp.pipe` as one batch.

A web server calls the pipeline once per request, from many threads or coroutines at once. One
doc per call wastes the model (8 clients, 8 tiny forward passes) and, from several threads,
shares state that is not meant to be shared. `RequestPool` runs every call on ONE worker
thread: it collects the docs that arrive within `max_wait_ms` of the first waiting one (at
most `max_batch_docs`), runs them through `nlp.pipe` together and hands each caller its own
result through a `concurrent.futures.Future` (awaitable with `RequestPool.aprocess`).

Pure stdlib and spaCy: no web framework is imported here.
"""

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterable, List, Optional, TypeVar, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors

logger = logging.getLogger(__name__)

Output = TypeVar("Output")
Input = Union[str, Doc]


@dataclass
class _Item(Generic[Output]):
    doc: Input
    future: "Future[Output]"
    arrived: float


_STOP = object()


class PoolClosedError(RuntimeError):
    """`[E600]`: a doc was submitted to a closed `RequestPool`."""


def check_pool_settings(max_wait_ms: float, max_batch_docs: int) -> None:
    """Raise `[E601]` unless `max_wait_ms` >= 0 and `max_batch_docs` is a positive integer."""
    if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)) or not max_wait_ms >= 0:
        raise ValueError(Errors.E601.format(name="max_wait_ms", expected="a number >= 0", value=max_wait_ms))
    if isinstance(max_batch_docs, bool) or not isinstance(max_batch_docs, int) or max_batch_docs < 1:
        raise ValueError(Errors.E601.format(name="max_batch_docs", expected="an integer >= 1", value=max_batch_docs))


class RequestPool(Generic[Output]):
    """Run the docs of concurrent callers through `nlp.pipe` in pooled batches on one thread.

    nlp (Language): The pipeline. Only the pool's worker thread calls it, so it needs no
        thread safety of its own; do not call it from elsewhere while the pool runs.
    max_wait_ms (float): How long, in milliseconds, a doc may wait for others to join its
        batch, counted from its arrival. A doc that waited that long while the worker was
        busy goes into the next batch at once, with whatever else is queued. 0: no waiting
        (docs queued at the same moment are still pooled).
    max_batch_docs (int): Most docs per `nlp.pipe` batch. 1 turns pooling off: one doc at
        a time, in arrival order.
    to_output (Optional[Callable[[Doc], Output]]): Applied to each annotated doc on the
        worker thread (e.g. `review_record`); the future's result is its return value.
        None: the future holds the Doc itself.
    name (str): The worker thread's name.

    Errors: if a batch of several docs raises, each doc is run again on its own, so that
    every caller receives its own doc's outcome: the docs that fail hand their exception to
    their caller (a pipeline-wide failure reaches every caller of the batch); the others get
    their results. The worker thread survives every error.
    RAISES (ValueError): `[E601]` for a bad `max_wait_ms` or `max_batch_docs`.
    """

    def __init__(
        self,
        nlp: Language,
        *,
        max_wait_ms: float = 5.0,
        max_batch_docs: int = 32,
        to_output: Optional[Callable[[Doc], Output]] = None,
        name: str = "spacy-zeroshot-pool",
    ) -> None:
        check_pool_settings(max_wait_ms, max_batch_docs)
        self.nlp = nlp
        self.max_wait_ms = float(max_wait_ms)
        self.max_batch_docs = max_batch_docs
        self.to_output = to_output
        self.stats: Dict[str, int] = {"batches": 0, "docs": 0, "failed_batches": 0, "largest_batch": 0}
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    # Callers ---------------------------------------------------------------------------

    def submit(self, doc: Input) -> "Future[Output]":
        """Queue one text or Doc; the future resolves to its output (see `to_output`).

        doc (Union[str, Doc]): A text, or a Doc made with the pipeline's vocab.
        RETURNS (Future): Resolves to the annotated Doc (or `to_output(doc)`), or raises the
            error the pipeline raised for it.
        RAISES (PoolClosedError): `[E600]` (a RuntimeError) after `close()`.
        RAISES (TypeError): `[E602]` for anything but a str or a Doc.
        """
        return self.submit_many([doc])[0]

    def submit_many(self, docs: Iterable[Input]) -> "List[Future[Output]]":
        """Queue several texts or Docs at once (they stay together, in order, when they fit in
        one batch); one future per doc, as in `submit`."""
        docs = list(docs)
        for doc in docs:
            if not isinstance(doc, (str, Doc)):
                raise TypeError(Errors.E602.format(kind=type(doc).__name__))
        futures: "List[Future[Output]]" = [Future() for _ in docs]
        with self._lock:  # nothing is queued behind the stop marker
            if self._closed:
                raise PoolClosedError(Errors.E600)
            now = time.monotonic()
            for doc, future in zip(docs, futures):
                self._queue.put(_Item(doc, future, now))
        return futures

    def process(self, doc: Input, timeout: Optional[float] = None) -> Output:
        """Queue one doc and wait for its output (`timeout` in seconds; None waits forever)."""
        return self.submit(doc).result(timeout)

    async def aprocess(self, doc: Input) -> Output:
        """`process` for coroutines: waits without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(doc))

    async def aprocess_many(self, docs: Iterable[Input]) -> List[Output]:
        """`submit_many` for coroutines: the outputs in order, or the first doc's error."""
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in self.submit_many(docs))))

    @property
    def queued(self) -> int:
        """Docs waiting for a batch (approximate while callers submit)."""
        return self._queue.qsize()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: Optional[float] = None) -> bool:
        """Take no new docs, finish the queued ones, stop the worker thread. Idempotent.

        timeout (Optional[float]): Seconds to wait for the worker; None waits until done.
        RETURNS (bool): Whether the worker has stopped.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._worker.join(timeout)
        return not self._worker.is_alive()

    def __enter__(self) -> "RequestPool[Output]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Worker ----------------------------------------------------------------------------

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: List[_Item] = [first]
            deadline = first.arrived + self.max_wait_ms / 1000.0
            while len(batch) < self.max_batch_docs:
                wait = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: List[_Item]) -> None:
        # A caller may have cancelled its future while it waited: skip its doc.
        batch = [item for item in batch if item.future.set_running_or_notify_cancel()]
        if not batch:
            return
        self.stats["batches"] += 1
        self.stats["docs"] += len(batch)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(batch))
        try:
            outputs = self._annotate([item.doc for item in batch])
        except Exception as err:
            self.stats["failed_batches"] += 1
            if len(batch) == 1:
                batch[0].future.set_exception(err)
                return
            logger.warning("A pooled batch of %d docs failed (%r); running them one by one.", len(batch), err)
            for item in batch:
                try:
                    (output,) = self._annotate([item.doc])
                except Exception as single_err:
                    item.future.set_exception(single_err)
                else:
                    item.future.set_result(output)
            return
        for item, output in zip(batch, outputs):
            item.future.set_result(output)

    def _annotate(self, docs: List[Input]) -> List[Any]:
        annotated = list(self.nlp.pipe(docs, batch_size=len(docs)))
        if self.to_output is None:
            return annotated
        return [self.to_output(doc) for doc in annotated]
