"""`ZeroShotClassifier.rerank`: parity with transformers' pipeline, pooling, bad input, metrics."""

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from spacy_zeroshot import ZeroShotClassifier
from spacy_zeroshot.tasks.ranking import close_items, ndcg, ranked_order, reciprocal_rank

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOCUMENTS = [
    "one day I will see the world",
    "Shares fell sharply after the company reported weaker profits than expected.",
    "",
    "The team won the match and the fans celebrated in the stadium all night.",
    "Paris is the capital of France.",
    "😀🎉🔥",
]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def classifier(deberta_path):
    return ZeroShotClassifier(deberta_path, device="cpu")


def hf_relevance(model_path, document, query, template):
    from transformers import pipeline

    hf = pipeline("zero-shot-classification", model=model_path, device=-1)
    return hf(document, [query], hypothesis_template=template, multi_label=True)["scores"][0]


def count_backend_calls(backend, monkeypatch):
    calls = []
    score = backend.score

    def counting(pairs, **kwargs):
        calls.append(len(pairs))
        return score(pairs, **kwargs)

    monkeypatch.setattr(backend, "score", counting)
    return calls


def test_rerank_returns_documents_sorted_with_indices(classifier):
    result = classifier.rerank("travel", DOCUMENTS)
    assert set(result) == {"query", "documents", "scores", "indices"}
    assert result["query"] == "travel"
    assert sorted(result["indices"]) == list(range(len(DOCUMENTS)))
    assert result["documents"] == [DOCUMENTS[i] for i in result["indices"]]
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert all(0.0 <= s <= 1.0 for s in result["scores"])
    assert result["indices"][-1] == 2 and result["scores"][-1] == 0.0  # the empty document
    assert all(isinstance(i, int) for i in result["indices"]) and all(isinstance(s, float) for s in result["scores"])


@pytest.mark.parametrize("template", ["This text is about {}.", "The answer is {}"])
def test_rerank_matches_transformers_pipeline_multi_label(model_path, template):
    """Each reranked score equals the pipeline's multi-label score of the query as its only label."""
    classifier = ZeroShotClassifier(model_path, device="cpu")
    for query in ("travel", "the capital city of France"):
        result = classifier.rerank(query, DOCUMENTS, template=template)
        for document, score in zip(result["documents"], result["scores"]):
            if document.strip():
                assert abs(score - hf_relevance(model_path, document, query, template)) <= TOLERANCE


def test_rerank_long_document_truncates_like_transformers_with_warning(deberta_path, classifier):
    long_document = " ".join(["The team won the match and the fans celebrated."] * 60)
    with pytest.warns(UserWarning, match="W400"):
        result = classifier.rerank("sports", [long_document, "Paris is the capital of France."])
    got = result["scores"][result["indices"].index(0)]
    assert abs(got - hf_relevance(deberta_path, long_document, "sports", "This text is about {}.")) <= TOLERANCE


def test_rerank_windows_score_is_the_best_window(classifier):
    long_document = " ".join(["The team won the match."] * 40 + ["She cooked pasta with garlic."] * 40)
    backend = classifier.backend
    budget = backend.premise_budget(["This text is about cooking."])
    windows = backend.token_windows(long_document, budget, min(64, budget // 4))
    assert len(windows) > 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = classifier.rerank("cooking", [long_document], long_text="windows")
        mean = classifier.rerank("cooking", [long_document], long_text="windows", aggregate="mean")
    with warnings.catch_warnings():
        # A window re-tokenized on its own can count a token more and be cut, exactly as in the windowed call.
        warnings.simplefilter("ignore")
        alone = classifier.rerank("cooking", [long_document[s:e] for s, e in windows])["scores"]
    assert result["scores"][0] == pytest.approx(max(alone), abs=1e-6)
    assert mean["scores"][0] == pytest.approx(sum(alone) / len(alone), abs=1e-6)


def test_rerank_many_queries_pool_into_one_backend_call(classifier, monkeypatch):
    queries = ["travel", "business", "sports"]
    lists = [DOCUMENTS, DOCUMENTS[:2], ["The team won the match."]]
    expected = [classifier.rerank(q, docs) for q, docs in zip(queries, lists)]
    calls = count_backend_calls(classifier.backend, monkeypatch)
    results = classifier.rerank(queries, lists)
    assert len(calls) == 1, "every (document, query) pair of a call goes to the backend at once"
    assert calls[0] == sum(len([d for d in docs if d.strip()]) for docs in lists)
    for got, want in zip(results, expected):
        assert got["query"] == want["query"] and got["indices"] == want["indices"]
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-6)  # other batches, other padding


def test_rerank_many_queries_share_one_document_list(classifier):
    results = classifier.rerank(["travel", "business"], DOCUMENTS[:3], top_k=2)
    assert [r["query"] for r in results] == ["travel", "business"]
    for result in results:
        alone = classifier.rerank(result["query"], DOCUMENTS[:3], top_k=2)
        assert result["documents"] == alone["documents"] and result["indices"] == alone["indices"]
        assert result["scores"] == pytest.approx(alone["scores"], abs=1e-6)


def test_rerank_top_k_keeps_the_best(classifier):
    full = classifier.rerank("travel", DOCUMENTS)
    top = classifier.rerank("travel", DOCUMENTS, top_k=2)
    assert top["indices"] == full["indices"][:2] and top["scores"] == full["scores"][:2]
    assert classifier.rerank("travel", DOCUMENTS, top_k=100) == full


def test_rerank_ties_keep_input_order(classifier):
    result = classifier.rerank("travel", ["Paris is nice.", "Paris is nice.", "", ""])
    assert result["indices"] == [0, 1, 2, 3]
    assert result["scores"][0] == result["scores"][1] and result["scores"][2:] == [0.0, 0.0]


def test_rerank_empty_inputs_need_no_model(deberta_path):
    classifier = ZeroShotClassifier(deberta_path, device="cpu")
    assert classifier.rerank("travel", []) == {"query": "travel", "documents": [], "scores": [], "indices": []}
    assert classifier.rerank("travel", ["", "  "])["scores"] == [0.0, 0.0]
    assert classifier.rerank([], []) == []
    assert not classifier.backend.is_loaded


@pytest.mark.parametrize(
    "args,kwargs,code",
    [
        (("", ["a"]), {}, "E400"),
        (("   ", ["a"]), {}, "E400"),
        ((None, ["a"]), {}, "E400"),
        ((["ok", ""], ["a"]), {}, "E400"),
        (("q", "a text"), {}, "E401"),
        (("q", ["a", 3]), {}, "E401"),
        (("q", [["a"]]), {}, "E401"),
        ((["q", "r"], [["a"], "b"]), {}, "E401"),
        ((["q", "r"], [["a"]]), {}, "E402"),
        (("q", ["a"]), {"top_k": 0}, "E403"),
        (("q", ["a"]), {"top_k": True}, "E403"),
        (("q", ["a"]), {"top_k": 1.5}, "E403"),
        (("q", ["a"]), {"template": "no field"}, "E055"),
        (("q", ["a"]), {"long_text": "sentences"}, "E057"),
        (("q", ["a"]), {"aggregate": "median"}, "E057"),
    ],
)
def test_rerank_bad_input_raises_numbered_error(classifier, args, kwargs, code):
    with pytest.raises(ValueError, match=code):
        classifier.rerank(*args, **kwargs)


def test_rerank_recheck_under_lossy_dtype_gives_float32_order(deberta_path):
    exact = ZeroShotClassifier(deberta_path, device="cpu").rerank("travel", DOCUMENTS)
    lossy = ZeroShotClassifier(deberta_path, device="cpu", dtype="bfloat16")
    assert lossy.rerank("travel", DOCUMENTS)["scores"] != pytest.approx(exact["scores"], abs=1e-6)
    rechecked = ZeroShotClassifier(deberta_path, device="cpu", dtype="bfloat16", recheck_margin=1e9)
    result = rechecked.rerank("travel", DOCUMENTS)
    assert result["indices"] == exact["indices"]
    assert result["scores"] == pytest.approx(exact["scores"], abs=1e-6)
    assert rechecked.backend.stats["rechecked"] == len([d for d in DOCUMENTS if d.strip()])


def test_close_items_by_rank_and_threshold():
    scores = 1 / (1 + np.exp(-np.array([0.0, 1.0, 3.0])))  # log-odds 0, 1, 3
    assert close_items(scores, [[0, 1, 2]], 0.5 + 1e-9) == [0, 1]  # 0 and 1 are 1.0 apart (< 2 x 0.5)
    assert close_items(scores, [[0, 1, 2]], 0.5 - 1e-9) == []
    assert close_items(scores, [[0], [1], [2]], 100.0) == []  # alone in its group: no order to flip
    assert close_items(scores, [[0], [1], [2]], 1.0 + 1e-9, threshold=0.5) == [0, 1]
    assert close_items(scores, [[0, 1, 2]], 0.0) == []


def test_ranking_metrics_known_values():
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([False, False]) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ndcg([0, 1, 0, 1]) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert ndcg([0, 1, 0, 1], k=1) == 0.0
    assert ndcg([1, 1, 0, 0]) == 1.0
    assert ndcg([0, 0]) is None
    # A relevant item missing from the list still counts in the ideal ranking.
    assert ndcg([1, 0], ideal=[1, 1]) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg([0, 2, 1], k=2) == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ranked_order([0.2, 0.9, 0.2, 0.5]) == [1, 3, 0, 2]


def test_example_rerank_runs(deberta_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "rerank.py"), "--model", deberta_path, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [row["task"] for row in rows] == ["rerank", "rerank_question", "rerank_batch", "evidence"]
    for row in rows[:2]:
        assert row["scores"] == sorted(row["scores"], reverse=True)
        assert sorted(row["indices"]) == list(range(len(row["indices"])))
    assert [len(r["documents"]) for r in rows[2]["results"]] == [1, 1]
    assert len(rows[3]["evidence"]) == 2 and len(rows[3]["sentences"]) == 4


def test_example_rerank_with_trained_model(shared_minilm):
    """On the small trained model the right passage comes first (see ../shared/models/README.md)."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "rerank.py"), "--model", shared_minilm, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["task"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["rerank"]["indices"][0] == 3  # "Rising sea levels driven by global warming ..."
    assert rows["rerank_question"]["documents"][0].startswith("Kyiv is the capital")
    assert [r["documents"][0] for r in rows["rerank_batch"]["results"]] == [
        "The home team scored twice in the second half and won the cup final.",
        "Add the garlic and tomatoes to the pan and simmer the sauce for ten minutes.",
    ]
    assert rows["evidence"]["evidence"][0] == "The new bridge will cost 40 million euros and open in 2027."


def _benchmark():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "rerank_retrieval.py"
    spec = importlib.util.spec_from_file_location("rerank_retrieval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rerank_benchmark_skips_without_data(tmp_path, capsys):
    assert _benchmark().main(["--data-path", str(tmp_path / "missing.csv")]) == 0
    assert "skipping" in capsys.readouterr().out


@pytest.mark.parametrize("data", ["agnews", "trec"])
def test_rerank_benchmark_runs_on_tiny_model(deberta_path, tmp_path, capsys, data):
    module = _benchmark()
    if not module.DATASETS[data]["path"].exists():
        pytest.skip(f"../shared/data for {data} is not available")
    out_json = tmp_path / "figures.json"
    args = ["--model", deberta_path, "--data", data, "--per-class", "3", "--hf", "--json", str(out_json)]
    assert module.main(args) == 0
    out = capsys.readouterr().out
    assert "| **mean** |" in out and "pairs/s" in out and "speed-up" in out
    figures = json.loads(out_json.read_text(encoding="utf8"))
    assert figures["backend_calls_per_rerank"] == 1
    assert figures["nli_pairs"] == figures["queries"] * figures["texts"]
    assert figures["max_abs_diff_vs_hf"] <= TOLERANCE
    for key in ("mrr", "ndcg@10", "p@10", "ap"):
        assert 0.0 <= figures["mean"][key] <= 1.0 and 0.0 <= figures["random"][key] <= 1.0
