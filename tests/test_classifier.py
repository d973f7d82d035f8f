"""The plain ZeroShotClassifier (transformers' pipeline call shape) and examples/classify.py."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import spacy_zeroshot
from spacy_zeroshot import ZeroShotClassifier

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def classifier(deberta_path):
    return ZeroShotClassifier(deberta_path, device="cpu")


def test_classifier_single_text_returns_dict(classifier):
    result = classifier("one day I will see the world", ["travel", "cooking", "dancing"])
    assert set(result) == {"sequence", "labels", "scores"}
    assert sorted(result["labels"]) == ["cooking", "dancing", "travel"]
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert sum(result["scores"]) == pytest.approx(1.0)


def test_classifier_list_and_comma_separated_labels(classifier):
    results = classifier(["a text", "another text"], "travel, cooking")
    assert isinstance(results, list) and len(results) == 2
    assert all(sorted(r["labels"]) == ["cooking", "travel"] for r in results)


def test_classifier_shares_a_backend(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": ["travel", "cooking"]})
    backend = nlp.get_pipe("zeroshot_nli").backend
    classifier = ZeroShotClassifier(backend)
    assert classifier.backend is backend
    result = classifier("one day I will see the world", ["travel", "cooking"])
    doc = nlp("one day I will see the world")
    assert dict(zip(result["labels"], result["scores"])) == pytest.approx(doc.cats, abs=1e-9)


def test_classifier_pipeline_shortcut(deberta_path):
    classifier = spacy_zeroshot.pipeline(deberta_path, device="cpu")
    assert classifier("hello", ["a", "b"])["sequence"] == "hello"


def test_classifier_empty_text_scores_zero(classifier):
    result = classifier("", ["a", "b"])
    assert result["scores"] == [0.0, 0.0]


@pytest.mark.parametrize(
    "args,kwargs,code",
    [
        (("text", []), {}, "E060"),
        (("text", ""), {}, "E060"),
        (("text", ["a", "a"]), {}, "E053"),
        (("text", ["a"]), {"hypothesis_template": "no field"}, "E055"),
        ((42, ["a"]), {}, "E061"),
        ((["ok", None], ["a"]), {}, "E061"),
        (("text", ["a"]), {"long_text": "drop"}, "E057"),
    ],
)
def test_classifier_bad_input_raises_numbered_error(classifier, args, kwargs, code):
    with pytest.raises(ValueError, match=code):
        classifier(*args, **kwargs)


def test_example_classify_runs_and_prints_results(deberta_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "classify.py"), "--model", deberta_path, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    tasks = [row["task"] for row in rows]
    assert tasks == [
        "spacy_exclusive",
        "spacy_multi_label",
        "classification",
        "multi_label",
        "open_qa",
        "reading_comprehension",
        "yes_no",
    ]
    expected_labels = {
        "spacy_exclusive": {"travel", "cooking", "dancing"},
        "spacy_multi_label": {"travel", "cooking", "dancing", "exploration"},
        "open_qa": {"Kyiv", "London", "Berlin", "Warsaw"},
        "yes_no": {"yes", "no"},
    }
    for row in rows:
        assert row["scores"] == sorted(row["scores"], reverse=True)
        assert all(0.0 <= s <= 1.0 for s in row["scores"])
        if row["task"] in expected_labels:
            assert set(row["labels"]) == expected_labels[row["task"]]
        if "multi" not in row["task"]:
            assert sum(row["scores"]) == pytest.approx(1.0)
    # The spaCy component and the plain classifier are the same engine.
    assert rows[0]["scores"] == pytest.approx(rows[2]["scores"], abs=1e-9)


def test_example_classify_with_trained_model(shared_minilm):
    """Smoke run on the small trained model: sensible answers (see ../shared/models/README.md)."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "classify.py"), "--model", shared_minilm, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["task"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["classification"]["labels"][0] == "travel"
    assert rows["open_qa"]["labels"][0] == "Kyiv"
