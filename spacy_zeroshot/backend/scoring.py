"""Scoring pairs: pooled, de-duplicated, cached, length-batched forward passes, and the
float32 re-check of close calls.

`PairScoring` is mixed into `model.NLIBackend`, which loads the model and provides the
members declared below (that is the contract between the two halves of the backend).
"""

import threading
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import Errors, Warnings
from ..scheduler import deduplicate, plan_batches
from .cache import PairCache
from .devices import Precision
from .encoding import Pair, PairEncoding
from .runtime import empty_device_cache, is_out_of_memory, prepare_runners, single_thread_after_fork
from .stats import ScoreStats

if TYPE_CHECKING:  # pragma: no cover
    pass


class PairScoring(PairEncoding):
    """Scoring for a backend that loads the model and provides the members below."""

    lock: "threading.RLock"
    stats: ScoreStats
    cache: PairCache
    optimize: bool
    recheck_margin: float
    _model: Any
    _runner: Any
    _exact_runner: Any
    _model_key: Tuple[Any, ...]
    _exact_key: Tuple[Any, ...]
    _stale_runners: bool
    _batching: Optional[Tuple[int, int]]
    _oom_warned: bool

    @property
    def model(self) -> Any:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def precision(self) -> Precision:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def batch_tokens(self) -> int:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def max_batch_pairs(self) -> int:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def batch_cells(self) -> Optional[int]:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    def setting(self, key: str) -> str:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    @property
    def rechecks(self) -> bool:
        """Whether tasks should re-check close calls in float32 (`recheck_margin` > 0 and a
        lossy dtype)."""
        return bool(self.recheck_margin) and self.precision.lossy

    def score(self, pairs: Sequence[Pair], *, exact: bool = False) -> np.ndarray:
        """Logits of every (premise, hypothesis) pair, pooled, de-duplicated and length-batched.

        Only the premise is truncated, to `max_length` tokens. Pairs found in the pair cache
        (when `cache_size` > 0) are not run again. All pairs are tokenized in one call.

        pairs (Sequence[Tuple[str, str]]): The pairs, in any order, repeats allowed.
        exact (bool): Run the float32 model even under a lossy dtype (needs `recheck_margin`
            > 0, which keeps a float32 model where the weights were cast).
        RETURNS (np.ndarray): float32 array (len(pairs), num_classes), in input order.
        """
        with self.lock:  # one scoring at a time: the cache, runners and statistics are shared
            if not exact:  # a re-check asks again for pairs already counted
                self.stats.add("requested", len(pairs))
            return self._score(pairs, exact)

    def _score(self, pairs: Sequence[Pair], exact: bool) -> np.ndarray:
        num_classes = int(self.model.config.num_labels)
        if not pairs:
            return np.zeros((0, num_classes), dtype=np.float32)
        exact = exact and self.precision.lossy
        if exact and self._exact_runner is None:
            raise ValueError(Errors.E254.format(setting=self.setting("recheck_margin")))
        key = self._exact_key if exact else self._model_key
        unique, inverse = deduplicate([(str(p), str(h)) for p, h in pairs])
        logits = np.empty((len(unique), num_classes), dtype=np.float32)
        todo = self._lookup(unique, logits, key)
        if todo:
            todo_pairs = [unique[i] for i in todo]
            logits[todo] = self._run(todo_pairs, num_classes, exact)
            self.stats.add("rechecked" if exact else "scored", len(todo))
            if self.cache.size:
                for i in todo:
                    self.cache.put((key, *unique[i]), logits[i].copy())
        return logits[inverse]

    def rescore_exact(self, pairs: Sequence[Pair], logits: np.ndarray, ranges: Sequence[Tuple[int, int]]) -> np.ndarray:
        """`logits` with rows [start, end) of each range scored again by the float32 model.

        pairs (Sequence[Tuple[str, str]]): The pairs `logits` belongs to.
        logits (np.ndarray): Their logits from `score`; not modified.
        ranges (Sequence[Tuple[int, int]]): Row ranges of the close calls.
        RETURNS (np.ndarray): A copy with those rows replaced.
        """
        rows = [i for start, end in ranges for i in range(start, end)]
        if not rows:
            return logits
        result = logits.copy()
        result[rows] = self.score([pairs[i] for i in rows], exact=True)
        return result

    def _lookup(self, unique: List[Pair], logits: np.ndarray, key: Tuple[Any, ...]) -> List[int]:
        """Fill cached rows of `logits`; return the positions still to run."""
        if not self.cache.size:
            return list(range(len(unique)))
        todo = []
        for i, (premise, hypothesis) in enumerate(unique):
            row = self.cache.get((key, premise, hypothesis))
            if row is None:
                todo.append(i)
            else:
                logits[i] = row
        return todo

    def _run(self, pairs: List[Pair], num_classes: int, exact: bool = False) -> np.ndarray:
        single_thread_after_fork()
        self._ensure_runners()
        features, lengths = self.encode(pairs)
        logits = np.empty((len(pairs), num_classes), dtype=np.float32)
        for batch in plan_batches(lengths, self.batch_tokens, self.max_batch_pairs, self.batch_cells):
            logits[batch] = self._forward_or_split(features, batch, lengths, exact)
        return logits

    def _forward_or_split(
        self, features: Dict[str, List[List[int]]], batch: List[int], lengths: List[int], exact: bool = False
    ) -> np.ndarray:
        """Run a batch; on an out-of-memory error, free the cache, halve it and retry.

        The pair cap is lowered for the rest of the run, so one oversized batch does not
        fail again on every later call. Only a single pair that does not fit is an error.
        """
        try:
            return self._forward(features, batch, lengths, exact)
        except RuntimeError as err:
            if not is_out_of_memory(err):
                raise
            if len(batch) == 1:
                raise RuntimeError(
                    Errors.E251.format(
                        length=lengths[batch[0]],
                        device=self.device,
                        max_length=self.setting("max_length"),
                        dtype=self.setting("dtype"),
                    )
                ) from err
        empty_device_cache(self.device)
        half = (len(batch) + 1) // 2
        assert self._batching is not None
        self._batching = (self._batching[0], max(1, min(self._batching[1], half)))
        if not self._oom_warned:
            hint = {key: self.setting(key) for key in ("max_batch_pairs", "batch_tokens")}
            warnings.warn(Warnings.W250.format(size=len(batch), half=half, device=self.device, **hint), stacklevel=2)
            self._oom_warned = True
        first = self._forward_or_split(features, batch[:half], lengths, exact)
        second = self._forward_or_split(features, batch[half:], lengths, exact)
        return np.concatenate([first, second])

    def _forward(
        self, features: Dict[str, List[List[int]]], batch: List[int], lengths: List[int], exact: bool = False
    ) -> np.ndarray:
        import torch

        from .fast_deberta import first_token_only

        inputs = self.tensors(features, batch, lengths)
        device = self.device
        autocast = None if exact else self.precision.autocast
        runner = self._exact_runner if exact else self._runner
        with torch.inference_mode(), torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            with first_token_only(runner):  # only the logits are read
                output = runner(**inputs).logits
        return output.float().cpu().numpy()

    def _ensure_runners(self) -> None:
        if not self._stale_runners:
            return
        from . import fast_deberta

        fast_deberta.disable(self._model)  # drops cached projections; re-enabled below
        runner, exact = prepare_runners(
            self._model, self.device, self.precision, self.optimize, bool(self.recheck_margin), keep_master=True
        )
        self._runner, self._exact_runner = runner, exact
        self._stale_runners = False
