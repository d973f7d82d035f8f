"""The `zeroshot_relation_extractor` component on tiny real models: the component contract and parity."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_zeroshot.maths import multilabel_scores
from spacy_zeroshot.tasks.relations import relation_spans

PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "GPE", "pattern": "California"},
    {"label": "GPE", "pattern": "Paris"},
    {"label": "GPE", "pattern": "France"},
    {"label": "GPE", "pattern": "Hawaii"},
    {"label": "PERSON", "pattern": [{"LOWER": "barack"}, {"LOWER": "obama"}]},
    {"label": "GPE", "pattern": [{"LOWER": "the"}, {"LOWER": "united"}, {"LOWER": "states"}]},
    {"label": "GENE", "pattern": "FKBP5"},
    {"label": "DISEASE", "pattern": "PTSD"},
    {"label": "DISEASE", "pattern": "depression"},
]
TEXTS = [
    "Apple was founded by Steve Jobs in California. Paris is the capital of France.",
    "Barack Obama was born in Hawaii and served as president of the United States.",
    "FKBP5 gene variants are associated with PTSD and depression in adults.",
    "",
    "The team won the match.",
    "Paris",
    "Apple and Apple.",
]
LABELS: Dict[str, Any] = {
    "founded_by": {"templates": ["{obj} founded {subj}.", "{subj} was founded by {obj}."], "allowed_head": ["ORG"]},
    "located_in": "{subj} is in {obj}.",
    "associated_with": {"templates": "{subj} is associated with {obj}.", "allowed_pairs": ["GENE:DISEASE", "DISEASE:GENE"]},
}


def build(model: str, config: Optional[Dict[str, Any]] = None, **nli: Any) -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu", **nli})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": LABELS, "threshold": 0.0, **(config or {})})
    return nlp


def relations(doc: Doc) -> List[Dict[str, Any]]:
    return doc._.relations or []


def as_lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    return value


def assert_same(a: List[Dict[str, Any]], b: List[Dict[str, Any]]) -> None:
    assert [(r["head"], r["tail"], r["label"]) for r in a] == [(r["head"], r["tail"], r["label"]) for r in b]
    for x, y in zip(a, b):
        assert x["score"] == pytest.approx(y["score"], abs=1e-5)
        assert x["scores"] == pytest.approx(y["scores"], abs=1e-5)


@pytest.fixture(scope="module")
def rel_nlp(deberta_path: str) -> spacy.language.Language:
    return build(deberta_path)


def test_relations_work_after_add_pipe(rel_nlp: spacy.language.Language) -> None:
    doc = rel_nlp(TEXTS[0])
    assert {r["label"] for r in doc._.relations} <= set(LABELS)
    for rel in doc._.relations:
        assert set(rel) == {"head", "tail", "label", "score", "scores"}
        assert all(isinstance(v, int) for v in rel["head"] + rel["tail"])
        assert isinstance(rel["score"], float) and all(isinstance(v, float) for v in rel["scores"].values())
        assert rel["score"] == max(rel["scores"].values())
    # founded_by only with an ORG head; associated_with only between a gene and a disease.
    heads = {(doc[r["head"][0]].ent_type_, label) for r in doc._.relations for label in r["scores"]}
    assert all(head == "ORG" for head, label in heads if label == "founded_by")
    assert not any(label == "associated_with" for _, label in heads)


def test_relations_empty_and_entity_less_docs(rel_nlp: spacy.language.Language) -> None:
    for text in ("", "   ", "The team won the match.", "Paris"):
        assert rel_nlp(text)._.relations == []


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_relations_pipe_equals_call(rel_nlp: spacy.language.Language, batch_size: int) -> None:
    piped = list(rel_nlp.pipe(TEXTS, batch_size=batch_size))
    for text, doc in zip(TEXTS, piped):
        assert_same(relations(doc), relations(rel_nlp(text)))


N_PROCESS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[2])
from test_relations_component import TEXTS, build
nlp = build(sys.argv[1])
piped = [doc._.relations for doc in nlp.pipe(TEXTS, n_process=2, batch_size=2)]
print(json.dumps(piped))
"""


def test_relations_pipe_n_process_2(rel_nlp: spacy.language.Language, deberta_path: str, tmp_path: Path) -> None:
    # A fresh interpreter: forking a process whose torch thread pool already ran can deadlock
    # the workers (a torch/OpenMP limitation, not ours), and this test process has run torch.
    script = tmp_path / "n_process.py"
    script.write_text(N_PROCESS_SCRIPT, encoding="utf8")
    command = [sys.executable, str(script), deberta_path, str(Path(__file__).parent)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    piped = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(piped)
    for text, rels in zip(TEXTS, piped):
        assert_same(rels or [], relations(rel_nlp(text)))


def test_relations_one_backend_call_per_batch(rel_nlp: spacy.language.Language, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = rel_nlp.get_pipe("zeroshot_nli").backend
    calls: List[int] = []
    score = backend.score

    def spy(pairs: Any) -> Any:
        calls.append(len(pairs))
        return score(pairs)

    monkeypatch.setattr(backend, "score", spy)
    list(rel_nlp.pipe(TEXTS, batch_size=64))
    assert len(calls) == 1


def test_relations_many_entities_batching_is_correct(deberta_path: str) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    names = ["Paris", "France", "Hawaii", "California", "Apple", "Steve", "Jobs", "Barack", "Obama", "Kyiv", "London", "Berlin"]
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "X", "pattern": n} for n in names])
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu", "max_batch_pairs": 16})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["near"], "threshold": 0.0})
    doc = nlp(", ".join(names) + " are places.")
    assert len(doc.ents) == 12
    rels = doc._.relations
    assert len(rels) == 132
    backend = nlp.get_pipe("zeroshot_nli").backend
    ent, contra = backend.entailment_index, backend.contradiction_index
    checked = rels[::31]
    hypotheses = [f"{doc[r['head'][0]].text} near {doc[r['tail'][0]].text}." for r in checked]
    for rel, hypothesis in zip(checked, hypotheses):
        logits = backend.score([(doc.text, hypothesis)])[0]  # alone: no padding, no neighbours
        assert rel["scores"]["near"] == pytest.approx(float(multilabel_scores(logits, ent, contra)), abs=1e-5)


def test_relations_to_disk_and_load(rel_nlp: spacy.language.Language, tmp_path: Path) -> None:
    rel_nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("zeroshot_relation_extractor").cfg["labels"] == rel_nlp.get_pipe("zeroshot_relation_extractor").cfg["labels"]
    for text in TEXTS:
        assert_same(relations(loaded(text)), relations(rel_nlp(text)))


def test_relations_survive_docbin_and_to_bytes(rel_nlp: spacy.language.Language) -> None:
    docs = list(rel_nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(rel_nlp.vocab))
    for doc, back in zip(docs, restored):
        # DocBin restores user data with msgpack's use_list=False: lists come back as tuples.
        assert as_lists(back._.relations) == doc._.relations
        assert [(s.head.text, s.label) for s in relation_spans(back)] == [(s.head.text, s.label) for s in relation_spans(doc)]
        assert Doc(rel_nlp.vocab).from_bytes(doc.to_bytes())._.relations == doc._.relations
    assert any(doc._.relations for doc in restored)


def test_relations_evaluate_keys(rel_nlp: spacy.language.Language) -> None:
    predicted = rel_nlp(TEXTS[0])
    gold_relations = [dict(r) for r in predicted._.relations[:2]]
    gold_relations.append({"head": [0, 1], "tail": [5, 6], "label": "never_predicted", "score": 1.0, "scores": {}})
    reference = rel_nlp.make_doc(TEXTS[0])
    reference._.relations = gold_relations
    scores = rel_nlp.evaluate([Example(rel_nlp.make_doc(TEXTS[0]), reference)])
    assert {"rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_per_type"} <= set(scores)
    n_pred = len(predicted._.relations)
    assert scores["rel_micro_p"] == pytest.approx(2 / n_pred)
    assert scores["rel_micro_r"] == pytest.approx(2 / 3)
    assert scores["rel_per_type"]["never_predicted"]["r"] == 0.0


def test_relations_share_backend_with_textcat(deberta_path: str) -> None:
    nlp = build(deberta_path)
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["science", "politics"]})
    rel, cat = nlp.get_pipe("zeroshot_relation_extractor"), nlp.get_pipe("zeroshot_textcat")
    assert rel.backend is cat.backend is nlp.get_pipe("zeroshot_nli").backend


def test_relations_without_nli_component_raises() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["knows"]})
    doc = nlp.make_doc("Ann met Bob.")
    doc.ents = [doc.char_span(0, 3, "P"), doc.char_span(8, 11, "P")]
    with pytest.raises(ValueError, match="E050"):
        nlp.get_pipe("zeroshot_relation_extractor")(nlp.get_pipe("sentencizer")(doc))


def test_relations_match_transformers_pipeline(model_path: str) -> None:
    """Each relation's scores equal the zero-shot pipeline's multi-label scores for (sentence,
    filled template), max over templates; pairs left out score below the threshold."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model_path, device=-1)
    probe = build(model_path)
    docs = [probe(text) for text in TEXTS[:3]]
    best = sorted(r["score"] for doc in docs for r in doc._.relations)
    threshold = best[len(best) // 2]
    nlp = build(model_path, {"threshold": threshold})
    component = nlp.get_pipe("zeroshot_relation_extractor")
    labels = {label.name: label for label in component.relation_labels}
    emitted = left_out = 0
    for text in TEXTS[:3]:
        doc = nlp(text)
        found = {(tuple(r["head"]), tuple(r["tail"])): r for r in doc._.relations}
        for pair in component.candidates(doc):
            premise = doc[pair.head[0]].sent.text
            head, tail = doc[pair.head[0] : pair.head[1]].text, doc[pair.tail[0] : pair.tail[1]].text
            expected = {}
            for label in pair.labels:
                hypotheses = labels[label.name].hypotheses(head, tail)
                out = classifier(premise, candidate_labels=hypotheses, hypothesis_template="{}", multi_label=True)
                expected[label.name] = max(out["scores"])
            rel = found.get((pair.head, pair.tail))
            if rel is None:
                left_out += 1
                assert max(expected.values()) < threshold
            else:
                emitted += 1
                assert rel["scores"] == pytest.approx(expected, abs=1e-4)
                assert rel["score"] == pytest.approx(max(expected.values()), abs=1e-4)
    assert emitted and left_out
