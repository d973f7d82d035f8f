"""Counting NLI pairs, the progress bar, the messages and the final summary of an annotation run."""

import multiprocessing
import time
from typing import IO, Any, Dict, List, Optional, Sequence

from spacy.language import Language

from .loading import nli_components


class PairCounter:
    """Counts the (premise, hypothesis) pairs that a pipeline's backends are asked to score.

    It reads the backends' own statistics (`backend.stats["requested"]`: repeats and cache
    hits included, float32 re-checks not), counted from when the counter was made. The
    backends count in shared memory where processes fork, so workers forked by
    `nlp.pipe(n_process=N)` add to the count too. Pairs scored elsewhere (the Ray engine's
    actors report theirs) are added with `add`.

    nlp (Optional[Language]): The pipeline whose 'zeroshot_nli' backends to read; None counts
        only what is added.
    """

    def __init__(self, nlp: Optional[Language] = None) -> None:
        backends = {id(c.backend): c.backend for c in nli_components(nlp)} if nlp is not None else {}
        self._backends = list(backends.values())
        self._start = self._requested()
        self._added = 0

    def _requested(self) -> int:
        return sum(backend.stats["requested"] for backend in self._backends)

    @property
    def total(self) -> int:
        return self._requested() - self._start + self._added

    def add(self, n: int) -> None:
        """Count `n` pairs scored outside this process's backends."""
        self._added += n

    @staticmethod
    def counts_workers() -> bool:
        """Whether workers of `nlp.pipe(n_process=N)` add to the count (they do when forked)."""
        return multiprocessing.get_start_method(allow_none=False) == "fork"


class Progress:
    """A tqdm bar of docs with docs/s and NLI pairs/s, or nothing in quiet mode."""

    def __init__(self, total: int, counter: PairCounter, *, start: float, quiet: bool, stream: IO[str]) -> None:
        self.counter = counter
        self.start_pairs = 0
        self.start = start
        self._last = 0.0
        self.bar: Any = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="doc", desc="Annotating", file=stream, mininterval=0.5, smoothing=0.1)

    def update(self, n: int = 1) -> None:
        if self.bar is None:
            return
        self.bar.update(n)
        now = time.perf_counter()
        if now - self._last >= 0.5:
            self._last = now
            pairs = self.counter.total - self.start_pairs
            rate = pairs / max(now - self.start, 1e-9)
            self.bar.set_postfix_str(f"{pairs:,} pairs, {rate:,.1f} pairs/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def summarize(
    chunks: List[Dict[str, Any]],
    *,
    seconds: float,
    load_seconds: float,
    session_docs: int,
    session_pairs: int,
    resumed_chunks: int,
    outputs: Sequence[str],
    max_skipped: int = 1000,
) -> Dict[str, Any]:
    """The summary of a run from its chunk records (earlier, resumed sessions included)."""
    from .review import merge_counts

    labels: Dict[str, Dict[str, int]] = {}
    skipped: List[Dict[str, Any]] = []
    for chunk in chunks:
        merge_counts(labels, chunk["labels"])
        skipped.extend(chunk["skipped"])
    return {
        "docs": sum(chunk["docs"] for chunk in chunks),
        "records": sum(chunk["records"] for chunk in chunks),
        "skipped": len(skipped),
        "skipped_records": skipped[:max_skipped],
        "pairs": sum(chunk["pairs"] for chunk in chunks),
        "seconds": round(seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "session_docs": session_docs,
        "session_pairs": session_pairs,
        "docs_per_second": round(session_docs / seconds, 2) if seconds > 0 else None,
        "pairs_per_second": round(session_pairs / seconds, 2) if seconds > 0 else None,
        "resumed_chunks": resumed_chunks,
        "labels": {group: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for group, c in labels.items()},
        "outputs": list(outputs),
    }


def format_summary(summary: Dict[str, Any], max_labels: int = 12) -> str:
    lines = [
        f"Annotated {summary['docs']:,} docs ({summary['skipped']:,} malformed records skipped), "
        f"{summary['pairs']:,} NLI pairs scored.",
        f"Time {summary['seconds']:.1f}s (+{summary['load_seconds']:.1f}s loading): "
        f"{summary['docs_per_second'] or 0:,.1f} docs/s, {summary['pairs_per_second'] or 0:,.1f} pairs/s"
        + (f" (this session; {summary['resumed_chunks']} chunks were done before)" if summary["resumed_chunks"] else ""),
    ]
    for group, counts in summary["labels"].items():
        shown = ", ".join(f"{label} {n:,}" for label, n in list(counts.items())[:max_labels])
        more = f", ... ({len(counts) - max_labels} more)" if len(counts) > max_labels else ""
        name = "cats (top label)" if group == "cats" else group
        lines.append(f"  {name}: {shown}{more}")
    lines.append("Output: " + ", ".join(summary["outputs"]))
    return "\n".join(lines)


def estimate_line(pairs: int, docs: int, remaining: int) -> Optional[str]:
    if docs == 0:
        return None
    per_doc = pairs / docs
    return (
        f"Estimated NLI pairs: ~{int(round(per_doc * remaining)):,} for {remaining:,} docs "
        f"({per_doc:.1f} per doc on the first {docs:,})"
    )


def say(log: IO[str], message: str) -> None:
    """Print one line of a run's log (start line, warnings, summary) and flush it."""
    print(message, file=log, flush=True)
