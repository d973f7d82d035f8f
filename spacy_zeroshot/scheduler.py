"""Pair scheduling: pool, de-duplicate, sort and cut (premise, hypothesis) pairs into batches.

Pure Python, no torch. The backend asks this module *which* pairs go together; it never
decides batching itself, so every task (text classification, entities, relations) gets the
same pooling across docs, labels, spans and candidates.
"""

from typing import Dict, Hashable, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T", bound=Hashable)


def deduplicate(items: Sequence[T]) -> Tuple[List[T], List[int]]:
    """Keep the first occurrence of each item.

    items (Sequence[T]): The items, e.g. (premise, hypothesis) pairs.
    RETURNS (Tuple[List[T], List[int]]): The unique items in first-seen order, and for every
        input position the index of its unique item (`unique[inverse[i]] == items[i]`).
    """
    index: Dict[T, int] = {}
    inverse: List[int] = []
    for item in items:
        position = index.get(item)
        if position is None:
            position = len(index)
            index[item] = position
        inverse.append(position)
    return list(index), inverse


def plan_batches(
    lengths: Sequence[int], max_tokens: int, max_pairs: int, max_cells: Optional[int] = None
) -> List[List[int]]:
    """Cut items into batches by a padded-token budget, longest items first.

    Items are sorted by length (descending, ties by position) so that each batch pads to
    nearly the same length. A batch holds at most `max_pairs` items, at most `max_tokens`
    padded tokens (its longest item's length times its size) and, with `max_cells`, at most
    that many attention cells per head (its size times the padded length squared: what one
    attention score matrix of the batch holds); an item over a budget still gets a batch of
    its own.

    lengths (Sequence[int]): Token length of each item.
    max_tokens (int): Budget of padded tokens per batch.
    max_pairs (int): Maximum number of items per batch.
    max_cells (Optional[int]): Budget of size x length^2 per batch (None: no such budget).
    RETURNS (List[List[int]]): Batches of item indices; every index appears exactly once.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: List[List[int]] = []
    current: List[int] = []
    padded_len = 0
    for i in order:
        length = max(int(lengths[i]), 1)
        width = max(padded_len, length)
        over_cells = max_cells is not None and width * width * (len(current) + 1) > max_cells
        if current and (len(current) >= max_pairs or width * (len(current) + 1) > max_tokens or over_cells):
            batches.append(current)
            current, width = [], length
        current.append(i)
        padded_len = width
    if current:
        batches.append(current)
    return batches


def row_ranges(sizes: Sequence[int]) -> List[Tuple[int, int]]:
    """Consecutive [start, end) row ranges for groups of `sizes` rows laid end to end.

    sizes (Sequence[int]): Rows per group (e.g. pairs per doc, per span, per entity pair).
    RETURNS (List[Tuple[int, int]]): One range per group, in order; empty groups get (n, n).
    """
    ranges: List[Tuple[int, int]] = []
    start = 0
    for size in sizes:
        ranges.append((start, start + size))
        start += size
    return ranges
