"""Precision modes, per-device batching, the pair cache and out-of-memory recovery."""

import numpy as np
import pytest
import spacy
import torch
from transformers import AutoModelForSequenceClassification

from spacy_zeroshot.backend import NLIBackend
from spacy_zeroshot.backend.cache import PairCache
from spacy_zeroshot.backend.devices import (
    CPU_BATCH_PAIRS,
    CPU_BATCH_TOKENS,
    CPU_BF16_BATCH_CELLS,
    CPU_BF16_BATCH_PAIRS,
    CPU_BF16_BATCH_TOKENS,
    default_batching,
    resolve_precision,
)

PAIRS = [
    ("one day I will see the world", "This example is travel."),
    ("She cooked pasta with tomatoes, garlic and basil for her family.", "This example is cooking."),
    ("Shares fell sharply after the company reported weaker profits.", "This example is business."),
    ("The team won the match and the fans celebrated in the stadium all night.", "This example is sports."),
    ("Paris is the capital of France.", "This example is travel."),
]


@pytest.fixture(scope="module")
def exact(deberta_path):
    return NLIBackend(deberta_path, device="cpu").score(PAIRS)


def test_precision_resolution_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_precision("auto", cpu) == (torch.float32, None, False)
    assert resolve_precision("auto", cuda) == (torch.float16, None, False)
    assert resolve_precision("bfloat16", cpu) == (torch.float32, torch.bfloat16, False)
    assert resolve_precision("bfloat16", cuda) == (torch.bfloat16, None, False)
    assert resolve_precision("int8", cpu) == (torch.float32, None, True)
    with pytest.raises(ValueError, match="E008"):
        resolve_precision("int8", cuda)
    with pytest.raises(ValueError, match="E008"):
        resolve_precision("float16", cpu)


@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_lossy_modes_score_close_to_float32(model_path, dtype):
    backend = NLIBackend(model_path, device="cpu", dtype=dtype)
    logits = backend.score(PAIRS)
    reference = NLIBackend(model_path, device="cpu").score(PAIRS)
    assert logits.dtype == np.float32 and logits.shape == reference.shape
    assert np.abs(logits - reference).max() < 0.25
    assert next(backend.model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_lossy_cpu_modes_run_a_copy_and_save_stock_weights(deberta_path, tmp_path, dtype):
    backend = NLIBackend(deberta_path, device="cpu", dtype=dtype).load()
    assert backend._runner is not backend.model
    assert type(backend.model.classifier) is torch.nn.Linear  # the saved model is untouched
    assert backend.model.classifier.weight.dtype == torch.float32
    # Embeddings are shared with the quantised copy, not duplicated.
    assert backend._runner.deberta.embeddings.word_embeddings.weight is backend.model.deberta.embeddings.word_embeddings.weight
    backend.save(tmp_path)
    saved = AutoModelForSequenceClassification.from_pretrained(tmp_path).state_dict()
    original = AutoModelForSequenceClassification.from_pretrained(deberta_path).state_dict()
    assert set(saved) == set(original)
    assert all(torch.equal(saved[key], original[key]) for key in original)


def test_batching_defaults_per_device(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu").load()
    assert (backend.batch_tokens, backend.max_batch_pairs) == (CPU_BATCH_TOKENS, CPU_BATCH_PAIRS)
    assert default_batching(torch.device("cpu"), backend.model.config, 4, 512) == (CPU_BATCH_TOKENS, CPU_BATCH_PAIRS)
    custom = NLIBackend(deberta_path, device="cpu", batch_tokens=100, max_batch_pairs=3).load()
    assert (custom.batch_tokens, custom.max_batch_pairs) == (100, 3)


def test_cpu_bfloat16_batches_default_to_small(deberta_path):
    """bfloat16 on the CPU defaults to 16 pairs / 2048 tokens (64 / 8192 made small calls slower on a
    quiet machine), as int8 and float32; a setting still wins."""
    bf16 = NLIBackend(deberta_path, device="cpu", dtype="bfloat16").load()
    assert (bf16.batch_tokens, bf16.max_batch_pairs) == (CPU_BF16_BATCH_TOKENS, CPU_BF16_BATCH_PAIRS) == (2048, 16)
    int8 = NLIBackend(deberta_path, device="cpu", dtype="int8").load()
    assert (int8.batch_tokens, int8.max_batch_pairs) == (CPU_BATCH_TOKENS, CPU_BATCH_PAIRS)
    custom = NLIBackend(deberta_path, device="cpu", dtype="bfloat16", max_batch_pairs=8).load()
    assert (custom.batch_tokens, custom.max_batch_pairs) == (CPU_BF16_BATCH_TOKENS, 8)
    pairs = [(f"text number {i} about travel and food", "This example is travel.") for i in range(70)]
    large = NLIBackend(deberta_path, device="cpu", dtype="bfloat16", max_batch_pairs=64, batch_tokens=8192)
    # Other batch shapes only move bfloat16 rounding (padding is masked).
    assert np.abs(bf16.score(pairs) - large.score(pairs)).max() <= 0.05


def test_cpu_bfloat16_bounds_attention_by_default_only(deberta_path):
    """Long pairs in bfloat16 batch by an attention budget (64 x 128^2 cells) unless the user sets
    `batch_tokens`; float32 and int8 have no such budget."""
    bf16 = NLIBackend(deberta_path, device="cpu", dtype="bfloat16").load()
    assert bf16.batch_cells == CPU_BF16_BATCH_CELLS == 64 * 128 * 128
    assert NLIBackend(deberta_path, device="cpu", dtype="bfloat16", batch_tokens=8192).load().batch_cells is None
    assert NLIBackend(deberta_path, device="cpu").load().batch_cells is None
    assert NLIBackend(deberta_path, device="cpu", dtype="int8").load().batch_cells is None
    pairs = [(" ".join(["word"] * 300) + f" {i}", "This example is travel.") for i in range(8)]  # truncated to 128
    whole = bf16.score(pairs)
    bf16.cache.clear()
    bf16._batch_cells = 4 * 128 * 128  # the budget the scorer reads: 4 pairs of 128 tokens
    sizes = []
    forward = bf16._forward
    bf16._forward = lambda features, batch, *rest, **kw: sizes.append(len(batch)) or forward(features, batch, *rest, **kw)
    cut = bf16.score(pairs)
    assert sizes == [4, 4]
    assert np.abs(whole - cut).max() <= 0.05  # only bfloat16 rounding moves with the batch shape


def test_backend_rejects_bad_performance_settings(deberta_path):
    with pytest.raises(ValueError, match="E250"):
        NLIBackend(deberta_path, cache_size=-1)
    with pytest.raises(ValueError, match="E013"):
        NLIBackend(deberta_path, num_threads=0)
    with pytest.raises(ValueError, match="E013"):
        NLIBackend(deberta_path, max_batch_pairs=True)


def test_num_threads_is_applied(deberta_path):
    threads = torch.get_num_threads()
    NLIBackend(deberta_path, device="cpu", num_threads=threads).load()
    assert torch.get_num_threads() == threads


def test_pair_cache_is_lru():
    cache = PairCache(2)
    cache.put(("m", "a", "x"), np.zeros(3))
    cache.put(("m", "b", "x"), np.ones(3))
    assert cache.get(("m", "a", "x")) is not None  # a is now the most recent
    cache.put(("m", "c", "x"), np.ones(3))
    assert cache.get(("m", "b", "x")) is None
    assert cache.info() == {"hits": 1, "misses": 1, "hit_rate": 0.5, "entries": 2, "size": 2}
    off = PairCache(0)
    off.put(("m", "a", "x"), np.zeros(3))
    assert len(off) == 0


def test_backend_cache_reuses_scores_and_reports_hits(deberta_path, exact):
    backend = NLIBackend(deberta_path, device="cpu", cache_size=100)
    first = backend.score(PAIRS)
    calls = []
    original = backend._forward
    backend._forward = lambda *args: calls.append(1) or original(*args)  # type: ignore[method-assign]
    second = backend.score(PAIRS[:3] + [("a new premise", "This example is travel.")])
    assert np.array_equal(second[:3], first[:3])
    assert np.abs(first - exact).max() <= 1e-5
    assert len(calls) == 1  # only the new pair ran
    info = backend.cache_info()
    assert (info["hits"], info["misses"]) == (3, 6)
    assert info["entries"] == 6
    backend.load()  # a (re)load starts a fresh cache
    assert backend.cache_info()["entries"] == 0


def test_textcat_with_cache_equals_without(make_nlp):
    config = {"labels": ["travel", "cooking", "sports"]}
    texts = ["one day I will see the world", "", "The team won the match."] * 3
    plain = make_nlp("zeroshot_textcat", config)
    cached = make_nlp("zeroshot_textcat", config, cache_size=50)
    for doc_a, doc_b in zip(plain.pipe(texts, batch_size=2), cached.pipe(texts, batch_size=2)):
        assert doc_a.cats == pytest.approx(doc_b.cats, abs=1e-5)
    assert cached.get_pipe("zeroshot_nli").backend.cache_info()["hits"] > 0


def test_nli_config_performance_settings(make_nlp):
    nlp = make_nlp(dtype="int8", cache_size=10, optimize=False, max_batch_pairs=4)
    backend = nlp.get_pipe("zeroshot_nli").backend
    assert (backend.dtype_setting, backend.cache.size, backend.optimize) == ("int8", 10, False)
    with pytest.raises(Exception, match="cache_size|E250"):
        make_nlp(cache_size=-3)
    with pytest.raises(Exception, match="E007"):
        make_nlp(dtype="int4").get_pipe("zeroshot_nli").initialize()


def _oom_when_larger_than(backend, limit, error=None):
    calls = []
    original = backend._forward

    def forward(features, batch, lengths, exact=False):
        calls.append(len(batch))
        if len(batch) > limit:
            raise error or torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(features, batch, lengths, exact)

    backend._forward = forward
    return calls


def test_out_of_memory_halves_the_batch_and_retries(deberta_path, exact):
    backend = NLIBackend(deberta_path, device="cpu", max_batch_pairs=8).load()
    calls = _oom_when_larger_than(backend, 2)
    with pytest.warns(UserWarning, match=r"W250.*Set `NLIBackend\(\.\.\., max_batch_pairs=\.\.\.\)`"):
        logits = backend.score(PAIRS)
    assert np.abs(logits - exact).max() <= 1e-5
    assert calls == [5, 3, 2, 1, 2]  # 5 -> 3 + 2, then 3 -> 2 + 1
    assert backend.max_batch_pairs == 2  # later batches start small
    calls.clear()
    backend.score(PAIRS)
    assert max(calls) <= 2


def test_out_of_memory_on_one_pair_is_a_clear_error(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu").load()
    _oom_when_larger_than(backend, 0)
    with pytest.raises(RuntimeError, match="E251"):
        backend.score(PAIRS[:1])


def test_other_runtime_errors_are_not_swallowed(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu").load()
    _oom_when_larger_than(backend, 0, RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        backend.score(PAIRS)


def test_pipeline_survives_out_of_memory(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": ["travel", "cooking", "sports"]})
    texts = ["one day I will see the world", "She cooked pasta.", "The team won."]
    expected = [doc.cats for doc in nlp.pipe(texts)]
    backend = nlp.get_pipe("zeroshot_nli").backend
    _oom_when_larger_than(backend, 1)
    with pytest.warns(UserWarning, match="W250"):
        got = [doc.cats for doc in nlp.pipe(texts)]
    for a, b in zip(got, expected):
        assert a == pytest.approx(b, abs=1e-5)


def test_spacy_load_keeps_performance_settings(make_nlp, tmp_path):
    nlp = make_nlp("zeroshot_textcat", {"labels": ["travel", "cooking"]}, dtype="int8", cache_size=5)
    doc = nlp("one day I will see the world")
    nlp.to_disk(tmp_path)
    loaded = spacy.load(tmp_path)
    backend = loaded.get_pipe("zeroshot_nli").backend
    assert backend.dtype_setting == "int8" and backend.cache.size == 5
    assert loaded("one day I will see the world").cats == pytest.approx(doc.cats, abs=1e-5)


# A fresh child process, so that the process-wide malloc settings stay out of the test process:
# a 20 MB block is served by mmap (fresh pages, faulted in on every use) before tuning, and from
# the reusable heap after it. mallinfo2().hblkhd is the memory glibc holds in mmapped blocks.
_ALLOCATOR_CHILD = """
import ctypes, json
from spacy_zeroshot.backend.runtime import tune_cpu_allocator


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]


def mmapped_by(size):
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    grown = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grown >= size


stock = mmapped_by(20 << 20)
tuned = tune_cpu_allocator()
print(json.dumps({"stock": stock, "tuned": tuned, "after": mmapped_by(20 << 20), "huge": mmapped_by(64 << 20)}))
"""


def _is_glibc_linux() -> bool:
    import ctypes
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    return hasattr(ctypes.CDLL(None), "mallinfo2")  # glibc >= 2.33


def test_tune_allocator_serves_batch_sized_blocks_from_the_reusable_heap():
    import json
    import subprocess
    import sys

    if not _is_glibc_linux():
        pytest.skip("needs glibc >= 2.33 (elsewhere the allocator is left alone)")
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR_CHILD], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"stock": True, "tuned": True, "after": False, "huge": True}


@pytest.mark.parametrize("tune", [True, False])
def test_tune_allocator_is_applied_at_load_on_the_cpu(deberta_path, monkeypatch, tune):
    import spacy_zeroshot.backend.model as backend_module

    calls = []
    monkeypatch.setattr(backend_module, "tune_cpu_allocator", lambda: calls.append(1) or True)
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu", "tune_allocator": tune})
    nlp.initialize()
    assert calls == ([1] if tune else [])


def test_tune_allocator_is_off_by_default(deberta_path, monkeypatch):
    """A library changes process-wide settings only when asked: no allocator tuning by default."""
    import spacy_zeroshot.backend.model as backend_module

    calls = []
    monkeypatch.setattr(backend_module, "tune_cpu_allocator", lambda: calls.append(1) or True)
    nlp = spacy.blank("en")
    nli = nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.initialize()
    assert calls == [] and nli.backend.tune_allocator is False
