"""The fine-tuning loss: -log of the score that inference reads, per gold decision.

Knows torch, not spaCy. Scores follow `maths` (transformers' ZeroShotClassificationPipeline):
an exclusive decision is a softmax of the entailment logits across options, so its loss is
the listwise cross-entropy -log softmax(entail)[gold]; an independent decision is, per
option, the softmax over [contradiction, entailment], so its loss is the 2-way
cross-entropy -t log p - (1 - t) log(1 - p) with p = sigmoid(entail - contradiction).
Only the entailment and contradiction logits enter the loss (neutral is untouched). Several
hypotheses of one option (templates) score their maximum; several windows of one premise
aggregate by "max" or "mean", as inference does. Everything is computed in log space.
"""

import math
from typing import TYPE_CHECKING, List, Sequence, Tuple

from .groups import TrainGroup

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _pool_log(values: "torch.Tensor", dim: int, aggregate: str) -> "torch.Tensor":
    """log(aggregate(exp(values))) along `dim`: max, or log-mean-exp."""
    import torch

    if aggregate == "max":
        return values.max(dim=dim).values
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def group_loss(
    logits: "torch.Tensor", group: TrainGroup, entailment: int, contradiction: int
) -> Tuple["torch.Tensor", int]:
    """The summed loss of one group's decisions, and how many decisions it holds.

    logits (torch.Tensor): Shape (len(group.pairs), n_classes), in `group.pairs` order.
    group (TrainGroup): The decision(s) and target(s).
    entailment (int): Index of the entailment class.
    contradiction (int): Index of the class it is weighed against.
    RETURNS (Tuple[torch.Tensor, int]): A scalar (sum over decisions) and the count.
    """
    import torch
    import torch.nn.functional as F

    windows = len(group.premises)
    if group.exclusive:
        entail = logits[:, entailment].reshape(windows, len(group.options))
        gold = F.log_softmax(entail.float(), dim=-1)[:, int(group.target)]  # type: ignore[arg-type]
        return -_pool_log(gold, 0, group.aggregate), 1
    margin = (logits[:, entailment] - logits[:, contradiction]).float().reshape(windows, -1)
    terms: List[torch.Tensor] = []
    column = 0
    for hyps, target in zip(group.options, group.target):  # type: ignore[arg-type]
        block = margin[:, column : column + len(hyps)]
        column += len(hyps)
        if target is None:
            continue
        # p = max over templates of sigmoid(m): log p = max log sigmoid(m); 1 - p = min (1 - sigmoid(m)).
        log_p = _pool_log(F.logsigmoid(block).max(dim=1).values, 0, group.aggregate)
        log_not = F.logsigmoid(-block).min(dim=1).values
        log_not = log_not.min() if group.aggregate == "max" else _pool_log(log_not, 0, "mean")
        t = float(target)
        terms.append(-(t * log_p + (1.0 - t) * log_not))
    if not terms:
        return logits.sum() * 0.0, 0
    return torch.stack(terms).sum(), len(terms)


def batch_loss(
    logits: "torch.Tensor", groups: Sequence[TrainGroup], entailment: int, contradiction: int
) -> Tuple["torch.Tensor", int]:
    """The mean loss over all decisions of `groups`, whose pairs are laid end to end in
    `logits` (shape (sum of len(g.pairs), n_classes)). RETURNS (loss, number of decisions)."""
    total = logits.sum() * 0.0
    count = 0
    start = 0
    for group in groups:
        n = len(group.pairs)
        loss, decisions = group_loss(logits[start : start + n], group, entailment, contradiction)
        start += n
        total = total + loss
        count += decisions
    return (total / count if count else total), count
