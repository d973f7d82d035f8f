"""A backend's own counts of pairs: asked for, run by the model, re-checked in float32.

Engines read them to report pairs and pairs/s (`engines.progress.PairCounter`), benchmarks to
report the share of close calls re-checked; nothing has to wrap `score` to count.
"""

import multiprocessing
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

NAMES = ("requested", "scored", "rechecked")


class ScoreStats(Mapping):
    """Read-only counts, by name:

    "requested": pairs given to `score` (repeats and cache hits included; re-checks excluded),
        what a caller asked of the model; "scored": distinct pairs the model ran; "rechecked":
        pairs run again in float32 (`recheck_margin`).

    Where processes can fork, the counts live in shared memory, so workers forked after the
    backend was built (`nlp.pipe(n_process=N)`) add to the same counts. A pickled copy (a
    spawned worker, `copy.deepcopy`) starts from the numbers at that moment, on its own.
    """

    def __init__(self, counts: Optional[Mapping[str, int]] = None) -> None:
        values = [int((counts or {}).get(name, 0)) for name in NAMES]
        self._shared: Any = None
        self._local = values
        if "fork" in multiprocessing.get_all_start_methods():
            try:
                self._shared = multiprocessing.get_context("fork").Array("q", values)
            except OSError:  # no shared memory here (some sandboxes): count in this process
                self._shared = None

    def add(self, name: str, n: int) -> None:
        """Add `n` to the count `name` (one of `NAMES`)."""
        index = NAMES.index(name)
        if self._shared is None:
            self._local[index] += n
            return
        with self._shared.get_lock():
            self._shared[index] += n

    def __getitem__(self, name: str) -> int:
        if name not in NAMES:
            raise KeyError(name)
        index = NAMES.index(name)
        return int(self._shared[index]) if self._shared is not None else self._local[index]

    def __iter__(self) -> Iterator[str]:
        return iter(NAMES)

    def __len__(self) -> int:
        return len(NAMES)

    def __repr__(self) -> str:
        return f"ScoreStats({dict(self)!r})"

    def __reduce__(self) -> Tuple[Any, Tuple[Dict[str, int]]]:
        return (ScoreStats, (dict(self),))
