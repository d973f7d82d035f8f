"""The zeroshot_entity_typer component: typing spans from rulers, spaCy's component contract."""

import pytest
import spacy
from entity_pipelines import INLINE_SOURCE, TEXTS, TYPES, assert_same_spans, build, spans_of, spy_on_score
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import ConfigValidationError


@pytest.fixture
def nlp(deberta_path):
    return build(deberta_path, typer={"labels": TYPES, "threshold": 0.0})


def test_entity_typer_works_after_add_pipe(nlp):
    doc = nlp(TEXTS[0])
    by_text = {ent.text: ent for ent in doc.ents}
    assert by_text["Apple"].label_ in TYPES["ORG"]
    assert by_text["Steve Jobs"].label_ in TYPES["PERSON"]
    scores = by_text["Apple"]._.zeroshot_type_scores
    assert list(scores) == TYPES["ORG"]
    assert sum(scores.values()) == pytest.approx(1.0)
    assert by_text["Apple"].label_ == max(scores, key=scores.get)


def test_entity_typer_leaves_unknown_labels_alone(nlp):
    doc = nlp(TEXTS[0])
    locations = [ent for ent in doc.ents if ent.text in ("California", "Paris", "France")]
    assert [ent.label_ for ent in locations] == ["LOC", "LOC", "LOC"]
    assert all(ent._.zeroshot_type_scores is None for ent in locations)
    assert len(doc.ents) == 5


def test_entity_typer_list_labels_type_every_span(deberta_path):
    nlp = build(deberta_path, typer={"labels": ["person", "place", "organization"], "threshold": 0.0})
    doc = nlp(TEXTS[0])
    assert len(doc.ents) == 5
    assert all(ent.label_ in ("person", "place", "organization") for ent in doc.ents)


def test_entity_typer_descriptions_fill_the_hypothesis(deberta_path, monkeypatch):
    labels = {"company": "a business", "fruit": "a kind of fruit"}
    nlp = build(deberta_path, typer={"labels": labels, "threshold": 0.0}, patterns=[{"label": "ORG", "pattern": "Apple"}])
    calls = spy_on_score(monkeypatch, nlp.get_pipe("zeroshot_nli").backend)
    doc = nlp("Apple sells phones.")
    assert sorted(h for _, h in calls[0]) == ["Apple is a a business.", "Apple is a a kind of fruit."]
    assert doc.ents[0].label_ in labels
    assert set(doc.ents[0]._.zeroshot_type_scores) == set(labels)


@pytest.mark.parametrize("on_low_confidence", ["keep", "drop"])
def test_entity_typer_low_confidence_keeps_or_drops(deberta_path, on_low_confidence):
    config = {"labels": TYPES, "threshold": 1.0, "on_low_confidence": on_low_confidence}
    doc = build(deberta_path, typer=config)(TEXTS[0])
    labels = [(ent.text, ent.label_) for ent in doc.ents]
    if on_low_confidence == "keep":
        assert labels == [("Apple", "ORG"), ("Steve Jobs", "PERSON"), ("California", "LOC"), ("Paris", "LOC"), ("France", "LOC")]
        assert doc.ents[0]._.zeroshot_type_scores is not None
    else:
        # Only the spans that had candidate types go; the other entities stay.
        assert labels == [("California", "LOC"), ("Paris", "LOC"), ("France", "LOC")]


def test_entity_typer_multi_label_scores_independent(deberta_path):
    nlp = build(deberta_path, typer={"labels": TYPES, "threshold": 0.0, "multi_label": True})
    scores = nlp(TEXTS[0]).ents[0]._.zeroshot_type_scores
    assert all(0.0 < s < 1.0 for s in scores.values())
    assert sum(scores.values()) != pytest.approx(1.0)


def test_entity_typer_keeps_other_entities_and_kb_ids(nlp):
    doc = nlp.make_doc("Apple is in Paris.")
    doc.ents = [Span(doc, 0, 1, label="ORG", kb_id="Q312"), Span(doc, 3, 4, label="LOC", kb_id="Q90")]
    doc = nlp.get_pipe("sentencizer")(doc)
    doc = nlp.get_pipe("zeroshot_entity_typer")(doc)
    assert [(e.text, e.kb_id_) for e in doc.ents] == [("Apple", "Q312"), ("Paris", "Q90")]
    assert doc.ents[0].label_ in TYPES["ORG"] and doc.ents[1].label_ == "LOC"


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_entity_typer_pipe_equals_call(nlp, batch_size):
    expected = [spans_of(nlp(text)) for text in TEXTS]
    for doc, spans in zip(nlp.pipe(TEXTS, batch_size=batch_size), expected):
        assert_same_spans(spans_of(doc), spans)


def test_entity_typer_one_backend_call_per_minibatch(deberta_path, monkeypatch):
    nlp = build(deberta_path, typer={"labels": TYPES}, linker={"candidates": INLINE_SOURCE})
    backend = nlp.get_pipe("zeroshot_nli").backend
    calls = spy_on_score(monkeypatch, backend)
    docs = list(nlp.pipe(TEXTS, batch_size=64))
    assert len(calls) == 2, "one call for the typer and one for the linker, for all spans of all docs"
    typed = [ent for doc in docs for ent in doc.ents if ent._.zeroshot_type_scores]
    assert len(calls[0]) == sum(len(ent._.zeroshot_type_scores) for ent in typed)
    assert nlp.get_pipe("zeroshot_entity_typer").backend is nlp.get_pipe("zeroshot_entity_linker").backend


def test_entity_typer_empty_docs_and_docs_without_entities(nlp):
    backend = nlp.get_pipe("zeroshot_nli").backend
    for text in ("", "   ", "The team won the match."):
        doc = nlp(text)
        assert list(doc.ents) == []
    assert not backend.is_loaded, "no spans: no model call"


def test_entity_typer_sentence_context_needs_boundaries(deberta_path):
    nlp = build(deberta_path, typer={"labels": TYPES}, sentencizer=False)
    with pytest.raises(ValueError, match="E062"):
        nlp(TEXTS[0])
    for context in ("window", "doc"):
        nlp = build(deberta_path, typer={"labels": TYPES, "context": context}, sentencizer=False)
        assert nlp(TEXTS[0]).ents[0]._.zeroshot_type_scores is not None


@pytest.mark.parametrize("context,first,last", [
    ("sentence", "[Barack Obama] was born in Hawaii and met Apple in Paris", "Barack Obama was born in Hawaii and met Apple in [Paris]"),
    ("window", "[Barack Obama] was born in", "met Apple in [Paris]"),
    ("doc", "[Barack Obama] was born in Hawaii and met Apple in Paris", "Barack Obama was born in Hawaii and met Apple in [Paris]"),
])
def test_entity_typer_spans_at_doc_edges_marked_premises(deberta_path, monkeypatch, context, first, last):
    config = {"labels": ["person", "place"], "context": context, "window": 3, "mention_markers": ["[", "]"]}
    nlp = build(deberta_path, typer=config)
    calls = spy_on_score(monkeypatch, nlp.get_pipe("zeroshot_nli").backend)
    doc = nlp(TEXTS[3])
    assert doc.ents[0].start == 0 and doc.ents[-1].end == len(doc)
    premises = {p for p, _ in calls[0]}
    assert first in premises and last in premises
    assert len(premises) == len(doc.ents)


def test_entity_typer_span_group_with_overlaps(deberta_path):
    patterns = [
        {"label": "LOC", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
        {"label": "LOC", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}, {"LOWER": "city"}]},
        {"label": "ORG", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
        {"label": "ORG", "pattern": "Apple"},
    ]
    config = {"labels": {"LOC": ["city", "state"], "ORG": ["company", "newspaper"]}, "spans_key": "sc", "threshold": 0.0}
    nlp = build(deberta_path, typer=config, ruler="span_ruler", patterns=patterns)
    doc = nlp("New York City loves Apple")
    group = doc.spans["sc"]
    spans = sorted((s.start, s.end, s.label_) for s in group)
    assert [(s, e) for s, e, _ in spans] == [(0, 2), (0, 2), (0, 3), (4, 5)]
    assert {label for s, e, label in spans if (s, e) == (0, 2)} <= {"city", "state", "company", "newspaper"}
    assert list(doc.ents) == [], "a span group is typed in place, doc.ents untouched"
    assert all(s._.zeroshot_type_scores for s in group)


def test_entity_typer_set_annotations_is_idempotent(nlp):
    typer = nlp.get_pipe("zeroshot_entity_typer")
    doc = nlp.make_doc(TEXTS[0])
    for name in ("sentencizer", "entity_ruler"):
        doc = nlp.get_pipe(name)(doc)
    predictions = typer.predict([doc])
    typer.set_annotations([doc], predictions)
    once = spans_of(doc)
    typer.set_annotations([doc], predictions)
    assert_same_spans(spans_of(doc), once)


def _parsed_doc(nlp):
    words = ["Apple", "hired", "a", "scientist", "yesterday"]
    return Doc(
        nlp.vocab,
        words=words,
        heads=[1, 1, 3, 1, 1],
        deps=["nsubj", "ROOT", "det", "dobj", "npadvmod"],
        pos=["PROPN", "VERB", "DET", "NOUN", "NOUN"],
    )


@pytest.mark.parametrize("threshold,expected", [(0.0, 2), (1.0, 0)])
def test_entity_typer_noun_chunk_proposals(deberta_path, threshold, expected):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    config = {"labels": ["company", "person"], "proposals": "noun_chunks", "threshold": threshold, "context": "doc"}
    nlp.add_pipe("zeroshot_entity_typer", config=config)
    doc = nlp(_parsed_doc(nlp))
    assert len(doc.ents) == expected
    assert all(ent.label_ in ("company", "person") for ent in doc.ents)


def test_entity_typer_noun_chunk_proposals_respect_existing_entities(deberta_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    config = {"labels": ["company", "person"], "proposals": "noun_chunks", "threshold": 1.0, "context": "doc"}
    nlp.add_pipe("zeroshot_entity_typer", config=config)
    doc = _parsed_doc(nlp)
    doc.ents = [Span(doc, 0, 2, label="ORG")]  # overlaps the chunk "Apple"
    doc = nlp(doc)
    # The existing entity is kept (low confidence: "keep"); proposals below threshold are dropped.
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 2, "ORG")]


def test_entity_typer_noun_chunk_proposals_need_a_parse(deberta_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": ["company"], "proposals": "noun_chunks", "context": "doc"})
    with pytest.raises(ValueError, match="E105"):
        nlp("Apple hired a scientist")


@pytest.mark.parametrize("config,code", [
    ({"labels": []}, "E052"),
    ({"labels": {"": ["company"]}}, "E100"),
    ({"labels": TYPES, "proposals": "noun_chunks"}, "E100"),
    ({"labels": TYPES, "hypothesis_template": "This is a {label}."}, "E101"),
    ({"labels": TYPES, "hypothesis_template": "{mention} is a {}."}, "E101"),
    ({"labels": TYPES, "mention_markers": ["["]}, "E103"),
    ({"labels": TYPES, "window": -1}, "E104"),
    ({"labels": TYPES, "context": "paragraph"}, "E057"),
    ({"labels": TYPES, "on_low_confidence": "delete"}, "E057"),
    ({"labels": TYPES, "proposals": "ngrams"}, "E057"),
    ({"labels": TYPES, "threshold": 1.5}, "E058"),
])
def test_entity_typer_bad_config_raises_numbered_error(make_nlp, config, code):
    with pytest.raises(ValueError, match=code):
        make_nlp("zeroshot_entity_typer", config)


@pytest.mark.parametrize("config", [
    {"labels": TYPES, "window": "ten"},
    {"labels": TYPES, "multi_label": "maybe"},
    {"labels": {"ORG": ["company"], "PERSON": "a person"}},
])
def test_entity_typer_bad_config_types_fail_validation(make_nlp, config):
    with pytest.raises(ConfigValidationError):
        make_nlp("zeroshot_entity_typer", config)


def test_entity_typer_without_nli_component_raises():
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": TYPES})
    with pytest.raises(ValueError, match="E050"):
        nlp.initialize()


def test_entity_typer_to_disk_and_load_offline(nlp, tmp_path, monkeypatch):
    expected = [spans_of(doc) for doc in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "pipeline")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == nlp.pipe_names
    for doc, spans in zip(loaded.pipe(TEXTS), expected):
        assert_same_spans(spans_of(doc), spans)


def test_entity_typer_docbin_roundtrip(nlp):
    docs = list(nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    for doc, again in zip(docs, restored):
        assert_same_spans(spans_of(again), spans_of(doc), abs_tol=0.0)


def test_entity_typer_evaluate_reports_span_scores(nlp):
    examples = []
    for text, gold in [("Apple was founded by Steve Jobs.", [(0, 5, "company"), (21, 31, "scientist")])]:
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": gold}))
    scores = nlp.evaluate(examples)
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type"):
        assert key in scores
    assert 0.0 <= scores["ents_f"] <= 1.0


def test_entity_typer_evaluate_span_group_keys(deberta_path):
    nlp = build(deberta_path, typer={"labels": ["city", "company"], "spans_key": "sc"}, ruler="span_ruler")
    reference = nlp.make_doc("Apple is in Paris")
    reference.spans["sc"] = [Span(reference, 0, 1, "company"), Span(reference, 3, 4, "city")]
    scores = nlp.evaluate([Example(nlp.make_doc("Apple is in Paris"), reference)])
    for key in ("spans_sc_p", "spans_sc_r", "spans_sc_f", "spans_sc_per_type"):
        assert key in scores


def test_entity_typer_matches_transformers_pipeline(model_path):
    from transformers import pipeline

    nlp = build(model_path, typer={"labels": TYPES, "threshold": 0.0})
    classifier = pipeline("zero-shot-classification", model=model_path, device=-1)
    checked = 0
    for doc in nlp.pipe(TEXTS):
        for ent in doc.ents:
            scores = ent._.zeroshot_type_scores
            if scores is None:
                continue
            template = "{mention} is a {{}}.".format(mention=ent.text.replace("{", "{{").replace("}", "}}"))
            result = classifier(ent.sent.text, candidate_labels=list(scores), hypothesis_template=template)
            expected = dict(zip(result["labels"], result["scores"]))
            assert scores == pytest.approx(expected, abs=1e-4)
            checked += 1
    assert checked >= 5
