"""Scores from NLI logits, exactly as transformers' ZeroShotClassificationPipeline computes them."""

from typing import Optional, Sequence

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


_EPS = 1e-12


def log_odds(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def is_close_call(
    scores: np.ndarray, margin: float, *, ranked: bool, thresholds: Optional[Sequence[float]] = None
) -> bool:
    """Whether logit errors below `margin / 2` could change a decision taken from `scores`.

    Scores are probabilities derived from logits (an exclusive softmax, or per candidate
    entailment vs contradiction); an error of e in every logit moves the log-ratio of two
    scores, and the log-odds of one score, by at most 2e. So a decision is close when

    - `ranked` (the best candidate wins): the log-ratio of the best two scores is below
      `margin` (for an exclusive softmax that is exactly the gap between their entailment
      logits);
    - `thresholds` (one per score; a candidate passes at or above its threshold): some
      score's log-odds is within `margin` of its threshold's. Thresholds of 0 or 1 and below
      or above never make a call close.

    scores (np.ndarray): Shape (n_candidates,), each in [0, 1].
    margin (float): In logits; 0 means nothing is close.
    RETURNS (bool): Whether the decision should be scored again exactly.
    """
    if margin <= 0 or scores.size == 0:
        return False
    if ranked and scores.size > 1:
        top2 = np.sort(np.clip(scores.astype(np.float64), _EPS, None))[-2:]
        if np.log(top2[1]) - np.log(top2[0]) < margin:
            return True
    if thresholds is not None:
        limits = np.asarray(thresholds, dtype=np.float64)
        inside = (limits > 0) & (limits < 1)
        if inside.any():
            distance = np.abs(log_odds(scores[inside]) - log_odds(limits[inside]))
            return bool((distance < margin).any())
    return False
