"""The zeroshot_entity_linker component: candidates, NIL, serialization, scoring, parity."""

import shutil

import pytest
import spacy
import srsly
from entity_pipelines import ALIASES, INLINE_SOURCE, TEXTS, assert_same_spans, build, spans_of, spy_on_score
from spacy.kb import InMemoryLookupKB
from spacy.tokens import DocBin, Span
from spacy.training import Example
from thinc.api import ConfigValidationError

from spacy_zeroshot.tasks.candidates import KBCandidates

KNOWLEDGATOR = TEXTS[5]
MODEL_CARD_LABELS = ["Knowledgator - company", "Knowledgator - product", "Knowledgator - city"]


@pytest.fixture
def nlp(deberta_path):
    return build(deberta_path, linker={"candidates": INLINE_SOURCE, "threshold": 0.0})


def test_entity_linker_works_after_add_pipe(nlp):
    doc = nlp(TEXTS[0])
    by_text = {ent.text: ent for ent in doc.ents}
    apple = by_text["Apple"]
    assert apple.kb_id_ in ("Q312", "Q89")
    assert set(apple._.zeroshot_link_scores) == {"Q312", "Q89"}
    assert sum(apple._.zeroshot_link_scores.values()) == pytest.approx(1.0)
    # No candidates: NIL and no scores; labels untouched.
    assert by_text["California"].kb_id_ == "NIL"
    assert by_text["California"]._.zeroshot_link_scores == {}
    assert [e.label_ for e in doc.ents] == ["ORG", "PERSON", "LOC", "LOC", "LOC"]


def test_entity_linker_defaults_give_nil_without_model_call(make_nlp):
    nlp = make_nlp("zeroshot_entity_linker")
    nlp.add_pipe("entity_ruler", first=True).add_patterns([{"label": "ORG", "pattern": "Apple"}])
    nlp.add_pipe("sentencizer", first=True)
    doc = nlp("Apple sells phones.")
    assert doc.ents[0].kb_id_ == "NIL"
    assert not nlp.get_pipe("zeroshot_nli").backend.is_loaded


def test_entity_linker_alias_match_is_case_insensitive(nlp):
    doc = nlp("BARACK OBAMA met APPLE.")
    assert [(e.text, e.kb_id_) for e in doc.ents] == [("BARACK OBAMA", "Q76")]
    source = nlp.get_pipe("zeroshot_entity_linker").candidates
    assert [c["id"] for c in source.candidates("BARACK   OBAMA")] == ["Q76"]
    assert [c["id"] for c in source.candidates("paris")] == ["Q90", "Q167646"]
    assert source.candidates("Londres") == []


@pytest.mark.parametrize("threshold,expected", [(0.0, "Q76"), (1.0, "NIL")])
def test_entity_linker_single_candidate_can_be_nil(deberta_path, threshold, expected):
    nlp = build(deberta_path, linker={"candidates": INLINE_SOURCE, "threshold": threshold})
    obama = nlp(TEXTS[3]).ents[0]
    score = obama._.zeroshot_link_scores["Q76"]
    assert 0.0 < score < 1.0, "one candidate is scored entailment vs contradiction"
    assert obama.kb_id_ == expected


def test_entity_linker_nil_label_and_ent_labels(deberta_path):
    config = {"candidates": INLINE_SOURCE, "threshold": 1.0, "nil": "--", "ent_labels": ["LOC"]}
    doc = build(deberta_path, linker=config)(TEXTS[0])
    by_text = {ent.text: ent for ent in doc.ents}
    assert by_text["Paris"].kb_id_ == "--"
    assert by_text["Apple"].kb_id_ == "" and by_text["Apple"]._.zeroshot_link_scores is None


def test_entity_linker_template_fields(deberta_path, monkeypatch):
    config = {"candidates": INLINE_SOURCE, "hypothesis_template": "{mention} ({id}) is {name}: {description}."}
    nlp = build(deberta_path, linker=config, patterns=[{"label": "ORG", "pattern": "Apple"}, {"label": "ORG", "pattern": "Knowledgator"}])
    calls = spy_on_score(monkeypatch, nlp.get_pipe("zeroshot_nli").backend)
    nlp("Apple and Knowledgator.")
    hypotheses = sorted(h for _, h in calls[0])
    assert "Apple (Q312) is Apple Inc.: a technology company." in hypotheses
    # No description: the name stands in.
    assert "Knowledgator (city) is Knowledgator - city: Knowledgator - city." in hypotheses


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_entity_linker_pipe_equals_call(nlp, batch_size):
    expected = [spans_of(nlp(text)) for text in TEXTS]
    for doc, spans in zip(nlp.pipe(TEXTS, batch_size=batch_size), expected):
        assert_same_spans(spans_of(doc), spans)


def test_entity_linker_one_backend_call_per_minibatch(nlp, monkeypatch):
    calls = spy_on_score(monkeypatch, nlp.get_pipe("zeroshot_nli").backend)
    docs = list(nlp.pipe(TEXTS, batch_size=64))
    assert len(calls) == 1
    assert len(calls[0]) == sum(len(e._.zeroshot_link_scores or {}) for doc in docs for e in doc.ents)


def test_entity_linker_empty_docs_and_docs_without_entities(nlp):
    for text in ("", "  ", "The team won the match."):
        assert list(nlp(text).ents) == []
    assert not nlp.get_pipe("zeroshot_nli").backend.is_loaded


def test_entity_linker_span_group(deberta_path):
    patterns = [{"label": "LOC", "pattern": "Paris"}, {"label": "ORG", "pattern": "Paris"}]
    config = {"candidates": INLINE_SOURCE, "spans_key": "sc", "threshold": 0.0}
    doc = build(deberta_path, linker=config, ruler="span_ruler", patterns=patterns)("I love Paris")
    group = doc.spans["sc"]
    assert len(group) == 2 and {s.label_ for s in group} == {"LOC", "ORG"}
    assert all(s.kb_id_ in ("Q90", "Q167646") for s in group)
    assert set(group[0]._.zeroshot_link_scores) == {"Q90", "Q167646"}


def test_entity_linker_set_annotations_is_idempotent(nlp):
    linker = nlp.get_pipe("zeroshot_entity_linker")
    doc = nlp.make_doc(TEXTS[0])
    for name in ("sentencizer", "entity_ruler"):
        doc = nlp.get_pipe(name)(doc)
    predictions = linker.predict([doc])
    linker.set_annotations([doc], predictions)
    once = spans_of(doc)
    linker.set_annotations([doc], predictions)
    assert_same_spans(spans_of(doc), once)


@pytest.mark.parametrize("config,code", [
    ({"hypothesis_template": "{mention} is here."}, "E101"),
    ({"hypothesis_template": "{mention} is {label}."}, "E101"),
    ({"nil": ""}, "E111"),
    ({"threshold": -0.1}, "E058"),
    ({"context": "page"}, "E057"),
    ({"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": {}, "path": "x.json"}}, "E108"),
])
def test_entity_linker_bad_config_raises_numbered_error(make_nlp, config, code):
    with pytest.raises(ValueError, match=code):
        make_nlp("zeroshot_entity_linker", config)


@pytest.mark.parametrize("config", [
    {"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": {"x": "not a list"}}},
    {"candidates": {"@misc": "spacy-zeroshot.kb_candidates.v1"}},
    {"ent_labels": "ORG"},
])
def test_entity_linker_bad_config_types_fail_validation(make_nlp, config):
    with pytest.raises(ConfigValidationError):
        make_nlp("zeroshot_entity_linker", config)


def test_entity_linker_alias_files_json_and_jsonl(deberta_path, tmp_path):
    srsly.write_json(tmp_path / "aliases.json", ALIASES)
    records = [{"alias": alias, "candidates": entries} for alias, entries in ALIASES.items()]
    srsly.write_jsonl(tmp_path / "aliases.jsonl", records)
    inline = build(deberta_path, linker={"candidates": INLINE_SOURCE})
    expected = [spans_of(doc) for doc in inline.pipe(TEXTS)]
    for name in ("aliases.json", "aliases.jsonl"):
        source = {"@misc": "spacy-zeroshot.alias_candidates.v1", "path": str(tmp_path / name)}
        nlp = build(deberta_path, linker={"candidates": source})
        for doc, spans in zip(nlp.pipe(TEXTS), expected):
            assert_same_spans(spans_of(doc), spans)


def test_entity_linker_alias_jsonl_entity_records(deberta_path, tmp_path):
    srsly.write_jsonl(tmp_path / "entities.jsonl", [
        {"aliases": ["Paris", "City of Light"], "id": "Q90", "name": "Paris", "description": "the capital of France"},
        {"alias": "paris", "id": "Q167646", "name": "Paris", "description": "a prince of Troy"},
        {"alias": "Paris", "id": "Q90"},
    ])
    source = {"@misc": "spacy-zeroshot.alias_candidates.v1", "path": str(tmp_path / "entities.jsonl")}
    linker = build(deberta_path, linker={"candidates": source}).get_pipe("zeroshot_entity_linker")
    assert [c["id"] for c in linker.candidates.candidates("PARIS")] == ["Q90", "Q167646"]
    assert [c["id"] for c in linker.candidates.candidates("city of light")] == ["Q90"]


@pytest.mark.parametrize("content,code", [(None, "E106"), ("{not json", "E106"), ('{"a": [{"name": "no id"}]}', "E107")])
def test_entity_linker_bad_alias_file_fails_on_initialize(deberta_path, tmp_path, content, code):
    path = tmp_path / "aliases.json"
    if content is not None:
        path.write_text(content, encoding="utf8")
    nlp = build(deberta_path, linker={"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "path": str(path)}})
    with pytest.raises(ValueError, match=code):
        nlp.initialize()


def test_entity_linker_to_disk_and_load_offline_without_alias_file(deberta_path, tmp_path, monkeypatch):
    path = tmp_path / "aliases.json"
    srsly.write_json(path, ALIASES)
    nlp = build(deberta_path, linker={"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "path": str(path)}})
    expected = [spans_of(doc) for doc in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "pipeline")
    path.unlink()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = spacy.load(tmp_path / "pipeline")
    for doc, spans in zip(loaded.pipe(TEXTS), expected):
        assert_same_spans(spans_of(doc), spans)


def test_entity_linker_to_bytes_roundtrip(nlp, deberta_path):
    expected = [spans_of(doc) for doc in nlp.pipe(TEXTS)]
    data = nlp.get_pipe("zeroshot_entity_linker").to_bytes()
    other = build(deberta_path, linker={"threshold": 0.0})
    other.get_pipe("zeroshot_entity_linker").from_bytes(data)
    for doc, spans in zip(other.pipe(TEXTS), expected):
        assert_same_spans(spans_of(doc), spans)


def test_entity_linker_docbin_roundtrip(nlp):
    docs = list(nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    for doc, again in zip(docs, restored):
        assert_same_spans(spans_of(again), spans_of(doc), abs_tol=0.0)


def _kb(vocab):
    kb = InMemoryLookupKB(vocab, entity_vector_length=3)
    for entity in ("Q312", "Q89", "Q90", "Q167646", "Q76"):
        kb.add_entity(entity, 1.0, [0.0, 0.0, 0.0])
    kb.add_alias("Apple", ["Q312", "Q89"], [0.6, 0.4])
    kb.add_alias("Paris", ["Q90", "Q167646"], [0.9, 0.1])
    kb.add_alias("Barack Obama", ["Q76"], [1.0])
    return kb


def _descriptions():
    return {c["id"]: {"name": c["name"], "description": c.get("description", "")} for cs in ALIASES.values() for c in cs}


def test_entity_linker_kb_source_matches_alias_table(deberta_path, tmp_path):
    kb_dir = tmp_path / "kb"
    _kb(spacy.blank("en").vocab).to_disk(kb_dir)
    srsly.write_jsonl(tmp_path / "descriptions.jsonl", [{"id": k, **v} for k, v in _descriptions().items()])
    source = {"@misc": "spacy-zeroshot.kb_candidates.v1", "kb_path": str(kb_dir), "descriptions_path": str(tmp_path / "descriptions.jsonl")}
    nlp = build(deberta_path, linker={"candidates": source})
    expected = [spans_of(doc) for doc in build(deberta_path, linker={"candidates": INLINE_SOURCE}).pipe(TEXTS[:4])]
    got = [spans_of(doc) for doc in nlp.pipe(TEXTS[:4])]
    for a, b in zip(got, expected):
        assert_same_spans(a, b)
    candidates = nlp.get_pipe("zeroshot_entity_linker").candidates
    assert [c["id"] for c in candidates.candidates("APPLE")] == ["Q312", "Q89"]
    # Serialized with the pipeline: the KB folder and the descriptions are not needed to load.
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(kb_dir)
    (tmp_path / "descriptions.jsonl").unlink()
    loaded = spacy.load(tmp_path / "pipeline")
    for doc, spans in zip(loaded.pipe(TEXTS[:4]), got):
        assert_same_spans(spans_of(doc), spans)


def test_entity_linker_set_candidates_with_kb_object(deberta_path):
    nlp = build(deberta_path, linker={"threshold": 0.0})
    linker = nlp.get_pipe("zeroshot_entity_linker")
    linker.set_candidates(KBCandidates(kb=_kb(nlp.vocab), descriptions={"Q90": "the capital of France"}))
    paris = [e for e in nlp(TEXTS[0]).ents if e.text == "Paris"][0]
    assert paris.kb_id_ in ("Q90", "Q167646") and set(paris._.zeroshot_link_scores) == {"Q90", "Q167646"}
    restored = build(deberta_path, linker={"threshold": 0.0})
    restored.get_pipe("zeroshot_entity_linker").from_bytes(linker.to_bytes())
    again = [e for e in restored(TEXTS[0]).ents if e.text == "Paris"][0]
    assert again._.zeroshot_link_scores == pytest.approx(paris._.zeroshot_link_scores, abs=1e-6)
    with pytest.raises(ValueError, match="E109"):
        linker.set_candidates({"Paris": []})


def test_entity_linker_evaluate_reports_nel_scores(nlp):
    text = "Barack Obama met Apple in Paris"
    gold = {"entities": [(0, 12, "PERSON"), (17, 22, "ORG"), (26, 31, "LOC")], "links": {
        (0, 12): {"Q76": 1.0}, (17, 22): {"Q312": 1.0}, (26, 31): {"Q90": 1.0}}}
    scores = nlp.evaluate([Example.from_dict(nlp.make_doc(text), gold)])
    for key in ("nel_micro_p", "nel_micro_r", "nel_micro_f"):
        assert key in scores and 0.0 <= scores[key] <= 1.0


def test_entity_linker_matches_transformers_pipeline(model_path):
    from transformers import pipeline

    nlp = build(model_path, linker={"candidates": INLINE_SOURCE, "threshold": 0.0})
    classifier = pipeline("zero-shot-classification", model=model_path, device=-1)
    checked = 0
    for doc in nlp.pipe(TEXTS):
        for ent in doc.ents:
            scores = ent._.zeroshot_link_scores
            if not scores:
                continue
            candidates = nlp.get_pipe("zeroshot_entity_linker").candidates.candidates(ent.text)
            template = "{mention} is {{}}.".format(mention=ent.text)
            labels = [c["description"] or c["name"] for c in candidates]
            result = classifier(ent.sent.text, candidate_labels=labels, hypothesis_template=template)
            by_label = dict(zip(result["labels"], result["scores"]))
            expected = {c["id"]: by_label[label] for c, label in zip(candidates, labels)}
            assert scores == pytest.approx(expected, abs=1e-4)
            checked += 1
    assert checked >= 4


def _model_card_nlp(model):
    config = {
        "candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": {"Knowledgator": ALIASES["Knowledgator"]}},
        "hypothesis_template": "This example is {name}.",
        "context": "doc",
        "threshold": 0.0,
    }
    return build(model, linker=config, sentencizer=False, patterns=[{"label": "ORG", "pattern": "Knowledgator"}])


def test_entity_linker_reproduces_model_card_example(model_path):
    from transformers import pipeline

    mention = _model_card_nlp(model_path)(KNOWLEDGATOR).ents[0]
    result = pipeline("zero-shot-classification", model=model_path, device=-1)(KNOWLEDGATOR, MODEL_CARD_LABELS)
    expected = {label.split(" - ")[1]: score for label, score in zip(result["labels"], result["scores"])}
    assert mention._.zeroshot_link_scores == pytest.approx(expected, abs=1e-4)
    assert mention.kb_id_ == max(expected, key=expected.get)


def test_entity_linker_model_card_example_trained_model(shared_minilm):
    import torch
    from transformers import pipeline

    mention = _model_card_nlp(shared_minilm)(KNOWLEDGATOR).ents[0]
    # float32, like the backend on the CPU (the checkpoint's own dtype is float16).
    classifier = pipeline("zero-shot-classification", model=shared_minilm, device=-1, torch_dtype=torch.float32)
    result = classifier(KNOWLEDGATOR, MODEL_CARD_LABELS)
    expected = {label.split(" - ")[1]: score for label, score in zip(result["labels"], result["scores"])}
    assert mention._.zeroshot_link_scores == pytest.approx(expected, abs=1e-5)
    # The card's answer (company) is also this small trained model's first choice.
    assert mention.kb_id_ == "company"
    assert sum(mention._.zeroshot_link_scores.values()) == pytest.approx(1.0)


def test_entity_linker_mentions_from_gold_spans(nlp):
    doc = nlp.make_doc("Apple is in Paris.")
    doc.ents = [Span(doc, 0, 1, label="ORG"), Span(doc, 3, 4, label="LOC")]
    doc = nlp.get_pipe("sentencizer")(doc)
    doc = nlp.get_pipe("zeroshot_entity_linker")(doc)
    assert [e.kb_id_ in ("Q312", "Q89", "Q90", "Q167646") for e in doc.ents] == [True, True]
