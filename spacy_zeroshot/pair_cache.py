"""An LRU cache of pair logits, for workloads that score the same pairs again and again.

Pure Python and numpy. Keys are (model, premise, hypothesis): the backend passes its model
identity (source and precision) so that a cache never returns another model's scores.
"""

from collections import OrderedDict
from typing import Dict, Hashable, Optional, Tuple

import numpy as np

Key = Tuple[Hashable, str, str]


class PairCache:
    """At most `size` rows of logits, least recently used evicted first.

    size (int): Capacity in pairs; 0 disables the cache (every lookup misses, nothing is kept).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: "OrderedDict[Key, np.ndarray]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: Key) -> Optional[np.ndarray]:
        row = self._rows.get(key)
        if row is None:
            self.misses += 1
            return None
        self._rows.move_to_end(key)
        self.hits += 1
        return row

    def put(self, key: Key, row: np.ndarray) -> None:
        if self.size <= 0:
            return
        self._rows[key] = row
        self._rows.move_to_end(key)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def resize(self, size: int) -> None:
        """Change the capacity, evicting the least recently used rows beyond it (0: clear)."""
        self.size = size
        while len(self._rows) > max(size, 0):
            self._rows.popitem(last=False)

    def clear(self) -> None:
        self._rows.clear()
        self.hits = self.misses = 0

    def info(self) -> Dict[str, float]:
        """Hits, misses, hit rate, current entries and capacity."""
        total = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / total if total else 0.0,
            "entries": len(self._rows),
            "size": self.size,
        }
