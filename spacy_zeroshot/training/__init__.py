"""Few-shot fine-tuning of the shared NLI model (knows torch, not spaCy).

`groups` describes gold decisions, `losses` scores them as inference does, `trainer` runs
the differentiable forward pass and the optimizer steps. torch is imported lazily.
"""

from .groups import TrainGroup, make_group
from .trainer import NLITrainer, StepSettings

__all__ = ["NLITrainer", "StepSettings", "TrainGroup", "make_group"]
