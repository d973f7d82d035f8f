"""The scoring maths against a direct transcription of transformers' zero-shot pipeline."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spacy_zeroshot.maths import candidate_scores, exclusive_scores, multilabel_scores

logit_arrays = arrays(
    np.float32, st.tuples(st.integers(1, 8), st.just(3)), elements=st.floats(-30, 30, width=32)
)


def hf_postprocess(logits: np.ndarray, multi_label: bool, entailment_id: int) -> np.ndarray:
    """transformers.pipelines.zero_shot_classification postprocess, for one sequence."""
    reshaped = logits[None]
    if multi_label or logits.shape[0] == 1:
        contradiction_id = -1 if entailment_id == 0 else 0
        entail_contr = reshaped[..., [contradiction_id, entailment_id]].astype(np.float64)
        scores = np.exp(entail_contr) / np.exp(entail_contr).sum(-1, keepdims=True)
        return scores[..., 1][0]
    entail = reshaped[..., entailment_id].astype(np.float64)
    return (np.exp(entail) / np.exp(entail).sum(-1, keepdims=True))[0]


@given(logit_arrays, st.booleans(), st.sampled_from([0, 2]))
def test_candidate_scores_match_transformers(logits, multi_label, entailment):
    contradiction = 2 if entailment == 0 else 0
    ours = candidate_scores(logits, entailment, contradiction, multi_label)
    assert np.allclose(ours, hf_postprocess(logits, multi_label, entailment), atol=1e-9)


@given(logit_arrays)
def test_exclusive_scores_sum_to_one(logits):
    assert np.isclose(exclusive_scores(logits, 0).sum(), 1.0)


@given(logit_arrays)
def test_multilabel_scores_are_probabilities(logits):
    scores = multilabel_scores(logits, 0, 2)
    assert np.all((scores >= 0) & (scores <= 1))


def test_exclusive_scores_stable_for_large_logits():
    logits = np.array([[1000.0, 0, 0], [999.0, 0, 0]], dtype=np.float32)
    scores = exclusive_scores(logits, 0)
    assert np.all(np.isfinite(scores)) and scores[0] > scores[1]
