"""An LRU cache of pair logits, for workloads that score the same pairs again and again.

Pure Python and numpy. Keys are (model, premise, hypothesis): the backend passes its model
identity (source and precision) so that a cache never returns another model's scores.
"""

import threading
from collections import OrderedDict
from typing import Any, Dict, Hashable, Optional, Tuple

import numpy as np

Key = Tuple[Hashable, str, str]


class PairCache:
    """At most `size` rows of logits, least recently used evicted first.

    size (int): Capacity in pairs; 0 disables the cache (every lookup misses, nothing is kept).

    Thread-safe: every method holds the cache's own lock (an LRU reorders on every read).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._rows: "OrderedDict[Key, np.ndarray]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __getstate__(self) -> Dict[str, Any]:
        # A lock cannot be pickled (`nlp.pipe(n_process=N)` may pickle the pipeline): a copy gets its own.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get(self, key: Key) -> Optional[np.ndarray]:
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: Key, row: np.ndarray) -> None:
        with self._lock:
            if self.size <= 0:
                return
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def resize(self, size: int) -> None:
        """Change the capacity, evicting the least recently used rows beyond it (0: clear)."""
        with self._lock:
            self.size = size
            while len(self._rows) > max(size, 0):
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self.hits = self.misses = 0

    def info(self) -> Dict[str, float]:
        """Hits, misses, hit rate, current entries and capacity."""
        with self._lock:
            total = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / total if total else 0.0,
                "entries": len(self._rows),
                "size": self.size,
            }
