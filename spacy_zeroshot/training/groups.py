"""What a fine-tuning step learns from: decisions as (premises, hypotheses, target) groups.

Pure Python, no torch and no spaCy. Tasks build these from gold annotations with the very
premises, hypotheses and scoring mode that they use at inference; `losses` turns them into
a loss on the model's logits.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

from ..errors import Errors

AGGREGATES = ("max", "mean")
Target = Union[int, Sequence[Optional[float]]]


@dataclass(frozen=True)
class TrainGroup:
    """One gold decision, scored exactly as inference scores it.

    premises (Sequence[str]): The premise, or the windows of a long premise (inference
        aggregates the windows' scores with `aggregate`).
    options (Sequence[Sequence[str]]): Per option (label, type, candidate, relation), its
        hypotheses; an option with several (a relation's templates) scores their maximum.
    exclusive (bool): True: one option wins, scored by a softmax of the entailment logits
        across options (each option then has exactly one hypothesis). False: every option
        is scored on its own, entailment vs contradiction.
    target (Union[int, Sequence[Optional[float]]]): Exclusive: the index of the gold option.
        Otherwise one target per option, in [0, 1], or None for an option without gold
        annotation (it adds nothing to the loss).
    aggregate (str): "max" or "mean" over the premise's windows.
    keys (Tuple[str, ...]): Optional names of the options (e.g. relation labels), for
        sampling (`negatives`); () when unnamed.
    """

    premises: Tuple[str, ...]
    options: Tuple[Tuple[str, ...], ...]
    exclusive: bool
    target: Target
    aggregate: str = "max"
    keys: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.premises or not self.options or any(not hyps for hyps in self.options):
            raise ValueError(Errors.E301.format(problem="a group needs premises, options and hypotheses"))
        if self.keys and len(self.keys) != len(self.options):
            raise ValueError(Errors.E301.format(problem="keys name the options: one key per option"))
        if self.aggregate not in AGGREGATES:
            raise ValueError(Errors.E301.format(problem=f"unknown aggregate {self.aggregate!r}"))
        if self.exclusive:
            if any(len(hyps) != 1 for hyps in self.options):
                raise ValueError(Errors.E301.format(problem="exclusive options have one hypothesis each"))
            if isinstance(self.target, bool) or not isinstance(self.target, int):
                raise ValueError(Errors.E301.format(problem=f"exclusive target must be an option index, got {self.target!r}"))
            if not 0 <= self.target < len(self.options):
                raise ValueError(Errors.E301.format(problem=f"target {self.target} is not an option index"))
        else:
            targets = list(self.target) if not isinstance(self.target, int) else None
            if targets is None or len(targets) != len(self.options):
                raise ValueError(Errors.E301.format(problem="independent targets need one value per option"))
            if any(t is not None and not 0.0 <= float(t) <= 1.0 for t in targets):
                raise ValueError(Errors.E301.format(problem=f"targets must lie in [0, 1], got {targets}"))

    @property
    def pairs(self) -> List[Tuple[str, str]]:
        """(premise, hypothesis) pairs, premise-major: every hypothesis of every option, per window."""
        return [(premise, hyp) for premise in self.premises for hyps in self.options for hyp in hyps]

    @property
    def decisions(self) -> int:
        """How many decisions the group's loss averages over: 1 if exclusive, else the
        options with a target."""
        if self.exclusive:
            return 1
        return sum(t is not None for t in self.target)  # type: ignore[union-attr]


def make_group(
    premises: Sequence[str],
    options: Sequence[Sequence[str]],
    *,
    exclusive: bool,
    gold: Optional[int] = None,
    targets: Optional[Sequence[Optional[float]]] = None,
    aggregate: str = "max",
    keys: Sequence[str] = (),
) -> Optional[TrainGroup]:
    """A group following the inference rule of transformers' zero-shot pipeline: exclusive
    scoring needs two or more options; a single option is scored entailment vs contradiction.

    gold (Optional[int]): The gold option, for an exclusive decision.
    targets (Optional[Sequence[Optional[float]]]): Per-option targets, for independent ones.
    keys (Sequence[str]): Names of the options, if any (kept on independent groups).
    RETURNS (Optional[TrainGroup]): None when nothing can be learned (no premise, no option,
        no gold option, no target).
    """
    if not premises or not options:
        return None
    premises_t = tuple(premises)
    options_t = tuple(tuple(hyps) for hyps in options)
    if exclusive:
        if gold is None:
            return None
        if len(options_t) == 1:
            return TrainGroup(premises_t, options_t, False, (1.0,), aggregate)
        return TrainGroup(premises_t, options_t, True, gold, aggregate)
    if targets is None or all(t is None for t in targets):
        return None
    return TrainGroup(premises_t, options_t, False, tuple(targets), aggregate, tuple(keys))
