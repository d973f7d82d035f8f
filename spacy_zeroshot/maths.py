"""Scores from NLI logits, exactly as transformers' ZeroShotClassificationPipeline computes them."""

import numpy as np


def exclusive_scores(logits: np.ndarray, entailment: int) -> np.ndarray:
    """Softmax of the entailment logits across the candidates (the last-but-one axis).

    logits (np.ndarray): Shape (..., n_candidates, n_classes).
    entailment (int): Index of the entailment class.
    RETURNS (np.ndarray): Shape (..., n_candidates), summing to 1 over candidates.
    """
    entail = logits[..., entailment].astype(np.float64)
    entail = entail - entail.max(axis=-1, keepdims=True)
    exp = np.exp(entail)
    return exp / exp.sum(axis=-1, keepdims=True)


def multilabel_scores(logits: np.ndarray, entailment: int, contradiction: int) -> np.ndarray:
    """Per candidate, the softmax over [contradiction, entailment]: P(entailment).

    logits (np.ndarray): Shape (..., n_classes).
    entailment (int): Index of the entailment class.
    contradiction (int): Index of the class it is weighed against.
    RETURNS (np.ndarray): Shape (...), each in [0, 1].
    """
    diff = logits[..., entailment].astype(np.float64) - logits[..., contradiction].astype(np.float64)
    return 1.0 / (1.0 + np.exp(-diff))


def candidate_scores(logits: np.ndarray, entailment: int, contradiction: int, multi_label: bool) -> np.ndarray:
    """The zero-shot pipeline's rule: exclusive softmax, unless multi-label or a single candidate.

    logits (np.ndarray): Shape (n_candidates, n_classes) for one premise.
    RETURNS (np.ndarray): Shape (n_candidates,).
    """
    if multi_label or logits.shape[0] == 1:
        return multilabel_scores(logits, entailment, contradiction)
    return exclusive_scores(logits, entailment)
