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

With `hard_negatives`, when options are named (`TrainGroup.keys`, the relation labels), a
relation that holds between other mentions of the same premise is a negative this pair must
learn (above all the reverse direction of a gold relation: "B causes A" where "A causes B"
holds): it is always kept, and so is a pair that has one. Off by default: on SemEval-2010 it
lowered dev F1 (22.2 vs 29.5, docs/fewshot-relations.md).
"""

import random
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import Errors
from .groups import TrainGroup

POSITIVE = 0.5


def check_negative_settings(negatives_per_positive: Any, no_relation_sample: Any, hard_negatives: Any, name: str) -> None:
    """RAISES ValueError: [E320] `negatives_per_positive` is not an int >= 0 or -1 (all);
    [E321] `no_relation_sample` is not a number in [0, 1]; [E322] `hard_negatives` is not a bool."""
    if not isinstance(hard_negatives, bool):
        raise ValueError(Errors.E322.format(name=name, value=hard_negatives))
    k = negatives_per_positive
    if isinstance(k, bool) or not isinstance(k, int) or k < -1:
        raise ValueError(Errors.E320.format(name=name, value=k))
    share = no_relation_sample
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
        raise ValueError(Errors.E321.format(name=name, value=share))


def _subset(group: TrainGroup, keep: Sequence[int]) -> TrainGroup:
    targets = list(group.target)  # type: ignore[arg-type]
    options = tuple(group.options[i] for i in keep)
    keys = tuple(group.keys[i] for i in keep) if group.keys else ()
    return TrainGroup(group.premises, options, False, tuple(targets[i] for i in keep), group.aggregate, keys)


def _gold_keys(groups: Sequence[TrainGroup]) -> Dict[Tuple[str, ...], Set[str]]:
    """Per premise, the names of the options that are positive in some group of it."""
    found: Dict[Tuple[str, ...], Set[str]] = {}
    for group in groups:
        if group.keys and not group.exclusive:
            positive = {k for k, t in zip(group.keys, group.target) if t is not None and t >= POSITIVE}  # type: ignore[arg-type]
            found.setdefault(group.premises, set()).update(positive)
    return found


def sample_negatives(
    groups: Sequence[TrainGroup],
    *,
    negatives_per_positive: int,
    no_relation_sample: float,
    hard_negatives: bool = False,
    rng: Optional[random.Random] = None,
) -> List[TrainGroup]:
    """Independent groups with their negatives sampled; exclusive groups are kept as they are.

    A group with positive options (target >= 0.5) keeps them all and
    `negatives_per_positive` x (number of positives) of its negative options, drawn at
    random (all of them if it has fewer). A group without positives (an unrelated pair) is
    kept with probability `no_relation_sample`, with `negatives_per_positive` of its
    options. With `hard_negatives`, named options positive in another group of the same
    premise are always kept and count toward those numbers; a group holding one is always kept.
    Options left out add nothing to the loss and are not run through the model.

    groups (Sequence[TrainGroup]): E.g. the groups of `tasks.relations.RelationTask.gold_groups`.
    negatives_per_positive (int): Negative options per positive one; -1 keeps all of them
        (and every unrelated pair: no sampling at all).
    no_relation_sample (float): Share of the groups without a positive that are kept.
    hard_negatives (bool): Always keep the hard negatives (see above).
    rng (Optional[random.Random]): The random source; None: Python's `random` module, which
        `spacy train` seeds from `[system] seed`.
    RETURNS (List[TrainGroup]): The sampled groups, in input order.
    """
    if negatives_per_positive == -1:
        return list(groups)
    draw: Any = random if rng is None else rng
    gold_keys = _gold_keys(groups) if hard_negatives else {}
    sampled = []
    for group in groups:
        if group.exclusive:
            sampled.append(group)
            continue
        targets = list(group.target)  # type: ignore[arg-type]
        positives = [i for i, t in enumerate(targets) if t is not None and t >= POSITIVE]
        negatives = [i for i, t in enumerate(targets) if t is not None and t < POSITIVE]
        held = gold_keys.get(group.premises, set())
        hard = [i for i in negatives if group.keys and group.keys[i] in held]
        if positives:
            wanted = negatives_per_positive * len(positives)
        elif hard or (negatives and draw.random() < no_relation_sample):
            wanted = negatives_per_positive
        else:
            continue
        rest = [i for i in negatives if i not in hard]
        wanted = max(0, wanted - len(hard))
        chosen = hard + (rest if wanted >= len(rest) else draw.sample(rest, wanted))
        keep = sorted(positives + chosen)
        if keep:
            sampled.append(_subset(group, keep))
    return sampled
