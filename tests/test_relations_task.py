"""Relation extraction logic with a deterministic fake scorer: labels, pairs, constraints, thresholds."""

import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import ConfigValidationError

from spacy_zeroshot.tasks.relations import normalize_relation_labels, score_relations

Pair = Tuple[str, str]


class FakeBackend:
    """Scores a (premise, hypothesis) pair with `prob(premise, hypothesis)`, records every call."""

    entailment_index = 0
    contradiction_index = 2
    rechecks = False  # exact scores: nothing to re-check

    def __init__(self, prob: Optional[Callable[[str, str], float]] = None) -> None:
        self.prob = prob or (lambda premise, hypothesis: 0.9)
        self.calls: List[List[Pair]] = []

    def score(self, pairs: List[Pair]) -> np.ndarray:
        self.calls.append(list(pairs))
        logits = np.zeros((len(pairs), 3), dtype=np.float32)
        for row, (premise, hypothesis) in enumerate(pairs):
            p = min(max(self.prob(premise, hypothesis), 1e-6), 1 - 1e-6)
            logits[row, 0] = math.log(p / (1 - p))
        return logits

    @property
    def pairs(self) -> List[Pair]:
        return [pair for call in self.calls for pair in call]


def make_rel_nlp(config: dict, backend: Optional[FakeBackend] = None, sentencizer: bool = True) -> spacy.language.Language:
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    nlp.add_pipe("zeroshot_nli", config={"model": "unused-model-id", "device": "cpu"})
    nlp.add_pipe("zeroshot_relation_extractor", name="rel", config=config)
    nlp.get_pipe("zeroshot_nli").backend = backend or FakeBackend()  # type: ignore[assignment]
    return nlp


def with_ents(nlp: spacy.language.Language, text: str, ents: Dict[str, str]) -> Doc:
    """A doc with sentence boundaries and `doc.ents` for each (surface form -> label)."""
    doc = nlp.make_doc(text)
    for name, proc in nlp.pipeline:
        if name == "sentencizer":
            doc = proc(doc)
    spans = []
    for surface, label in ents.items():
        start = text.index(surface)
        span = doc.char_span(start, start + len(surface), label=label)
        assert span is not None, surface
        spans.append(span)
    doc.ents = spans
    return doc


def run(nlp: spacy.language.Language, doc: Doc) -> Doc:
    for name, proc in nlp.pipeline:
        if name != "sentencizer":
            doc = proc(doc)
    return doc


# Settings --------------------------------------------------------------------------------


def test_relation_labels_list_uses_default_template() -> None:
    settings = normalize_relation_labels(["founded by", "born in"], "{subj} {label} {obj}.", "rel")
    assert settings["founded by"]["templates"] == ["{subj} {label} {obj}."]
    assert settings["born in"]["allowed_head"] is None


def test_relation_labels_mapping_with_templates_and_constraints() -> None:
    settings = normalize_relation_labels(
        {
            "founded_by": ["{obj} founded {subj}.", "{subj} was founded by {obj}."],
            "born_in": {"templates": "{subj} was born in {obj}.", "allowed_head": ["PERSON"], "allowed_tail": "GPE"},
            "capital_of": {"templates": ["{subj} is the capital of {obj}."], "allowed_pairs": ["GPE:GPE"]},
        },
        "{subj} {label} {obj}.",
        "rel",
    )
    assert settings["founded_by"]["templates"] == ["{obj} founded {subj}.", "{subj} was founded by {obj}."]
    assert settings["born_in"]["allowed_head"] == ["PERSON"]
    assert settings["born_in"]["allowed_tail"] == ["GPE"]
    assert settings["capital_of"]["allowed_pairs"] == ["GPE:GPE"]


@pytest.mark.parametrize(
    "labels",
    [
        {"founded_by": "{subj} was founded."},
        {"founded_by": "{obj} was founded."},
        {"founded_by": "{} was founded by {}."},
        {"founded_by": ["{subj} was founded by {obj}.", "founded by {obj}"]},
        {"founded_by": "{subj} was founded by {obj} in {year}."},
        {"founded_by": "{subj} was founded by {obj"},
        {"founded_by": {"templates": ["{subj} founded"]}},
    ],
)
def test_relation_template_without_subj_obj_raises(labels: dict) -> None:
    with pytest.raises(ValueError, match="E150"):
        make_rel_nlp({"labels": labels})


def test_relation_default_template_without_label_raises() -> None:
    with pytest.raises(ValueError, match="E150"):
        make_rel_nlp({"labels": ["founded by"], "template": "{subj} is related to {obj}."})


@pytest.mark.parametrize(
    "labels",
    [
        {"born_in": {"templates": "{subj} was born in {obj}.", "allowed_pairs": ["PERSON-GPE"]}},
        {"born_in": {"templates": "{subj} was born in {obj}.", "allowed_head": []}},
        {"born_in": {"templates": "{subj} was born in {obj}.", "heads": ["PERSON"]}},
        {"born_in": {"allowed_head": ["PERSON"]}},
        {"born_in": 3},
    ],
)
def test_relation_bad_label_settings_raise(labels: dict) -> None:
    with pytest.raises(ValueError, match="E151"):
        make_rel_nlp({"labels": labels})


@pytest.mark.parametrize(
    "config,code",
    [
        ({"labels": []}, "E052"),
        ({"labels": ["a", "a"]}, "E053"),
        ({"labels": ["a"], "thresholds": {"b": 0.5}}, "E152"),
        ({"labels": ["a"], "thresholds": {"a": 1.5}}, "E058"),
        ({"labels": ["a"], "threshold": -0.1}, "E058"),
        ({"labels": ["a"], "max_distance": -1}, "E153"),
        ({"labels": ["a"], "extension": "not an identifier"}, "E155"),
        ({"labels": ["a"], "context": "paragraph"}, "E057"),
    ],
)
def test_relation_bad_config_raises_numbered_error(config: dict, code: str) -> None:
    with pytest.raises(ValueError, match=code):
        make_rel_nlp(config)


def test_relation_bad_config_type_raises_validation_error() -> None:
    with pytest.raises(ConfigValidationError):
        make_rel_nlp({"labels": ["a"], "max_distance": "far"})
    with pytest.raises(ConfigValidationError):
        make_rel_nlp({"labels": ["a"], "thresholds": ["a"]})


# Pairs -----------------------------------------------------------------------------------


def test_relations_no_entities_and_one_entity_score_nothing() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["founded by"], "threshold": 0.0}, backend)
    none = run(nlp, with_ents(nlp, "Apple makes phones.", {}))
    one = run(nlp, with_ents(nlp, "Apple makes phones.", {"Apple": "ORG"}))
    empty = run(nlp, nlp.make_doc(""))
    assert none._.relations == [] and one._.relations == [] and empty._.relations == []
    assert backend.calls == []


def test_relations_many_entities_pair_count_one_call() -> None:
    names = "Ann Bob Cid Dan Eve Fay Gus Hal Ida Jon Kim Lee".split()
    text = ", ".join(names) + " met."
    backend = FakeBackend(lambda p, h: 0.6 + 0.01 * len(h))
    nlp = make_rel_nlp({"labels": {"knows": "{subj} knows {obj}.", "likes": ["{subj} likes {obj}.", "{obj} is liked by {subj}."]}, "threshold": 0.0}, backend)
    doc = run(nlp, with_ents(nlp, text, {n: "PERSON" for n in names}))
    assert len(backend.calls) == 1
    assert len(backend.calls[0]) == 12 * 11 * 3
    assert len(doc._.relations) == 12 * 11
    assert {(tuple(r["head"]), tuple(r["tail"])) for r in doc._.relations} == {
        ((2 * i, 2 * i + 1), (2 * j, 2 * j + 1)) for i in range(12) for j in range(12) if i != j
    }
    for rel in doc._.relations:
        head, tail = doc[rel["head"][0] : rel["head"][1]].text, doc[rel["tail"][0] : rel["tail"][1]].text
        knows = 0.6 + 0.01 * len(f"{head} knows {tail}.")
        likes = 0.6 + 0.01 * len(f"{tail} is liked by {head}.")
        assert rel["scores"] == pytest.approx({"knows": knows, "likes": likes}, abs=1e-5)
        assert rel["label"] == "likes"


def test_relations_pipe_batches_all_docs_in_one_call() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["founded by"]}, backend)
    docs = [with_ents(nlp, f"Apple {i} was founded by Jobs.", {"Apple": "ORG", "Jobs": "PERSON"}) for i in range(5)]
    list(nlp.get_pipe("rel").pipe(docs, batch_size=64))
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 10


def test_relations_type_constraints_prune_before_scoring() -> None:
    backend = FakeBackend()
    labels = {
        "founded_by": {"templates": "{subj} was founded by {obj}.", "allowed_head": ["ORG"], "allowed_tail": ["PERSON"]},
        "born_in": {"templates": "{subj} was born in {obj}.", "allowed_pairs": ["PERSON:GPE"]},
    }
    nlp = make_rel_nlp({"labels": labels}, backend)
    doc = with_ents(nlp, "Apple was founded by Steve Jobs in California.", {"Apple": "ORG", "Steve Jobs": "PERSON", "California": "GPE"})
    doc = run(nlp, doc)
    hypotheses = sorted(h for _, h in backend.pairs)
    assert hypotheses == ["Apple was founded by Steve Jobs.", "Steve Jobs was born in California."]
    assert [(r["label"], list(r["scores"])) for r in doc._.relations] == [
        ("founded_by", ["founded_by"]),
        ("born_in", ["born_in"]),
    ]


def test_relations_thresholds_global_and_per_label() -> None:
    probs = {"Apple founded_by Jobs.": 0.7, "Apple based_in Cupertino.": 0.8, "Jobs founded_by Apple.": 0.3}
    backend = FakeBackend(lambda p, h: probs.get(h, 0.1))
    ents = {"Apple": "ORG", "Jobs": "PERSON", "Cupertino": "GPE"}
    text = "Apple, Jobs and Cupertino."
    labels = {"founded_by": "{subj} founded_by {obj}.", "based_in": "{subj} based_in {obj}."}

    nlp = make_rel_nlp({"labels": labels, "threshold": 0.5}, backend)
    doc = run(nlp, with_ents(nlp, text, ents))
    assert [(r["label"], round(r["score"], 4)) for r in doc._.relations] == [("founded_by", 0.7), ("based_in", 0.8)]

    nlp = make_rel_nlp({"labels": labels, "threshold": 0.75}, backend)
    doc = run(nlp, with_ents(nlp, text, ents))
    assert [r["label"] for r in doc._.relations] == ["based_in"]

    nlp = make_rel_nlp({"labels": labels, "threshold": 0.5, "thresholds": {"based_in": 0.9}}, backend)
    doc = run(nlp, with_ents(nlp, text, ents))
    assert [r["label"] for r in doc._.relations] == ["founded_by"]
    assert doc._.relations[0]["scores"] == pytest.approx({"founded_by": 0.7, "based_in": 0.1}, abs=1e-5)


def test_relations_best_label_among_those_passing_their_threshold() -> None:
    probs = {"Al x Bo.": 0.8, "Al y Bo.": 0.6}
    backend = FakeBackend(lambda p, h: probs.get(h, 0.0))
    nlp = make_rel_nlp({"labels": {"x": "{subj} x {obj}.", "y": "{subj} y {obj}."}, "thresholds": {"x": 0.9}}, backend)
    doc = run(nlp, with_ents(nlp, "Al and Bo.", {"Al": "X", "Bo": "X"}))
    assert [(r["head"], r["label"]) for r in doc._.relations] == [([0, 1], "y")]


def test_relations_label_score_is_max_over_templates() -> None:
    probs = {"Al t1 Bo.": 0.2, "Al t2 Bo.": 0.9, "Bo t3 Al.": 0.4}
    backend = FakeBackend(lambda p, h: probs.get(h, 0.0))
    nlp = make_rel_nlp({"labels": {"rel": ["{subj} t1 {obj}.", "{subj} t2 {obj}.", "{obj} t3 {subj}."]}}, backend)
    doc = run(nlp, with_ents(nlp, "Al and Bo.", {"Al": "X", "Bo": "X"}))
    assert doc._.relations[0]["scores"]["rel"] == pytest.approx(0.9, abs=1e-5)
    assert doc._.relations[0]["head"] == [0, 1]
    assert len(doc._.relations) == 1  # (B, A): max(0.0, 0.0, 0.4) < 0.5


def test_relations_pairs_stay_within_sentences() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["knows"]}, backend)
    doc = run(nlp, with_ents(nlp, "Ann met Bob. Cid stayed home.", {"Ann": "P", "Bob": "P", "Cid": "P"}))
    assert {(doc[r["head"][0]].text, doc[r["tail"][0]].text) for r in doc._.relations} == {("Ann", "Bob"), ("Bob", "Ann")}
    assert {p for p, _ in backend.pairs} == {"Ann met Bob."}


def test_relations_span_across_sentence_boundary_pairs_with_both_sentences() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["knows"], "spans_key": "mentions"}, backend)
    doc = with_ents(nlp, "Ann met Bob. Cid stayed. Dan left.", {})
    assert [s.text for s in doc.sents] == ["Ann met Bob.", "Cid stayed.", "Dan left."]
    crossing = Span(doc, 2, 5, label="P")  # "Bob. Cid" crosses the first boundary
    doc.spans["mentions"] = [Span(doc, 0, 1, "P"), crossing, Span(doc, 5, 6, "P"), Span(doc, 7, 8, "P")]
    doc = run(nlp, doc)
    pairs = {(doc[r["head"][0] : r["head"][1]].text, doc[r["tail"][0] : r["tail"][1]].text) for r in doc._.relations}
    assert pairs == {("Ann", "Bob. Cid"), ("Bob. Cid", "Ann"), ("Bob. Cid", "stayed"), ("stayed", "Bob. Cid")}
    premises = {p for p, _ in backend.pairs}
    assert premises == {"Ann met Bob. Cid stayed."}


def test_relations_max_distance_pairs_across_sentences() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["knows"], "max_distance": 3, "context": "window", "window": 1}, backend, sentencizer=False)
    doc = with_ents(nlp, "Ann met Bob. Cid stayed home with Dan.", {"Ann": "P", "Bob": "P", "Cid": "P", "Dan": "P"})
    doc = run(nlp, doc)
    pairs = {(doc[r["head"][0]].text, doc[r["tail"][0]].text) for r in doc._.relations}
    # Ann-Bob: 1 token between; Bob-Cid: 1; Ann-Cid: 3; Cid-Dan: 3; Bob-Dan: 5; Ann-Dan: 7
    expected = {("Ann", "Bob"), ("Bob", "Cid"), ("Ann", "Cid"), ("Cid", "Dan")}
    assert pairs == expected | {(t, h) for h, t in expected}
    assert "Ann met Bob." in {p for p, _ in backend.pairs}


def test_relations_without_sentence_boundaries_raise() -> None:
    nlp = make_rel_nlp({"labels": ["knows"]}, sentencizer=False)
    doc = with_ents(nlp, "Ann met Bob.", {"Ann": "P", "Bob": "P"})
    with pytest.raises(ValueError, match="E154"):
        run(nlp, doc)


def test_relations_spans_key_reads_span_group() -> None:
    backend = FakeBackend()
    nlp = make_rel_nlp({"labels": ["knows"], "spans_key": "sc"}, backend)
    doc = with_ents(nlp, "Ann met Bob.", {})
    assert run(nlp, doc)._.relations == []
    doc.spans["sc"] = [Span(doc, 0, 1, "P"), Span(doc, 2, 3, "P"), Span(doc, 0, 3, "P")]
    doc = run(nlp, doc)
    assert [(r["head"], r["tail"]) for r in doc._.relations] == [([0, 1], [2, 3]), ([2, 3], [0, 1])]


def test_relations_custom_extension_and_span_helper() -> None:
    nlp = make_rel_nlp({"labels": ["knows"], "extension": "zs_rels"})
    doc = run(nlp, with_ents(nlp, "Ann met Bob.", {"Ann": "P", "Bob": "P"}))
    assert len(doc._.zs_rels) == 2 and doc._.relations is None
    spans = nlp.get_pipe("rel").spans(doc)
    assert [(s.head.text, s.tail.text, s.label) for s in spans] == [("Ann", "Bob", "knows"), ("Bob", "Ann", "knows")]
    assert isinstance(spans[0].head, Span) and spans[0].score == pytest.approx(0.9, abs=1e-5)


def test_relations_set_annotations_is_idempotent_and_predict_pure() -> None:
    nlp = make_rel_nlp({"labels": ["knows"]})
    rel = nlp.get_pipe("rel")
    doc = with_ents(nlp, "Ann met Bob.", {"Ann": "P", "Bob": "P"})
    preds = rel.predict([doc])
    assert doc._.relations is None
    rel.set_annotations([doc], preds)
    first = [dict(r) for r in doc._.relations]
    rel.set_annotations([doc], preds)
    assert doc._.relations == first


# Scoring ---------------------------------------------------------------------------------


def _rel(head: List[int], tail: List[int], label: str) -> dict:
    return {"head": head, "tail": tail, "label": label, "score": 1.0, "scores": {label: 1.0}}


def test_score_relations_micro_and_per_label() -> None:
    nlp = spacy.blank("en")
    pred, gold = nlp("Ann met Bob in Rome."), nlp("Ann met Bob in Rome.")
    gold._.relations = [_rel([0, 1], [2, 3], "knows"), _rel([0, 1], [4, 5], "visited"), _rel([2, 3], [4, 5], "visited")]
    pred._.relations = [_rel([0, 1], [2, 3], "knows"), _rel([0, 1], [4, 5], "visited"), _rel([4, 5], [2, 3], "visited")]
    scores = score_relations([Example(pred, gold)])
    assert scores["rel_micro_p"] == pytest.approx(2 / 3)
    assert scores["rel_micro_r"] == pytest.approx(2 / 3)
    assert scores["rel_micro_f"] == pytest.approx(2 / 3)
    assert scores["rel_per_type"]["knows"] == {"p": 1.0, "r": 1.0, "f": 1.0}
    assert scores["rel_per_type"]["visited"]["p"] == pytest.approx(0.5)


def test_score_relations_matches_by_characters_across_tokenizations() -> None:
    nlp = spacy.blank("en")
    gold = nlp("New York-based Acme.")
    pred = Doc(nlp.vocab, words=["New York", "-", "based", "Acme", "."], spaces=[False, False, True, False, False])
    gold._.relations = [_rel([4, 5], [0, 2], "based_in")]
    pred._.relations = [_rel([3, 4], [0, 1], "based_in")]
    assert score_relations([Example(pred, gold)])["rel_micro_f"] == 1.0


def test_score_relations_without_gold_is_none() -> None:
    nlp = spacy.blank("en")
    scores = score_relations([Example(nlp("a b"), nlp("a b"))])
    assert scores["rel_micro_f"] is None
