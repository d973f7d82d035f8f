"""Ranking metrics: reciprocal rank and nDCG of a ranked list (binary or graded gains)."""

from typing import Optional, Sequence

import numpy as np


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """1 / (rank of the first relevant item) of a ranked list; 0.0 when none is relevant.

    Its mean over queries is the mean reciprocal rank (MRR; Voorhees, TREC-8 QA track, 1999).
    """
    return next((1.0 / (rank + 1) for rank, hit in enumerate(relevant) if hit), 0.0)


def ndcg(gains: Sequence[float], k: Optional[int] = None, ideal: Optional[Sequence[float]] = None) -> Optional[float]:
    """Normalised discounted cumulative gain of a ranked list, cut at `k` (Järvelin &
    Kekäläinen 2002; linear gains, discount 1 / log2(rank + 1)).

    gains (Sequence[float]): The gain (relevance) of each item, in ranked order; 1/0 for
        binary relevance.
    k (Optional[int]): Only the first k ranks count (nDCG@k); None: all.
    ideal (Optional[Sequence[float]]): The gains of every relevant item, when some of them
        are missing from the ranked list; default: `gains` themselves.
    RETURNS (Optional[float]): DCG over the DCG of the ideal order, in [0, 1]; None when no
        item has a gain.
    """
    values = np.asarray(gains, dtype=np.float64)
    best_order = np.sort(np.asarray(gains if ideal is None else ideal, dtype=np.float64))[::-1][:k]
    discounts = 1.0 / np.log2(np.arange(2, max(len(values), len(best_order)) + 2))
    best = float((best_order * discounts[: len(best_order)]).sum())
    if best <= 0:
        return None
    top = values[:k]
    return float((top * discounts[: len(top)]).sum()) / best
