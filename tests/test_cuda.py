"""On a CUDA machine: float32 parity with transformers' pipeline, half-precision agreement with
float32, and the out-of-memory halving for real. Skipped without CUDA (benchmarks/gpu_check.sh
runs these first)."""

import warnings

import numpy as np
import pytest
import torch

from spacy_zeroshot.backend import NLIBackend

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TEXTS = [
    "one day I will see the world",
    "She cooked pasta with tomatoes, garlic and basil for her family on Sunday.",
    "Shares fell sharply after the company reported weaker profits than expected.",
    "The team won the match and the fans celebrated in the stadium all night.",
]
LABELS = ["travel", "cooking", "sports", "business"]
TEMPLATE = "This example is {}."


def _pairs(texts=TEXTS):
    return [(text, TEMPLATE.format(label)) for text in texts for label in LABELS]


def test_cuda_float32_matches_transformers_pipeline(model_path):
    """Our textcat maths on the GPU in float32 gives the CPU pipeline's scores."""
    from transformers import pipeline

    from spacy_zeroshot import ZeroShotClassifier

    ours = ZeroShotClassifier(model_path, device="cuda", dtype="float32")
    assert ours.backend.device.type == "cuda"
    classifier = pipeline("zero-shot-classification", model=model_path, device=-1)
    for text in TEXTS:
        got = ours(text, LABELS, hypothesis_template=TEMPLATE)
        expected = classifier(text, LABELS, hypothesis_template=TEMPLATE)
        got_scores = dict(zip(got["labels"], got["scores"]))
        assert max(abs(got_scores[k] - v) for k, v in zip(expected["labels"], expected["scores"])) <= 1e-4


def test_cuda_fast_deberta_matches_stock(deberta_path):
    fast = NLIBackend(deberta_path, device="cuda", dtype="float32").score(_pairs())
    stock = NLIBackend(deberta_path, device="cuda", dtype="float32", optimize=False).score(_pairs())
    assert np.abs(fast - stock).max() <= 1e-5


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cuda_half_precision_agrees_with_float32(shared_minilm, dtype):
    """On the trained model, every decision that is not a near tie in float32 comes out the same."""
    pairs = _pairs()
    exact = NLIBackend(shared_minilm, device="cuda", dtype="float32").score(pairs)
    half_backend = NLIBackend(shared_minilm, device="cuda", dtype=dtype)
    half = half_backend.score(pairs)
    assert half_backend.model.dtype == getattr(torch, dtype)
    entail = half_backend.entailment_index
    exact_docs = exact[:, entail].reshape(len(TEXTS), len(LABELS))
    half_docs = half[:, entail].reshape(len(TEXTS), len(LABELS))
    tolerance = 0.05 if dtype == "float16" else 0.2  # logits; bfloat16 keeps 8 bits of mantissa
    assert np.abs(half - exact).max() <= tolerance
    for exact_row, half_row in zip(exact_docs, half_docs):
        top2 = np.sort(exact_row)[-2:]
        if top2[1] - top2[0] > 2 * tolerance:
            assert exact_row.argmax() == half_row.argmax()


def test_cuda_out_of_memory_halves_batches_for_real(deberta_path):
    """A batch far too big for the memory allowed raises CUDA's own out-of-memory error inside
    the backend, which halves the batch (warning W250) and gives the same logits."""
    long_texts = [" ".join([text] * 8) for text in TEXTS] * 256  # 4096 pairs of ~128 tokens
    pairs = [(text, TEMPLATE.format("travel")) for text in long_texts]
    reference = NLIBackend(deberta_path, device="cuda", dtype="float32", max_batch_pairs=64).score(pairs[:64])
    backend = NLIBackend(deberta_path, device="cuda", dtype="float32", batch_tokens=1 << 22, max_batch_pairs=4096).load()
    device = backend.device
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.empty_cache()
    used = torch.cuda.memory_allocated(device)
    torch.cuda.set_per_process_memory_fraction(min(1.0, (used + (256 << 20)) / total), device)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logits = backend.score(pairs)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
    assert any("[W250]" in str(w.message) for w in caught)
    assert backend.max_batch_pairs < 4096
    assert np.abs(logits[:64] - reference).max() <= 1e-5
