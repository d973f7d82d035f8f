"""Balancing the negatives of independent decisions (relations): positives are not drowned.

Pure Python, no torch and no spaCy. A relation extractor scores every allowed relation of
every candidate pair on its own (entailment vs contradiction), so a corpus of a few labelled
sentences holds one positive decision per related pair against a dozen negatives, plus pairs
without any relation that are negative for every relation. Trained on all of them, the 2-way
loss mostly teaches "no". As NLI relation extraction does it (Sainz et al. 2021, "Label
Verbalization and Entailment for Effective Zero- and Few-Shot Relation Extraction", and their
a2t code), every positive is kept with `negatives_per_positive` sampled negative relations of
its pair, and a sampled share (`no_relation_sample`) of the pairs without a relation teach
`negatives_per_positive` negatives each. A new sample is drawn at every training step.
"""

import random
from typing import Any, List, Optional, Sequence

from ..errors import Errors
from .groups import TrainGroup

POSITIVE = 0.5


def check_negative_settings(negatives_per_positive: Any, no_relation_sample: Any, name: str) -> None:
    """RAISES ValueError: [E320] `negatives_per_positive` is not an int >= 0 or -1 (all);
    [E321] `no_relation_sample` is not a number in [0, 1]."""
    k = negatives_per_positive
    if isinstance(k, bool) or not isinstance(k, int) or k < -1:
        raise ValueError(Errors.E320.format(name=name, value=k))
    share = no_relation_sample
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
        raise ValueError(Errors.E321.format(name=name, value=share))


def _subset(group: TrainGroup, keep: Sequence[int]) -> TrainGroup:
    targets = list(group.target)  # type: ignore[arg-type]
    options = tuple(group.options[i] for i in keep)
    return TrainGroup(group.premises, options, False, tuple(targets[i] for i in keep), group.aggregate)


def sample_negatives(
    groups: Sequence[TrainGroup],
    *,
    negatives_per_positive: int,
    no_relation_sample: float,
    rng: Optional[random.Random] = None,
) -> List[TrainGroup]:
    """Independent groups with their negatives sampled; exclusive groups are kept as they are.

    A group with positive options (target >= 0.5) keeps them all and
    `negatives_per_positive` x (number of positives) of its negative options, drawn at
    random (all of them if it has fewer). A group without positives (an unrelated pair) is
    kept with probability `no_relation_sample`, with `negatives_per_positive` of its
    options. Options left out add nothing to the loss and are not run through the model.

    groups (Sequence[TrainGroup]): E.g. `tasks.gold.relation_groups`' groups.
    negatives_per_positive (int): Negative options per positive one; -1 keeps all of them
        (and every unrelated pair: no sampling at all).
    no_relation_sample (float): Share of the groups without a positive that are kept.
    rng (Optional[random.Random]): The random source; None: Python's `random` module, which
        `spacy train` seeds from `[system] seed`.
    RETURNS (List[TrainGroup]): The sampled groups, in input order.
    """
    if negatives_per_positive == -1:
        return list(groups)
    draw: Any = random if rng is None else rng
    sampled = []
    for group in groups:
        if group.exclusive:
            sampled.append(group)
            continue
        targets = list(group.target)  # type: ignore[arg-type]
        positives = [i for i, t in enumerate(targets) if t is not None and t >= POSITIVE]
        negatives = [i for i, t in enumerate(targets) if t is not None and t < POSITIVE]
        if positives:
            wanted = negatives_per_positive * len(positives)
        elif negatives and draw.random() < no_relation_sample:
            wanted = negatives_per_positive
        else:
            continue
        chosen = negatives if wanted >= len(negatives) else draw.sample(negatives, wanted)
        keep = sorted(positives + chosen)
        if keep:
            sampled.append(_subset(group, keep))
    return sampled
