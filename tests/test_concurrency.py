"""Pipelines called from many threads at once (web servers call them from a thread pool):
the lazy load happens once, tokenization and scoring are safe, results equal sequential ones."""

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import spacy
from spacy.language import Language
from spacy.training import Example

from spacy_zeroshot import ZeroShotClassifier

THREADS = 8
ROUNDS = 3
PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "PERSON", "pattern": [{"LOWER": "barack"}, {"LOWER": "obama"}]},
    {"label": "GPE", "pattern": "California"},
    {"label": "GPE", "pattern": "Paris"},
    {"label": "GPE", "pattern": "Hawaii"},
]
TEXTS = [
    "Apple was founded by Steve Jobs in California. Paris is lovely in spring.",
    "Barack Obama was born in Hawaii and visited Paris.",
    "The team won the match and the fans celebrated all night.",
    "",
    "Apple opened a store in Paris.",
    "Steve Jobs and Barack Obama met in California.",
    "Markets fell sharply after the announcement.",
    "Paris",
]


def build(model: str, dtype: str = "float32") -> Language:
    """textcat + entity typer + relation extractor over one shared backend."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu", "dtype": dtype})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["world", "sports", "business", "technology"]})
    nlp.add_pipe(
        "zeroshot_entity_typer", config={"labels": {"ORG": ["company", "university"], "PERSON": ["politician", "inventor"]}, "threshold": 0.0}
    )
    nlp.add_pipe(
        "zeroshot_relation_extractor",
        config={"labels": {"founded_by": "{obj} founded {subj}.", "located_in": "{subj} is in {obj}."}, "threshold": 0.0},
    )
    return nlp


def annotations(doc: Any) -> Dict[str, Any]:
    return {
        "cats": dict(doc.cats),
        "ents": [(e.start_char, e.end_char, e.label_, dict(e._.zeroshot_type_scores or {})) for e in doc.ents],
        "relations": [
            (r["head"], r["tail"], r["label"], r["scores"]) for r in (doc._.relations or [])
        ],
    }


def assert_close(got: Any, want: Any, tol: float) -> None:
    if isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            assert_close(got[key], want[key], tol)
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_close(a, b, tol)
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=tol)
    else:
        assert got == want


def run_threads(call: Callable[[int], Any], n: int = THREADS) -> List[Any]:
    """`call(i)` for i in range(n) from n threads released at once; exceptions are returned."""
    barrier = threading.Barrier(n)

    def task(i: int) -> Any:
        barrier.wait()
        try:
            return call(i)
        except Exception as err:  # noqa: BLE001 - the test inspects what each thread got
            return err

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(task, range(n)))


@pytest.fixture(scope="module")
def expected(deberta_path: str) -> Dict[str, List[Dict[str, Any]]]:
    """Sequential results per dtype, from a pipeline of their own."""
    result = {}
    for dtype in ("float32", "bfloat16"):
        nlp = build(deberta_path, dtype)
        result[dtype] = [annotations(nlp(text)) for text in TEXTS]
    return result


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_concurrency_cold_pipeline_loads_once_and_matches_sequential(
    deberta_path: str, expected: Dict[str, List[Dict[str, Any]]], dtype: str
) -> None:
    for _ in range(ROUNDS):
        nlp = build(deberta_path, dtype)  # not loaded: the threads' first calls load it
        backend = nlp.get_pipe("zeroshot_nli").backend
        assert not backend.is_loaded
        results = run_threads(lambda i, nlp=nlp: annotations(nlp(TEXTS[i % len(TEXTS)])))
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        for i, got in enumerate(results):
            assert_close(got, expected[dtype][i % len(TEXTS)], 1e-6)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_concurrency_warm_pipeline_matches_sequential(
    deberta_path: str, expected: Dict[str, List[Dict[str, Any]]], dtype: str
) -> None:
    nlp = build(deberta_path, dtype)
    nlp.get_pipe("zeroshot_nli").initialize()  # loads the model (`nlp.initialize` would clear the ruler)
    assert nlp.get_pipe("zeroshot_nli").backend.is_loaded
    for _ in range(ROUNDS):
        # Each thread runs several docs, through `pipe` (pooled pairs) and calls alike.
        def work(i: int) -> List[Dict[str, Any]]:
            texts = TEXTS[i % 3 :] + TEXTS[: i % 3]
            docs = list(nlp.pipe(texts, batch_size=1 + i % 4)) if i % 2 else [nlp(t) for t in texts]
            return [annotations(doc) for doc in docs]

        results = run_threads(work)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        for i, got in enumerate(results):
            want = expected[dtype][i % 3 :] + expected[dtype][: i % 3]
            assert_close(got, want, 1e-6)


def test_concurrency_failed_load_raises_in_every_thread_then_retries(deberta_path: str, tmp_path: Path) -> None:
    missing = tmp_path / "model-not-there-yet"
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": str(missing), "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["a", "b"]})
    results = run_threads(lambda i: nlp("some text").cats)
    assert all(isinstance(r, OSError) and "[E009]" in str(r) for r in results), results
    assert not nlp.get_pipe("zeroshot_nli").backend.is_loaded
    shutil.copytree(deberta_path, missing)  # the model arrives: the next call loads it
    results = run_threads(lambda i: nlp("some text").cats)
    assert not [r for r in results if isinstance(r, Exception)]
    assert all(r == results[0] for r in results)


def test_concurrency_classifier_from_threads(deberta_path: str) -> None:
    classifier = ZeroShotClassifier(deberta_path, device="cpu", cache_size=64)
    texts = TEXTS[:4] * 2
    want = [ZeroShotClassifier(deberta_path, device="cpu")(t, ["a", "b", "c"]) for t in texts]
    for _ in range(ROUNDS):
        results = run_threads(lambda i: classifier(texts[i], ["a", "b", "c"]))
        for got, expect in zip(results, want):
            assert not isinstance(got, Exception), got
            assert got["labels"] == expect["labels"]
            assert got["scores"] == pytest.approx(expect["scores"], abs=1e-6)


def test_concurrency_training_while_serving_is_serialized(deberta_path: str) -> None:
    """Steps and calls from other threads never interleave: no errors, and once training
    stops, calls from threads equal a sequential call on the trained weights."""
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["sports", "politics"]})
    examples = [
        Example.from_dict(nlp.make_doc("The team won the match."), {"cats": {"sports": 1.0, "politics": 0.0}}),
        Example.from_dict(nlp.make_doc("The minister resigned."), {"cats": {"sports": 0.0, "politics": 1.0}}),
    ]
    optimizer = nlp.initialize(lambda: examples)
    stop = threading.Event()

    def train() -> None:
        for _ in range(4):
            nlp.update(examples, sgd=optimizer)
        stop.set()

    def serve(i: int) -> Any:
        if i == 0:
            return train()
        while not stop.is_set():
            nlp(TEXTS[i % len(TEXTS)])
        return None

    results = run_threads(serve, 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    want = nlp("The team won the match.").cats
    for got in run_threads(lambda i: nlp("The team won the match.").cats):
        assert_close(got, want, 1e-6)


def test_concurrency_audit_trail_is_per_call(deberta_path: str) -> None:
    """Each thread's docs carry their own audit trail (the recorder is a context variable)."""
    nlp = build(deberta_path)
    nlp.get_pipe("zeroshot_nli").save_io = True
    want = [nlp(text).user_data.get("zeroshot_io") for text in TEXTS]
    for _ in range(ROUNDS):
        results = run_threads(lambda i: nlp(TEXTS[i % len(TEXTS)]).user_data.get("zeroshot_io"))
        for i, got in enumerate(results):
            assert not isinstance(got, Exception), got
            assert_close(got, want[i % len(TEXTS)], 1e-6)
