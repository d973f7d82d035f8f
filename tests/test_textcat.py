"""The zeroshot_textcat component: spaCy's component contract, bad input, long texts."""

import subprocess
import sys
import warnings

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import ConfigValidationError

TEXTS = [
    "one day I will see the world",
    "",
    "She cooked pasta with tomatoes, garlic and basil for her family on Sunday.",
    "   ",
    "The team won the match and the fans celebrated in the stadium all night.",
    "😀🎉🔥",
]
LABELS = ["travel", "cooking", "sports"]


@pytest.fixture
def nlp(make_nlp):
    return make_nlp("zeroshot_textcat", {"labels": LABELS})


def assert_cats_equal(a, b, abs_tol=1e-5):
    assert set(a) == set(b)
    assert all(abs(a[k] - b[k]) <= abs_tol for k in a)


def test_textcat_works_after_add_pipe(nlp):
    doc = nlp("one day I will see the world")
    assert set(doc.cats) == set(LABELS)
    assert sum(doc.cats.values()) == pytest.approx(1.0)
    assert doc._.zeroshot_truncated is False


def test_textcat_multi_label_scores_independent(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "multi_label": True})
    doc = nlp("one day I will see the world")
    assert all(0.0 <= v <= 1.0 for v in doc.cats.values())
    assert sum(doc.cats.values()) != pytest.approx(1.0)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_textcat_pipe_equals_call(nlp, batch_size):
    expected = [nlp(text).cats for text in TEXTS]
    for doc, cats in zip(nlp.pipe(TEXTS, batch_size=batch_size), expected):
        assert_cats_equal(doc.cats, cats)


def test_textcat_empty_docs_get_zero_without_model_call(nlp):
    backend = nlp.get_pipe("zeroshot_nli").backend
    doc = nlp("")
    assert doc.cats == {label: 0.0 for label in LABELS}
    assert not backend.is_loaded, "an empty doc must not load or call the model"
    assert nlp("  \n\t ").cats == {label: 0.0 for label in LABELS}


def test_textcat_emoji_doc_scores(nlp):
    doc = nlp("😀🎉🔥")
    assert sum(doc.cats.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "config,code",
    [
        ({"labels": []}, "E052"),
        ({"labels": ["a", "b", "a"]}, "E053"),
        ({"labels": ["a", ""]}, "E054"),
        ({"labels": {"a": ""}}, "E056"),
        ({"labels": ["a"], "hypothesis_template": "no placeholder"}, "E055"),
        ({"labels": ["a"], "hypothesis_template": "{} and {}"}, "E055"),
        ({"labels": ["a"], "hypothesis_template": "{label} here"}, "E055"),
        ({"labels": ["a"], "hypothesis_template": "broken {"}, "E055"),
        ({"labels": ["a"], "threshold": 1.5}, "E058"),
        ({"labels": ["a"], "long_text": "ignore"}, "E057"),
        ({"labels": ["a"], "aggregate": "median"}, "E057"),
    ],
)
def test_textcat_bad_config_raises_numbered_error(make_nlp, config, code):
    with pytest.raises(ValueError, match=code):
        make_nlp("zeroshot_textcat", config)


@pytest.mark.parametrize("config", [{"labels": ["x"], "multi_label": "maybe"}, {"labels": ["a"], "threshold": "high"}, {"labels": 3}])
def test_textcat_bad_config_types_fail_validation(make_nlp, config):
    with pytest.raises(ConfigValidationError):
        make_nlp("zeroshot_textcat", config)


def test_nli_bad_config_types_fail_validation():
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValidationError):
        nlp.add_pipe("zeroshot_nli", config={"batch_tokens": "many"})


def test_textcat_without_nli_component_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    with pytest.raises(ValueError, match="E050"):
        nlp("text")


def test_textcat_with_nli_after_it_raises(deberta_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    with pytest.raises(ValueError, match="E051"):
        nlp("text")


def test_textcat_finds_renamed_nli_component(deberta_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", name="nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    assert set(nlp("one day I will see the world").cats) == set(LABELS)


def test_textcat_backend_is_shared(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS})
    nlp.add_pipe("zeroshot_textcat", name="textcat_ml", config={"labels": ["joy", "anger"], "multi_label": True})
    a, b = nlp.get_pipe("zeroshot_textcat"), nlp.get_pipe("textcat_ml")
    assert a.backend is b.backend is nlp.get_pipe("zeroshot_nli").backend
    doc = nlp("one day I will see the world")
    assert set(doc.cats) == set(LABELS) | {"joy", "anger"}


def test_textcat_to_disk_and_load_offline(nlp, tmp_path, monkeypatch):
    docs = [nlp(text) for text in TEXTS]
    nlp.to_disk(tmp_path / "pipeline")
    model_dir = tmp_path / "pipeline" / "zeroshot_nli" / "model"
    assert (model_dir / "config.json").exists()
    assert list(model_dir.glob("*.safetensors")) or list(model_dir.glob("*.bin"))
    weights = [p for p in (tmp_path / "pipeline").rglob("*") if p.suffix == ".safetensors" or p.name == "pytorch_model.bin"]
    assert len(weights) == 1, "the weights are stored exactly once"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reloaded = spacy.load(tmp_path / "pipeline")
    assert reloaded.pipe_names == nlp.pipe_names
    for doc, text in zip(docs, TEXTS):
        assert reloaded(text).cats == doc.cats


def test_textcat_load_survives_moved_model_source(nlp, tmp_path, deberta_path):
    """The saved pipeline holds its own copy: its config's model id is never read again."""
    nlp.to_disk(tmp_path / "p")
    reloaded = spacy.load(tmp_path / "p", config={"components": {"zeroshot_nli": {"model": "no/such-model"}}})
    assert reloaded(TEXTS[0]).cats == nlp(TEXTS[0]).cats


def test_textcat_to_bytes_roundtrip(nlp, deberta_path):
    expected = nlp(TEXTS[0]).cats
    data = nlp.to_bytes()
    fresh = spacy.blank("en")
    fresh.add_pipe("zeroshot_nli", config={"model": "not/used", "device": "cpu"})
    fresh.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    fresh.from_bytes(data)
    assert fresh(TEXTS[0]).cats == expected


def test_textcat_docbin_roundtrip(nlp):
    docs = list(nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    for a, b in zip(docs, restored):
        assert a.cats == b.cats
        assert a._.zeroshot_truncated == b._.zeroshot_truncated


@pytest.mark.parametrize("multi_label", [False, True])
def test_textcat_evaluate_reports_cats_scores(make_nlp, multi_label):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "multi_label": multi_label})
    examples = []
    for text, gold in [("one day I will see the world", "travel"), ("She cooked pasta", "cooking")]:
        cats = {label: float(label == gold) for label in LABELS}
        examples.append(Example.from_dict(nlp.make_doc(text), {"cats": cats}))
    scores = nlp.evaluate(examples)
    for key in ("cats_score", "cats_micro_f", "cats_macro_f", "cats_macro_auc", "cats_f_per_type"):
        assert key in scores
    assert 0.0 <= scores["cats_score"] <= 1.0


def test_textcat_evaluate_exclusive_uses_argmax(make_nlp):
    """In exclusive mode the best label wins even below 0.5 (three labels rarely reach it)."""
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS})
    doc = nlp("one day I will see the world")
    best = max(doc.cats, key=doc.cats.get)
    assert doc.cats[best] < 0.5
    gold = {label: float(label == best) for label in LABELS}
    scores = nlp.evaluate([Example.from_dict(nlp.make_doc(doc.text), {"cats": gold})])
    assert scores["cats_micro_f"] == 1.0


def test_textcat_long_doc_truncates_with_flag_and_warning(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS})
    long_text = " ".join(["The team won the match and the fans celebrated."] * 2500)  # ~20,000 words
    with pytest.warns(UserWarning, match="W001"):
        doc = nlp(long_text)
    assert doc._.zeroshot_truncated is True
    assert sum(doc.cats.values()) == pytest.approx(1.0)
    # Our W001 only: the tokenizer's "will result in indexing errors" message would be wrong here.
    flags = nlp.get_pipe("zeroshot_nli").backend.tokenizer.deprecation_warnings
    assert not flags.get("sequence-length-is-longer-than-the-specified-maximum")


def test_textcat_long_doc_windows_reads_everything(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "long_text": "windows", "aggregate": "mean"})
    textcat = nlp.get_pipe("zeroshot_textcat")
    long_text = " ".join(["The team won the match."] * 100 + ["She cooked pasta with garlic."] * 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = nlp(long_text)
    assert doc._.zeroshot_truncated is False
    assert sum(doc.cats.values()) == pytest.approx(1.0)
    budget = textcat.backend.premise_budget(textcat.hypotheses)
    spans = textcat.backend.token_windows(long_text, budget, 16)
    assert len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] >= len(long_text.rstrip()) - 1


def test_textcat_window_max_scores_bounded_by_windows(make_nlp):
    """With "max", a label's score is its best window's score: the last window alone counts."""
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "long_text": "windows", "multi_label": True})
    text = " ".join(["The team won the match."] * 150)
    doc = nlp(text)
    short = nlp("The team won the match.")
    assert all(0.0 <= doc.cats[k] <= 1.0 for k in LABELS)
    assert set(doc.cats) == set(short.cats)


def test_textcat_sentences_need_boundaries(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "long_text": "sentences"})
    with pytest.raises(ValueError, match="E059"):
        nlp("The team won. She cooked pasta.")


def test_textcat_sentences_strategy(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "long_text": "sentences"})
    nlp.add_pipe("sentencizer", first=True)
    short = nlp("The team won the match.")
    assert sum(short.cats.values()) == pytest.approx(1.0)
    doc = nlp(" ".join(["The team won the match."] * 150))
    assert doc._.zeroshot_truncated is False
    assert sum(doc.cats.values()) > 0.0


def test_textcat_runs_beside_spacy_transformers(deberta_path, bert_path):
    """Our components share a pipeline (and the CPU) with a spacy-transformers component."""
    pytest.importorskip("spacy_transformers")
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "transformer",
        config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": bert_path}},
    )
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.initialize()
    doc = nlp("one day I will see the world")
    assert doc._.trf_data is not None
    assert set(doc.cats) == set(LABELS)


def test_textcat_pipe_n_process_after_parent_used_model(deberta_path, tmp_path):
    """`nlp.pipe(n_process=2)` after the parent ran the model must not deadlock in torch's
    forked thread pool, and must give the parent's scores. Run in a subprocess with a timeout."""
    script = tmp_path / "fork.py"
    script.write_text(
        "import json, sys, spacy\n"
        "nlp = spacy.blank('en')\n"
        f"nlp.add_pipe('zeroshot_nli', config={{'model': {deberta_path!r}, 'device': 'cpu'}})\n"
        "nlp.add_pipe('zeroshot_textcat', config={'labels': ['travel', 'cooking', 'sports']})\n"
        "texts = ['one day I will see the world %d' % i for i in range(24)]\n"
        "ref = [d.cats for d in nlp.pipe(texts)]\n"
        "out = [d.cats for d in nlp.pipe(texts, n_process=2, batch_size=4)]\n"
        "print(json.dumps(max(abs(a[k] - b[k]) for a, b in zip(ref, out) for k in a)))\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) <= 1e-5
