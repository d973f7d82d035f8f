"""Training groups from gold examples: the same premises and hypotheses as inference, per task."""

import math
from typing import Any, Dict, List, Optional

import pytest
import spacy
from entity_pipelines import ALIASES, INLINE_SOURCE, build, spy_on_score
from spacy.tokens import Span
from spacy.training import Example

from spacy_zeroshot.tasks.context import premise_doc

LABELS = ["travel", "cooking", "sports"]


def textcat_nlp(model: str, **config: Any) -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, **config})
    return nlp


def example(nlp: spacy.language.Language, text: str, cats: Dict[str, float]) -> Example:
    return Example.from_dict(nlp.make_doc(text), {"cats": cats})


def test_textcat_groups_skip_docs_without_gold(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    textcat = nlp.get_pipe("zeroshot_textcat")
    examples = [
        example(nlp, "one day I will see the world", {"travel": 1.0, "cooking": 0.0, "sports": 0.0}),
        example(nlp, "no gold here", {}),
        example(nlp, "two positives", {"travel": 1.0, "cooking": 1.0}),
        example(nlp, "She cooked pasta", {"cooking": 1.0}),  # others missing: still one positive
    ]
    groups = textcat.training_groups(examples)
    assert [g.target for g in groups] == [0, 1]
    assert groups[0].pairs == [("one day I will see the world", textcat.hypotheses[i]) for i in range(3)]
    multi = textcat_nlp(deberta_path, multi_label=True).get_pipe("zeroshot_textcat")
    groups = multi.training_groups(examples)
    assert [g.target for g in groups] == [(1.0, 0.0, 0.0), (1.0, 1.0, None), (None, 1.0, None)]


@pytest.mark.parametrize("multi_label", [False, True])
def test_textcat_loss_is_minus_log_pipeline_score(model_path: str, multi_label: bool) -> None:
    nlp = textcat_nlp(model_path, multi_label=multi_label)
    text = "The team won the match and the fans celebrated"
    cats = nlp(text).cats
    textcat, nli = nlp.get_pipe("zeroshot_textcat"), nlp.get_pipe("zeroshot_nli")
    gold = {"travel": 0.0, "cooking": 0.0, "sports": 1.0}
    loss, _ = nli.trainer.loss(textcat.training_groups([example(nlp, text, gold)]))
    if multi_label:
        expected = -sum(math.log(cats[k]) if v else math.log(1 - cats[k]) for k, v in gold.items()) / 3
    else:
        expected = -math.log(cats["sports"])
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-5)


def test_textcat_windows_train_on_inference_windows(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nlp = textcat_nlp(deberta_path, long_text="windows")
    textcat = nlp.get_pipe("zeroshot_textcat")
    text = " ".join(["The team won the match and the fans celebrated in the stadium all night."] * 12)
    calls = spy_on_score(monkeypatch, textcat.backend)
    nlp(text)
    group = textcat.training_groups([example(nlp, text, {"sports": 1.0})])[0]
    assert len(group.premises) > 1
    assert group.pairs == calls[0]


def annotated(nlp: spacy.language.Language, text: str, ents: List[Any], kb: Optional[Dict[str, str]] = None) -> Example:
    kb = kb or {}
    predicted = nlp.make_doc(text)
    reference = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
    spans = [reference.char_span(text.index(m), text.index(m) + len(m), label=label, kb_id=kb.get(m, "")) for m, label in ents]
    reference.ents = spans
    return Example(predicted, reference)


def test_typing_groups_match_inference_pairs(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    types = {"ORG": ["company", "university"], "PERSON": ["politician", "scientist"]}
    nlp = build(deberta_path, typer={"labels": types})
    typer = nlp.get_pipe("zeroshot_entity_typer")
    text = "Apple was founded by Steve Jobs in California. Paris is the capital of France."
    eg = annotated(nlp, text, [("Apple", "company"), ("Steve Jobs", "scientist"), ("Paris", "city")])
    groups = typer.training_groups([eg])
    assert [g.target for g in groups] == [0, 1]  # "city" is no candidate type: skipped
    calls = spy_on_score(monkeypatch, typer.backend)
    nlp(text)  # the ruler labels Apple ORG and Steve Jobs PERSON
    inference = calls[0]
    assert [p for g in groups for p in g.pairs] == [p for p in inference if p[1].startswith(("Apple", "Steve"))]
    multi = build(deberta_path, typer={"labels": types, "multi_label": True}).get_pipe("zeroshot_entity_typer")
    assert [g.target for g in multi.training_groups([eg])] == [(1.0, 0.0), (0.0, 1.0)]


def test_linking_groups_skip_nil_and_unknown_ids(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nlp = build(deberta_path, linker={"candidates": INLINE_SOURCE})
    linker = nlp.get_pipe("zeroshot_entity_linker")
    text = "Barack Obama was born in Hawaii and met Apple in Paris"
    eg = annotated(
        nlp, text, [("Barack Obama", "PERSON"), ("Apple", "ORG"), ("Paris", "LOC")],
        kb={"Apple": "Q312", "Paris": "Q999", "Barack Obama": "NIL"},
    )
    groups = linker.training_groups([eg])
    assert len(groups) == 1 and groups[0].exclusive and groups[0].target == 0
    assert len(groups[0].options) == len(ALIASES["apple"])
    calls = spy_on_score(monkeypatch, linker.backend)
    nlp(text)
    assert set(groups[0].pairs) <= set(calls[0])


def test_relation_groups_targets_and_constraints(deberta_path: str) -> None:
    from test_relations_component import LABELS
    from test_relations_component import build as build_relations

    nlp = build_relations(deberta_path, {"negatives_per_positive": -1})  # every negative, no sampling
    rel = nlp.get_pipe("zeroshot_relation_extractor")
    text = "Apple was founded by Steve Jobs in California."
    reference = nlp.get_pipe("entity_ruler")(nlp.get_pipe("sentencizer")(nlp.make_doc(text)))
    apple, jobs, california = [(e.start, e.end) for e in reference.ents]
    reference._.relations = [
        {"head": list(apple), "tail": list(jobs), "label": "founded_by"},
        {"head": list(jobs), "tail": list(apple), "label": "founded_by"},  # head must be ORG: skipped
        {"head": list(jobs), "tail": list(california), "label": "Other"},  # unknown: a negative
    ]
    groups = rel.training_groups([Example(nlp.make_doc(text), reference)])
    candidates = rel.candidates(reference)
    kept = [c for c in candidates if (c.head, c.tail) != (jobs, apple)]
    assert len(groups) == len(kept) == len(candidates) - 1
    for group, pair in zip(groups, kept):
        names = [label.name for label in pair.labels]
        expected = [1.0 if (pair.head, pair.tail) == (apple, jobs) and n == "founded_by" else 0.0 for n in names]
        assert list(group.target) == expected
        assert group.options == tuple(tuple(label.hypotheses(pair.subj, pair.obj)) for label in pair.labels)
        assert group.premises == (pair.premise,)
    assert set(LABELS) >= {n for c in candidates for n in [label.name for label in c.labels]}
    reference._.relations = None
    assert rel.training_groups([Example(nlp.make_doc(text), reference)]) == []


def test_sentence_premises_need_sentences(deberta_path: str) -> None:
    nlp = build(deberta_path, typer={"labels": ["company", "city"]})
    typer = nlp.get_pipe("zeroshot_entity_typer")
    text = "Apple is big. Paris is old."
    doc = nlp.make_doc(text)
    doc.ents = [Span(doc, 0, 1, label="company")]
    with pytest.raises(ValueError, match="E303"):
        typer.training_groups([Example(nlp.make_doc(text), doc)])
    predicted = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
    assert premise_doc(Example(predicted, doc), True, "typer") is predicted
    assert typer.training_groups([Example(predicted, doc)])[0].premises == ("Apple is big.",)


def test_initialize_checks_examples_as_annotating_components_leave_them(deberta_path: str) -> None:
    """`spacy train` runs [training] annotating_components (a sentencizer) before each update:
    the initialize check sees the examples so annotated, and does not stop a corpus without
    sentence boundaries that training will read with sentences."""
    nlp = build(deberta_path, typer={"labels": ["company", "city"]})
    text = "Apple is big. Paris is old."
    reference = nlp.make_doc(text)
    reference.ents = [Span(reference, 0, 1, label="company")]
    assert not reference.has_annotation("SENT_START")
    examples = [Example(nlp.make_doc(text), reference)]
    with pytest.raises(ValueError, match="E303"):
        nlp.initialize(lambda: examples)
    nlp.config["training"]["annotating_components"] = ["sentencizer"]
    nlp.initialize(lambda: examples)
    assert not examples[0].predicted.has_annotation("SENT_START")  # the check annotates copies
