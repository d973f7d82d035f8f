"""The zeroshot_span_ranker component: spaCy's component contract, queries, span groups, scores."""

import copy
import math
import subprocess
import sys
import warnings

import pytest
import spacy
import srsly
from confection import Config
from spacy.tokens import DocBin, Span
from spacy.training import Example
from spacy.util import load_model_from_config
from thinc.api import ConfigValidationError

from spacy_zeroshot import ZeroShotClassifier

ARTICLE = (
    "Paris is the capital of France. Shares fell sharply after the company reported weaker profits. "
    "The team won the match and the fans celebrated. She cooked pasta with garlic."
)
TEXTS = [ARTICLE, "", "one day I will see the world", "   ", "Shares fell. The team won. 😀🎉🔥", "Kyiv."]
QUERY = "travel"
HOSTILE = [
    "$", "$$", "costs $5", "$ {x}", "{x}", "{}", "%", "100%", "#comment", "a;b", "\"quoted\"", "it's",
    "back\\slash", "new\nline", "tab\there", "[section]", "key = value", "  spaces  ", "café ß 東京",
    "😀🎉", "null", "1e3", "true",
]  # fmt: skip
HOSTILE_TEMPLATE = " $ $$ % # ; \"'\\ \n\t[s] k = v é 😀 {} null 1e3 true "


def build(make_nlp, sentencizer=True, **config):
    nlp = make_nlp("zeroshot_span_ranker", {"query": QUERY, **config})
    if sentencizer:
        nlp.add_pipe("sentencizer", first=True)
    return nlp


def annotations(doc, key="ranked"):
    """What the component wrote: every span extension value, and the output group."""
    group = doc.spans[key] if key in doc.spans else []
    return (
        {k: v for k, v in doc.user_data.items() if isinstance(k, tuple) and k[1] == "zeroshot_relevance"},
        [(s.start, s.end, s.label_, s.kb_id_) for s in group],
        dict(doc.spans[key].attrs) if key in doc.spans else None,
    )


def test_span_ranker_works_after_add_pipe(make_nlp):
    doc = build(make_nlp)(ARTICLE)
    sentences = list(doc.sents)
    scores = [s._.zeroshot_relevance for s in sentences]
    assert len(sentences) == 4 and all(0.0 <= s <= 1.0 for s in scores)
    ranked = doc.spans["ranked"]
    assert ranked.attrs == {"query": QUERY}
    assert [s._.zeroshot_relevance for s in ranked] == sorted(scores, reverse=True)
    assert sorted((s.start, s.end) for s in ranked) == [(s.start, s.end) for s in sentences]


def test_span_ranker_scores_equal_rerank_of_the_sentences(make_nlp):
    """The component and `ZeroShotClassifier.rerank` (tested against transformers) are one engine."""
    nlp = build(make_nlp, hypothesis_template="The text is about {}")
    doc = nlp(ARTICLE)
    result = ZeroShotClassifier(nlp.get_pipe("zeroshot_nli").backend).rerank(
        QUERY, [s.text for s in doc.sents], template="The text is about {}"
    )
    assert [s.text for s in doc.spans["ranked"]] == result["documents"]
    assert [s._.zeroshot_relevance for s in doc.spans["ranked"]] == pytest.approx(result["scores"], abs=1e-6)


def test_span_ranker_top_k_and_threshold_select_the_group(make_nlp):
    full = build(make_nlp)(ARTICLE)
    scores = sorted((s._.zeroshot_relevance for s in full.sents), reverse=True)
    top = build(make_nlp, top_k=2)(ARTICLE)
    assert [s.text for s in top.spans["ranked"]] == [s.text for s in full.spans["ranked"]][:2]
    cut = (scores[1] + scores[2]) / 2
    above = build(make_nlp, threshold=cut)(ARTICLE)
    assert [s._.zeroshot_relevance for s in above.spans["ranked"]] == scores[:2]
    assert all(s._.zeroshot_relevance is not None for s in above.sents), "every span keeps its score"
    assert len(build(make_nlp, threshold=cut, top_k=1)(ARTICLE).spans["ranked"]) == 1


def test_span_ranker_ranks_a_span_group_and_keeps_labels(make_nlp):
    nlp = build(make_nlp, sentencizer=False, spans_key="passages", output_key="best", top_k=2)
    doc = nlp.make_doc(ARTICLE)
    doc.spans["passages"] = [Span(doc, 0, 7, label="A", kb_id="Q1"), Span(doc, 7, 16, label="B"), doc[16:]]
    doc = nlp(doc)
    assert all(0.0 <= s._.zeroshot_relevance <= 1.0 for s in doc.spans["passages"])
    best = doc.spans["best"]
    assert len(best) == 2 and "ranked" not in doc.spans
    by_start = {s.start: (s.label_, s.kb_id_) for s in doc.spans["passages"]}
    assert all((s.label_, s.kb_id_) == by_start[s.start] for s in best)
    # A doc without the group ranks nothing and gets an empty group.
    other = nlp("The team won the match.")
    assert list(other.spans["best"]) == []


def test_span_ranker_output_group_may_replace_its_input(make_nlp):
    nlp = build(make_nlp, sentencizer=False, spans_key="sc", output_key="sc", top_k=1)
    doc = nlp.make_doc(ARTICLE)
    doc.spans["sc"] = [doc[0:7], doc[7:16]]
    predictions = nlp.get_pipe("zeroshot_span_ranker").predict([doc])
    ranker = nlp.get_pipe("zeroshot_span_ranker")
    ranker.set_annotations([doc], predictions)
    once = annotations(doc, "sc")
    ranker.set_annotations([doc], predictions)
    assert annotations(doc, "sc") == once and len(doc.spans["sc"]) == 1


def test_span_ranker_doc_query_overrides_the_config(make_nlp):
    nlp = build(make_nlp)
    doc = nlp.make_doc(ARTICLE)
    doc._.zeroshot_query = "cooking"
    doc = nlp(doc)
    assert doc.spans["ranked"].attrs == {"query": "cooking"}
    expected = build(make_nlp, query="cooking")(ARTICLE)
    assert annotations(doc) == annotations(expected)


def test_span_ranker_without_query_or_bad_doc_query_raises(make_nlp):
    nlp = make_nlp("zeroshot_span_ranker")
    nlp.add_pipe("sentencizer", first=True)
    with pytest.raises(ValueError, match="E404"):
        nlp(ARTICLE)
    doc = nlp.make_doc(ARTICLE)
    doc._.zeroshot_query = "cooking"
    assert nlp(doc).spans["ranked"].attrs == {"query": "cooking"}
    for bad in ("", "  ", 42):
        doc = nlp.make_doc(ARTICLE)
        doc._.zeroshot_query = bad
        with pytest.raises(ValueError, match="E400"):
            nlp(doc)


def test_span_ranker_needs_sentence_boundaries(make_nlp):
    nlp = build(make_nlp, sentencizer=False)
    with pytest.raises(ValueError, match="E405"):
        nlp(ARTICLE)
    doc = nlp("Kyiv")  # one token is one sentence
    assert [s.text for s in doc.spans["ranked"]] == ["Kyiv"]


def test_span_ranker_empty_docs_need_no_model(make_nlp):
    nlp = build(make_nlp)
    assert list(nlp("").spans["ranked"]) == []
    doc = nlp("  \n ")  # one whitespace sentence: scored 0.0, as rerank scores an empty document
    assert [(s.text, s._.zeroshot_relevance) for s in doc.spans["ranked"]] == [("  \n ", 0.0)]
    assert not nlp.get_pipe("zeroshot_nli").backend.is_loaded


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_span_ranker_pipe_equals_call(make_nlp, batch_size):
    nlp = build(make_nlp, top_k=2)
    expected = [annotations(nlp(text)) for text in TEXTS]
    for doc, want in zip(nlp.pipe(TEXTS, batch_size=batch_size), expected):
        got = annotations(doc)
        assert got[1:] == want[1:]
        assert got[0].keys() == want[0].keys()
        assert all(abs(got[0][k] - want[0][k]) <= 1e-6 for k in got[0])


def test_span_ranker_predict_leaves_docs_alone_and_set_annotations_is_idempotent(make_nlp):
    nlp = build(make_nlp, top_k=3)
    docs = [nlp.make_doc(text) for text in TEXTS]
    docs = [nlp.get_pipe("sentencizer")(doc) for doc in docs]
    before = [(copy.deepcopy(doc.user_data), dict(doc.spans)) for doc in docs]
    ranker = nlp.get_pipe("zeroshot_span_ranker")
    predictions = ranker.predict(docs)
    assert [(doc.user_data, dict(doc.spans)) for doc in docs] == before
    ranker.set_annotations(docs, predictions)
    once = [annotations(doc) for doc in docs]
    ranker.set_annotations(docs, predictions)
    assert [annotations(doc) for doc in docs] == once


def test_span_ranker_backend_is_shared(make_nlp):
    nlp = build(make_nlp)
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["travel", "cooking"]})
    ranker, textcat = nlp.get_pipe("zeroshot_span_ranker"), nlp.get_pipe("zeroshot_textcat")
    assert ranker.backend is textcat.backend is nlp.get_pipe("zeroshot_nli").backend
    doc = nlp(ARTICLE)
    assert set(doc.cats) == {"travel", "cooking"} and len(doc.spans["ranked"]) == 4


@pytest.mark.parametrize(
    "config,code",
    [
        ({"query": ""}, "E400"),
        ({"query": "  "}, "E400"),
        ({"top_k": 0}, "E403"),
        ({"top_k": -2}, "E403"),
        ({"threshold": 1.5}, "E058"),
        ({"hypothesis_template": "no field"}, "E055"),
        ({"hypothesis_template": "{} and {}"}, "E055"),
        ({"long_text": "sentences"}, "E057"),
        ({"aggregate": "median"}, "E057"),
        ({"output_key": ""}, "E407"),
        ({"spans_key": ""}, "E407"),
    ],
)
def test_span_ranker_bad_config_raises_numbered_error(make_nlp, config, code):
    with pytest.raises(ValueError, match=code):
        make_nlp("zeroshot_span_ranker", {"query": QUERY, **config})


@pytest.mark.parametrize("config", [{"top_k": "many"}, {"threshold": "high"}, {"query": 3}, {"output_key": None}])
def test_span_ranker_bad_config_types_fail_validation(make_nlp, config):
    with pytest.raises((ConfigValidationError, ValueError)):
        make_nlp("zeroshot_span_ranker", {"query": QUERY, **config})


def test_span_ranker_to_disk_and_load_offline(make_nlp, tmp_path, monkeypatch):
    nlp = build(make_nlp, top_k=2, threshold=0.1)
    docs = [annotations(nlp(text)) for text in TEXTS]
    nlp.to_disk(tmp_path / "p")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reloaded = spacy.load(tmp_path / "p")
    assert reloaded.pipe_names == nlp.pipe_names
    assert reloaded.get_pipe("zeroshot_span_ranker").cfg == nlp.get_pipe("zeroshot_span_ranker").cfg
    assert [annotations(reloaded(text)) for text in TEXTS] == docs


def test_span_ranker_user_strings_round_trip_exactly(make_nlp, tmp_path):
    """Queries and templates come back byte-identical through to_disk/spacy.load and
    to_bytes/from_bytes, although spaCy's config layer would turn "$" into "$$"."""

    def add_rankers(nlp, strings):
        for i, (query, template) in enumerate(strings):
            nlp.add_pipe("zeroshot_span_ranker", name=f"r{i}", config={"query": query, "hypothesis_template": template, "output_key": f"r{i}"})
        return nlp

    def all_annotations(doc):
        return [annotations(doc, f"r{i}") for i in range(len(strings))]

    literal = [h.replace("{", "{{").replace("}", "}}") for h in HOSTILE]
    strings = [(query, f"{h} {{}} {h}") for query, h in zip(HOSTILE, literal)] + [(QUERY, HOSTILE_TEMPLATE)]
    nlp = add_rankers(build(make_nlp), strings)
    doc = nlp(ARTICLE)
    expected = all_annotations(doc)
    assert [e[2] for e in expected] == [{"query": query} for query, _ in strings]
    configured = [(p.cfg["query"], p.cfg["hypothesis_template"]) for _, p in nlp.pipeline[3:]]
    assert configured == strings
    nlp.to_disk(tmp_path / "p")
    reloaded = spacy.load(tmp_path / "p")
    assert [(p.cfg["query"], p.cfg["hypothesis_template"]) for _, p in reloaded.pipeline[3:]] == strings
    reloaded_doc = reloaded(ARTICLE)
    assert all_annotations(reloaded_doc) == expected
    data = nlp.to_bytes()  # spaCy's way back from bytes: the pipeline built from their config
    fresh = load_model_from_config(Config().from_bytes(srsly.msgpack_loads(data)["config.cfg"]), auto_fill=True)
    fresh.from_bytes(data)
    assert [(p.cfg["query"], p.cfg["hypothesis_template"]) for _, p in fresh.pipeline[3:]] == strings
    fresh_doc = fresh(ARTICLE)
    assert all_annotations(fresh_doc) == expected


@pytest.mark.parametrize("config", [{"query": "price in ${x}"}, {"query": "${paths.train}"}, {"hypothesis_template": "It costs ${{}} {}."}])
def test_span_ranker_saves_config_variables_as_text(make_nlp, tmp_path, config):
    """spaCy would read "${...}" in config.cfg as a variable reference; it is saved as text."""
    nlp = build(make_nlp, **config)
    expected = annotations(nlp(ARTICLE))
    assert len(expected[1]) == 4
    nlp.to_disk(tmp_path / "p")
    reloaded = spacy.load(tmp_path / "p")
    ranker = reloaded.get_pipe("zeroshot_span_ranker")
    assert {key: ranker.cfg[key] for key in config} == config
    assert annotations(reloaded(ARTICLE)) == expected


def test_span_ranker_load_time_overrides_apply(make_nlp, tmp_path):
    """The query lives in the config alone: an override at spacy.load replaces it."""
    nlp = build(make_nlp)
    nlp.to_disk(tmp_path / "p")
    other = "The bridge costs 5 euros."
    reloaded = spacy.load(tmp_path / "p", config={"components": {"zeroshot_span_ranker": {"query": other}}})
    assert reloaded.get_pipe("zeroshot_span_ranker").cfg["query"] == other
    assert reloaded(ARTICLE).spans["ranked"].attrs["query"] == other


def test_span_ranker_reads_strings_saved_by_earlier_versions(make_nlp, tmp_path):
    """Folders saved before the config kept strings exactly hold them in strings.json."""
    nlp = build(make_nlp)
    nlp.to_disk(tmp_path / "p")
    srsly.write_json(tmp_path / "p" / "zeroshot_span_ranker" / "strings.json", {"query": "US$ 5", "hypothesis_template": "$$ {}"})
    ranker = spacy.load(tmp_path / "p").get_pipe("zeroshot_span_ranker")
    assert (ranker.cfg["query"], ranker.cfg["hypothesis_template"]) == ("US$ 5", "$$ {}")


def test_span_ranker_docbin_roundtrip(make_nlp):
    nlp = build(make_nlp, top_k=2)
    docs = list(nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    for a, b in zip(docs, restored):
        assert annotations(a) == annotations(b)
        assert [s._.zeroshot_relevance for s in a.spans["ranked"]] == [s._.zeroshot_relevance for s in b.spans["ranked"]]


def test_span_ranker_pipe_n_process_2(make_nlp, deberta_path, tmp_path):
    """Scores and groups are plain data: they come back from worker processes unchanged."""
    script = tmp_path / "n_process.py"
    script.write_text(
        "import json, spacy\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('sentencizer')\n"
        f"nlp.add_pipe('zeroshot_nli', config={{'model': {deberta_path!r}, 'device': 'cpu'}})\n"
        "nlp.add_pipe('zeroshot_span_ranker', config={'query': 'travel', 'top_k': 2})\n"
        f"texts = {TEXTS!r} * 3\n"
        "def out(docs):\n"
        "    return [([s._.zeroshot_relevance for s in d.sents], [s.text for s in d.spans['ranked']]) for d in docs]\n"
        "ref, got = out(nlp.pipe(texts)), out(nlp.pipe(texts, n_process=2, batch_size=2))\n"
        "same = all(a[1] == b[1] and all(abs(x - y) <= 1e-6 for x, y in zip(a[0], b[0])) for a, b in zip(ref, got))\n"
        "print(json.dumps([same, len(got)]))\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"[true, {len(TEXTS) * 3}]"


def _gold(nlp, text, relevant):
    reference = nlp.make_doc(text)
    reference.spans["ranked"] = [reference.char_span(*span) for span in relevant]
    return Example(nlp.make_doc(text), reference)


def test_span_ranker_evaluate_reports_ranking_scores(make_nlp):
    nlp = build(make_nlp, top_k=1)
    doc = nlp(ARTICLE)
    ranked = sorted(doc.sents, key=lambda s: -s._.zeroshot_relevance)
    first, third = ranked[0], ranked[2]
    examples = [
        _gold(nlp, ARTICLE, [(first.start_char, first.end_char)]),  # the best sentence is relevant
        _gold(nlp, ARTICLE, [(third.start_char, third.end_char)]),  # the third best is
        Example(nlp.make_doc("No gold group here."), nlp.make_doc("No gold group here.")),  # skipped
    ]
    scores = nlp.evaluate(examples)
    assert scores["rank_mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert scores["rank_ndcg"] == pytest.approx((1 + 1 / 2) / 2)  # 1/log2(4) for rank 3
    # top_k=1 keeps the best sentence in both docs: one hit, one miss.
    assert scores["rank_p"] == pytest.approx(0.5) and scores["rank_r"] == pytest.approx(0.5)
    assert scores["rank_f"] == pytest.approx(0.5)


def test_span_ranker_evaluate_without_gold_groups_gives_none(make_nlp):
    nlp = build(make_nlp)
    scores = nlp.evaluate([Example(nlp.make_doc(ARTICLE), nlp.make_doc(ARTICLE))])
    assert all(scores[key] is None for key in ("rank_mrr", "rank_ndcg", "rank_p", "rank_r", "rank_f"))


def test_span_ranker_long_span_truncates_with_warning_or_windows(make_nlp):
    text = " ".join(["The team won the match and the fans celebrated"] * 40) + "."
    with pytest.warns(UserWarning, match="W400"):
        truncated = build(make_nlp)(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        windowed = build(make_nlp, long_text="windows")(text)
    assert windowed.spans["ranked"][0]._.zeroshot_relevance >= truncated.spans["ranked"][0]._.zeroshot_relevance - 1e-6


def test_span_ranker_evaluate_counts_repeated_spans_once(make_nlp):
    """A group may hold one text twice (two labels); it is one item of the ranking, so nDCG stays <= 1."""
    nlp = build(make_nlp, sentencizer=False, spans_key="passages")
    predicted = nlp.make_doc(ARTICLE)
    predicted.spans["passages"] = [Span(predicted, 0, 7, label="A"), Span(predicted, 0, 7, label="B"), predicted[7:16]]
    predicted = nlp(predicted)
    reference = nlp.make_doc(ARTICLE)
    reference.spans["ranked"] = [reference[0:7]]
    scores = nlp.get_pipe("zeroshot_span_ranker").score([Example(predicted, reference)])
    first = predicted[0:7]._.zeroshot_relevance >= predicted[7:16]._.zeroshot_relevance
    assert scores["rank_mrr"] == (1.0 if first else 0.5)
    assert scores["rank_ndcg"] == pytest.approx(1.0 if first else 1 / math.log2(3))
