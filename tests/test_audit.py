"""The audit trail (`save_io`): what is recorded per decision, reading it back, DocBin,
n_process, the CLI export, and that nothing runs when it is off."""

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import spacy
from entity_pipelines import INLINE_SOURCE
from entity_pipelines import TEXTS as ENTITY_TEXTS
from entity_pipelines import build as build_entities
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from test_relations_component import TEXTS as RELATION_TEXTS
from test_relations_component import build as build_relations

from spacy_zeroshot import audit
from spacy_zeroshot.cli import main
from spacy_zeroshot.tasks import entities, linking, spans

LABELS = ["travel", "cooking", "sports"]
TEXTS = ["one day I will see the world", "", "The team won the match and the fans celebrated.", "She cooked pasta."]


def textcat_nlp(model: str, save_io: bool = True, **config: Any) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu", "save_io": save_io})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, **config})
    return nlp


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def test_audit_is_off_by_default_and_then_never_runs(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the audit trail ran although save_io is off")

    monkeypatch.setattr(audit.AuditTrail, "add", fail)
    monkeypatch.setattr(audit, "recording", fail)
    monkeypatch.setattr(entities, "premise_reference", fail)
    monkeypatch.setattr(linking, "premise_reference", fail)
    monkeypatch.setattr(spans, "premise_reference", fail)  # where the span tasks call it
    nlp = build_entities(deberta_path, typer={"labels": ["company", "city"]}, linker={"candidates": INLINE_SOURCE})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["founded by"], "max_distance": 50})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    for doc in nlp.pipe(ENTITY_TEXTS):
        assert audit.USER_DATA_KEY not in doc.user_data
        assert audit.explain(doc) == []
    assert audit.active_trail() is None


@pytest.mark.parametrize("multi_label", [False, True])
def test_audit_textcat_logits_reproduce_the_scores(deberta_path: str, multi_label: bool) -> None:
    nlp = textcat_nlp(deberta_path, multi_label=multi_label)
    doc = nlp(TEXTS[0])
    decisions = audit.explain(doc)
    assert [d["label"] for d in decisions] == LABELS
    assert all(d["component"] == "zeroshot_textcat" and d["target"] == {"kind": "doc"} for d in decisions)
    for decision in decisions:
        (pair,) = decision["pairs"]
        assert pair["premise"] == doc.text and pair["premise_span"] == [0, len(doc.text)]
        assert pair["hypothesis"] == f"This example is {decision['label']}."
        assert list(pair["logits"]) == ["entailment", "neutral", "contradiction"]
        assert decision["score"] == doc.cats[decision["label"]]
        assert decision["threshold"] == (0.5 if multi_label else None)
    logits = np.array([[d["pairs"][0]["logits"][c] for c in ("entailment", "contradiction")] for d in decisions])
    if multi_label:
        expected = 1 / (1 + np.exp(logits[:, 1] - logits[:, 0]))
    else:
        expected = softmax(logits[:, 0])
    assert expected == pytest.approx([doc.cats[label] for label in LABELS], abs=1e-6)
    assert audit.explain(doc, label="cooking") == [decisions[1]]
    assert audit.explain(nlp("")) == []  # an empty doc is never scored


def test_audit_empty_docs_do_not_load_the_model(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    doc = nlp("  ")
    assert not nlp.get_pipe("zeroshot_nli").backend.is_loaded
    assert doc.user_data[audit.USER_DATA_KEY]["zeroshot_textcat"]["decisions"] == []


def test_audit_windows_record_every_window(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path, long_text="windows", multi_label=True)
    nlp.get_pipe("zeroshot_nli").backend.max_length_setting = 24
    text = " ".join(["The team won the match and the fans celebrated in the stadium all night."] * 4)
    doc = nlp(text)
    for decision in audit.explain(doc):
        assert len(decision["pairs"]) > 1
        for pair in decision["pairs"]:
            start, end = pair["premise_span"]
            assert pair["premise"] == text[start:end] and 0 <= start < end <= len(text)
        window_scores = [1 / (1 + np.exp(p["logits"]["contradiction"] - p["logits"]["entailment"])) for p in decision["pairs"]]
        assert decision["score"] == pytest.approx(max(window_scores), abs=1e-6)


def test_audit_typer_and_linker_explain_per_span(deberta_path: str) -> None:
    nlp = build_entities(
        deberta_path,
        typer={"labels": {"ORG": ["company", "university"]}},
        linker={"candidates": INLINE_SOURCE, "threshold": 0.3},
        nli={"save_io": True},
    )
    doc = nlp(ENTITY_TEXTS[0])
    apple = doc.ents[0]
    decisions = audit.explain(doc, span=apple)
    typed = [d for d in decisions if d["component"] == "zeroshot_entity_typer"]
    linked = [d for d in decisions if d["component"] == "zeroshot_entity_linker"]
    assert [d["label"] for d in typed] == ["company", "university"]
    assert {d["label"]: d["score"] for d in typed} == apple._.zeroshot_type_scores
    assert {d["label"]: d["score"] for d in linked} == apple._.zeroshot_link_scores
    assert all(d["threshold"] == 0.3 for d in linked) and all(d["threshold"] == 0.5 for d in typed)
    sentence = apple.sent
    for decision in typed + linked:
        assert decision["target"] == {"kind": "span", "start": apple.start, "end": apple.end}
        (pair,) = decision["pairs"]
        assert pair["premise"] == sentence.text and pair["premise_span"] == [sentence.start_char, sentence.end_char]
    assert typed[0]["pairs"][0]["hypothesis"] == "Apple is a company."
    assert audit.explain(doc, span=(apple.start, apple.end)) == decisions
    assert audit.explain(doc, component="zeroshot_entity_typer", label="university") == [typed[1]]


def test_audit_mention_markers_store_the_premise_text(deberta_path: str) -> None:
    nlp = build_entities(deberta_path, typer={"labels": ["company", "city"], "mention_markers": ["[", "]"]}, nli={"save_io": True})
    doc = nlp("Apple opened a store in Paris.")
    pair = audit.explain(doc, span=doc.ents[0])[0]["pairs"][0]
    assert pair["premise"] == "[Apple] opened a store in Paris." and pair["premise_span"] is None


def test_audit_relations_explain_per_relation(deberta_path: str) -> None:
    nlp = build_relations(deberta_path, save_io=True)
    doc = nlp(RELATION_TEXTS[0])
    relation = next(rel for rel in doc._.relations if rel["label"] == "founded_by")
    decisions = audit.explain(doc, relation=relation)
    assert {d["label"]: d["score"] for d in decisions} == relation["scores"]
    founded = next(d for d in decisions if d["label"] == "founded_by")
    head, tail = doc[relation["head"][0] : relation["head"][1]], doc[relation["tail"][0] : relation["tail"][1]]
    assert [p["hypothesis"] for p in founded["pairs"]] == [f"{tail.text} founded {head.text}.", f"{head.text} was founded by {tail.text}."]
    per_template = [1 / (1 + np.exp(p["logits"]["contradiction"] - p["logits"]["entailment"])) for p in founded["pairs"]]
    assert founded["score"] == pytest.approx(max(per_template), abs=1e-6)
    assert founded["pairs"][0]["premise"] == head.sent.text
    spans = nlp.get_pipe("zeroshot_relation_extractor").spans(doc)
    assert audit.explain(doc, relation=next(s for s in spans if s.label == "founded_by")) == decisions
    # Pairs without a relation above the threshold are decisions too.
    targets = {json.dumps(d["target"]) for d in audit.explain(doc, component="zeroshot_relation_extractor")}
    assert len(targets) >= len(doc._.relations)


def plain(decisions: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return json.loads(json.dumps(decisions))


def assert_same_trail(a: List[Dict[str, Any]], b: List[Dict[str, Any]]) -> None:
    assert [(d["component"], d["target"], d["label"]) for d in a] == [(d["component"], d["target"], d["label"]) for d in b]
    for x, y in zip(a, b):
        assert x["score"] == pytest.approx(y["score"], abs=1e-5)
        assert [(p["premise"], p["hypothesis"]) for p in x["pairs"]] == [(p["premise"], p["hypothesis"]) for p in y["pairs"]]
        for p, q in zip(x["pairs"], y["pairs"]):
            assert p["logits"] == pytest.approx(q["logits"], abs=1e-4)


@pytest.fixture(scope="module")
def full_nlp(deberta_path: str) -> Language:
    nlp = build_entities(
        deberta_path, typer={"labels": {"ORG": ["company", "university"]}}, linker={"candidates": INLINE_SOURCE}, nli={"save_io": True}
    )
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["founded by", "located in"]})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    return nlp


@pytest.mark.parametrize("batch_size", [1, 4])
def test_audit_pipe_equals_call(full_nlp: Language, batch_size: int) -> None:
    expected = [audit.explain(full_nlp(text)) for text in ENTITY_TEXTS]
    for doc, trail in zip(full_nlp.pipe(ENTITY_TEXTS, batch_size=batch_size), expected):
        assert_same_trail(audit.explain(doc), trail)
    assert any(len(trail) > 0 for trail in expected)


def test_audit_survives_docbin_and_to_bytes(full_nlp: Language) -> None:
    docs = list(full_nlp.pipe(ENTITY_TEXTS))
    restored = list(DocBin(store_user_data=True, docs=docs).get_docs(full_nlp.vocab))
    for doc, back in zip(docs, restored):
        assert audit.explain(back) == plain(audit.explain(doc))
        assert audit.review_explanations(back) == plain(audit.review_explanations(doc))
        assert audit.explain(Doc(full_nlp.vocab).from_bytes(doc.to_bytes())) == plain(audit.explain(doc))


@pytest.mark.slow
def test_audit_survives_n_process(full_nlp: Language) -> None:
    single = [audit.explain(doc) for doc in full_nlp.pipe(ENTITY_TEXTS)]
    multi = [audit.explain(doc) for doc in full_nlp.pipe(ENTITY_TEXTS, n_process=2, batch_size=2)]
    for a, b in zip(single, multi):
        assert_same_trail(a, b)


def test_audit_is_set_when_loading(deberta_path: str, tmp_path: Path) -> None:
    textcat_nlp(deberta_path, save_io=False).to_disk(tmp_path / "nlp")
    assert audit.explain(spacy.load(tmp_path / "nlp")(TEXTS[0])) == []
    loaded = spacy.load(tmp_path / "nlp", config={"components": {"zeroshot_nli": {"save_io": True}}})
    assert len(audit.explain(loaded(TEXTS[0]))) == len(LABELS)


def test_audit_recorded_again_replaces_not_appends(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    doc = nlp(TEXTS[0])
    first = audit.explain(doc)
    nlp.get_pipe("zeroshot_textcat")(doc)
    assert audit.explain(doc) == first


def test_audit_cli_explain_exports_decisions(full_nlp: Language, tmp_path: Path) -> None:
    path = tmp_path / "pipeline"
    full_nlp.to_disk(path)
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}) for t in ENTITY_TEXTS) + "\n", encoding="utf8")
    args = ["annotate", str(path), str(source), "--quiet"]
    assert main(args + [str(tmp_path / "plain.jsonl"), "--components.zeroshot_nli.save_io", "false"]) == 0
    assert main(args + [str(tmp_path / "out.jsonl"), str(tmp_path / "out.spacy"), "--explain"]) == 0
    plain_rows = [json.loads(line) for line in (tmp_path / "plain.jsonl").read_text(encoding="utf8").splitlines()]
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf8").splitlines()]
    assert all("explain" not in row for row in plain_rows)
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(full_nlp.vocab))
    for row, doc in zip(rows, docs):
        assert row["explain"] == plain(audit.review_explanations(doc))
    row = rows[0]
    cats = [d for d in row["explain"] if d["component"] == "zeroshot_textcat"]
    assert [d["label"] for d in cats] == LABELS and all(d["target"] == "doc" for d in cats)
    assert cats[0]["pairs"][0]["premise"] == [0, len(row["text"])]
    typed = [d for d in row["explain"] if d["component"] == "zeroshot_entity_typer"]
    assert typed[0]["target"] == {"start": 0, "end": 5, "text": "Apple"}
    assert {d["label"]: d["score"] for d in typed} == pytest.approx(row["spans"][0]["type_scores"])
    related = [d for d in row["explain"] if d["component"] == "zeroshot_relation_extractor"]
    assert related and set(related[0]["target"]) == {"head", "tail"}
