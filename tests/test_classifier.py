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


# Per-text candidate label sets ----------------------------------------------------------

PER_TEXT = [
    ("one day I will see the world", ["travel", "cooking", "dancing"]),
    ("What is the capital city of Ukraine?", ["Kyiv", "London", "Berlin", "Warsaw"]),
    ("", ["a", "b"]),
    ("Shares fell sharply after the company reported weaker profits.", ["business"]),
    ("The team won the match and the fans celebrated in the stadium all night. " * 40, ["sports", "politics"]),
    ("one day I will see the world", ["travel", "cooking", "dancing"]),
]


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("long_text", ["truncate", "windows"])
def test_classifier_per_text_label_sets_equal_text_by_text_in_one_call(classifier, monkeypatch, multi_label, long_text):
    texts = [text for text, _ in PER_TEXT]
    label_sets = [labels for _, labels in PER_TEXT]
    options = {"multi_label": multi_label, "long_text": long_text, "hypothesis_template": "It is about {}."}
    alone = [classifier(text, labels, **options) for text, labels in PER_TEXT]
    calls = []
    original = classifier.backend.score
    monkeypatch.setattr(classifier.backend, "score", lambda pairs, **kw: calls.append(len(pairs)) or original(pairs, **kw))
    pooled = classifier(texts, label_sets, **options)
    assert len(calls) == 1, "every text's pairs go to the backend in one call"
    scored = sum(len(labels) for text, labels in PER_TEXT if text.strip())
    # The repeated text's pairs are de-duplicated by the backend, not here; windows add pairs.
    assert calls[0] == scored if long_text == "truncate" else calls[0] > scored
    for got, want in zip(pooled, alone):
        assert got["sequence"] == want["sequence"]
        assert sorted(got["labels"]) == sorted(want["labels"])
        got_scores = dict(zip(got["labels"], got["scores"]))
        want_scores = dict(zip(want["labels"], want["scores"]))
        assert all(abs(got_scores[k] - want_scores[k]) <= 1e-6 for k in want_scores)


def test_classifier_per_text_label_sets_on_a_trained_model(shared_minilm):
    classifier = ZeroShotClassifier(shared_minilm, device="cpu")
    texts = ["The striker scored twice in the final.", "Stocks fell after the company reported lower profits."]
    sets = [["sports", "cooking"], ["business", "sports", "science"]]
    pooled = classifier(texts, sets)
    assert [r["labels"][0] for r in pooled] == ["sports", "business"]
    for result, text, labels in zip(pooled, texts, sets):
        alone = classifier(text, labels)
        assert result["labels"] == alone["labels"]
        assert result["scores"] == pytest.approx(alone["scores"], abs=1e-6)


@pytest.mark.parametrize(
    "texts,labels,code",
    [
        (["a", "b"], [["x", "y"]], "E016"),
        ("a", [["x"], ["y"]], "E016"),
        (["a", "b"], [["x", "y"], "z"], "E017"),
        (["a", "b"], [["x", "y"], []], "E060"),
        (["a", "b"], [["x", "x"], ["y"]], "E053"),
        (["a", "b"], [["x"], [["nested"]]], "E054"),
        ("a", [["x"], 5], "E017"),
    ],
)
def test_classifier_per_text_label_sets_bad_input(classifier, texts, labels, code):
    with pytest.raises(ValueError, match=code):
        classifier(texts, labels)


# Error messages name the setting as the caller spells it ----------------------------------


def test_classifier_missing_entailment_label_names_its_own_keyword(make_model):
    path = make_model("deberta", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(ValueError, match=r"E001.*LABEL_0.*Set `ZeroShotClassifier\(\.\.\., entailment_index=\.\.\.\)`"):
        ZeroShotClassifier(path, device="cpu")("text", ["a", "b"])
    with pytest.raises(ValueError, match=r"E001.*Set `entailment_index` on the 'my_nli' component"):
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("zeroshot_nli", name="my_nli", config={"model": path, "device": "cpu"})
        nlp.add_pipe("zeroshot_textcat", config={"labels": ["a", "b"], "nli_component": "my_nli"})
        nlp("text")


@pytest.mark.parametrize(
    "template,problem",
    [
        ("{0}", r"'\{0\}' \(a positional index\)"),
        ("{label} is it", r"'\{label\}' \(a named field\)"),
        ("{} and {}", r"it has '\{\}', '\{\}'"),
        ("no placeholder", "it has no placeholder"),
        ("broken {", "braces do not match"),
    ],
)
def test_classifier_bad_template_says_what_is_wrong(classifier, template, problem):
    with pytest.raises(ValueError, match=rf"E055.*{problem}.*exactly one empty placeholder"):
        classifier("text", ["a"], hypothesis_template=template)


def test_classifier_long_text_does_not_print_the_tokenizers_length_message(deberta_path, capfd):
    """Counting the tokens of a long text is the library's business; the tokenizer's "will result in
    indexing errors" message would be wrong (the text is truncated or windowed)."""
    classifier = ZeroShotClassifier(deberta_path, device="cpu")
    long_text = "The team won the match and the fans celebrated. " * 200
    for long_text_mode in ("truncate", "windows"):
        classifier(long_text, ["sports", "politics"], long_text=long_text_mode)
    assert "Token indices sequence length" not in capfd.readouterr().err
    flags = classifier.backend.tokenizer.deprecation_warnings
    assert not flags.get("sequence-length-is-longer-than-the-specified-maximum")
