"""The NLI backend: loading, label resolution, devices, dtypes, scoring."""

import subprocess
import sys

import numpy as np
import pytest

from spacy_zeroshot.backend import NLIBackend
from spacy_zeroshot.backend.labels import resolve_nli_indices


@pytest.mark.parametrize(
    "id2label,expected",
    [
        ({0: "entailment", 1: "neutral", 2: "contradiction"}, (0, 2)),
        ({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}, (2, 0)),
        ({0: "neutral", 1: "Contradiction", 2: "Entails"}, (2, 1)),
        ({0: "entailment", 1: "not_entailment"}, (0, 1)),
    ],
)
def test_resolve_nli_indices_by_name(id2label, expected):
    assert resolve_nli_indices(id2label) == expected


def test_resolve_nli_indices_missing_entailment_names_labels():
    with pytest.raises(ValueError, match=r"E001.*LABEL_0"):
        resolve_nli_indices({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_resolve_nli_indices_missing_contradiction_errors():
    with pytest.raises(ValueError, match="E002"):
        resolve_nli_indices({0: "entailment", 1: "neutral", 2: "other"})


def test_resolve_nli_indices_two_unnamed_classes_warns():
    with pytest.warns(UserWarning, match="W002"):
        assert resolve_nli_indices({0: "entailment", 1: "other"}) == (0, 1)


def test_resolve_nli_indices_overrides():
    assert resolve_nli_indices({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, 1, 0) == (1, 0)
    with pytest.raises(ValueError, match="E003"):
        resolve_nli_indices({0: "a", 1: "b"}, 5, 0)
    with pytest.raises(ValueError, match="E004"):
        resolve_nli_indices({0: "a", 1: "b"}, 1, 1)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", -2, True, 1.5])
def test_backend_rejects_unknown_device(deberta_path, device):
    with pytest.raises(ValueError, match="E005"):
        NLIBackend(deberta_path, device=device).load()


def test_backend_cuda_unavailable_is_clear(deberta_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="E006"):
        NLIBackend(deberta_path, device="cuda").load()
    with pytest.raises(ValueError, match="E006"):
        NLIBackend(deberta_path, device=0).load()


def test_backend_auto_and_int_cpu(deberta_path):
    assert NLIBackend(deberta_path, device=-1).load().device.type == "cpu"
    assert NLIBackend(deberta_path, device="auto").load().device.type in ("cpu", "cuda", "mps")


def test_backend_rejects_bad_dtype_and_settings(deberta_path):
    with pytest.raises(ValueError, match="E007"):
        NLIBackend(deberta_path, dtype="float8")
    with pytest.raises(ValueError, match="E008"):
        NLIBackend(deberta_path, device="cpu", dtype="float16").load()
    with pytest.raises(ValueError, match="E011"):
        NLIBackend(deberta_path, max_length=0)
    with pytest.raises(ValueError, match="E013"):
        NLIBackend(deberta_path, batch_tokens=0)


def test_backend_bfloat16_on_cpu_scores(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", dtype="bfloat16")
    logits = backend.score([("one day I will see the world", "This example is travel.")])
    assert logits.dtype == np.float32 and logits.shape == (1, 3)


@pytest.mark.parametrize("native", [True, False])
def test_backend_bfloat16_warns_on_a_cpu_without_bfloat16_instructions(deberta_path, monkeypatch, native):
    import warnings

    import torch

    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda native=native: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        NLIBackend(deberta_path, device="cpu", dtype="bfloat16").load()
        NLIBackend(deberta_path, device="cpu", dtype="float32").load()
    assert [str(w.message)[:6] for w in caught if "W251" in str(w.message)] == ([] if native else ["[W251]"])


def test_backend_missing_model_is_clear(tmp_path):
    with pytest.raises(OSError, match="E009"):
        NLIBackend(str(tmp_path / "nope"), device="cpu").load()


def test_backend_model_without_entailment_label(make_model):
    path = make_model("bert", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(ValueError, match=r"E001.*LABEL_1"):
        NLIBackend(path, device="cpu").load()
    backend = NLIBackend(path, device="cpu", entailment_index=2, contradiction_index=0).load()
    assert (backend.entailment_index, backend.contradiction_index) == (2, 0)


def test_backend_construction_is_lazy(tmp_path):
    backend = NLIBackend(str(tmp_path / "not-there-yet"), device="cpu")
    assert not backend.is_loaded


def test_backend_score_empty_and_order(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", max_batch_pairs=2)
    assert backend.score([]).shape == (0, 3)
    pairs = [("a short text", "It is travel."), ("a much longer text about the world and sports", "It is x."), ("a short text", "It is travel.")]
    logits = backend.score(pairs)
    assert np.array_equal(logits[0], logits[2])
    one_by_one = np.concatenate([backend.score([p]) for p in pairs])
    assert np.allclose(logits, one_by_one, atol=1e-5)


def test_backend_truncates_only_the_premise(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", max_length=24)
    long_premise = "the team won the match " * 50
    cut = backend.tokenizer.decode(
        backend.tokenizer(long_premise, add_special_tokens=False)["input_ids"][:10]
    )
    logits = backend.score([(long_premise, "It is about sports."), (cut, "It is about sports.")])
    assert logits.shape == (2, 3)


def test_backend_hypothesis_too_long_is_clear(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", max_length=8)
    with pytest.raises(ValueError, match="E012"):
        backend.score([("text", "This hypothesis is far too long for eight tokens.")])


def test_import_works_without_torch_or_transformers():
    """`import spacy_zeroshot` (factories, components, classifier) never imports torch or
    transformers: blocking both must not break it. They load with the first model."""
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import spacy_zeroshot\n"
        "from spacy_zeroshot import classifier, factories\n"
        "from spacy_zeroshot.components import base, nli, textcat\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_backend_stats_count_requested_scored_and_rechecked(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", cache_size=16)
    pairs = [("a text", "It is travel."), ("a text", "It is travel."), ("another", "It is x.")]
    backend.score(pairs)
    backend.score(pairs[:1])  # a cache hit: asked for, not run again
    assert dict(backend.stats) == {"requested": 4, "scored": 2, "rechecked": 0}
    assert "score" not in vars(backend)  # nothing wraps `score` to count


def test_backend_stats_survive_pickling_and_count_forked_workers(deberta_path):
    import multiprocessing
    import pickle

    backend = NLIBackend(deberta_path, device="cpu")
    backend.stats.add("requested", 3)
    copied = pickle.loads(pickle.dumps(backend.stats))
    assert dict(copied) == dict(backend.stats)
    copied.add("requested", 1)  # a copy counts on its own
    assert backend.stats["requested"] == 3
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("shared counts need fork")
    worker = multiprocessing.get_context("fork").Process(target=backend.stats.add, args=("scored", 5))
    worker.start()
    worker.join()
    assert backend.stats["scored"] == 5


def test_backend_settings_hint_names_the_setting_in_errors(deberta_path):
    backend = NLIBackend(deberta_path, device="cpu", settings_hint="`{key}` on 'my_nli'")
    assert backend.setting("recheck_margin") == "`recheck_margin` on 'my_nli'"
    assert NLIBackend(deberta_path).setting("dtype") == "`NLIBackend(..., dtype=...)`"


def test_backend_move_to_keeps_scores_and_reresolves_the_device(deberta_path):
    pairs = [("the team won the match", "It is about sports."), ("stocks fell", "It is about business.")]
    backend = NLIBackend(deberta_path, device="cpu")
    before = backend.score(pairs)
    backend.move_to(-1)
    assert backend.device_setting == -1 and backend.device.type == "cpu"
    assert np.allclose(backend.score(pairs), before, atol=1e-6)
    lazy = NLIBackend(deberta_path, device="cpu")
    lazy.move_to("cpu")
    assert not lazy.is_loaded and lazy.device_setting == "cpu"
    with pytest.raises(ValueError, match="E005"):
        backend.move_to("tpu")
    assert backend.device_setting == -1  # a bad device changes nothing


def test_backend_pickles_with_fresh_locks(deberta_path):
    """`nlp.pipe(n_process=N)` may pickle the pipeline: locks are made anew in the copy."""
    import pickle

    backend = NLIBackend(deberta_path, device="cpu", cache_size=4)
    backend.score([("a text", "It is travel.")])
    again = pickle.loads(pickle.dumps(backend))
    assert again.lock is not backend.lock and again.cache._lock is not backend.cache._lock
    assert np.allclose(again.score([("a text", "It is travel.")]), backend.score([("a text", "It is travel.")]))
