"""Calibration of the components on the tiny real models: gold sets built from the model's own
scores so that the best thresholds are known, save/load, initialize, wording choice, errors."""

import json
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import spacy
from entity_pipelines import INLINE_SOURCE
from entity_pipelines import TEXTS as ENTITY_TEXTS
from entity_pipelines import build as build_entities
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from test_relations_component import TEXTS as RELATION_TEXTS
from test_relations_component import build as build_relations
from tiny_models import corpus_lines

from spacy_zeroshot.calibration import calibrate

TEXTS = corpus_lines()
# Most gold sets here annotate one label only: the others fall back to the global threshold (W430).
pytestmark = pytest.mark.filterwarnings("ignore:.*W430:UserWarning")
LABELS = ["travel", "cooking", "sports"]


def textcat_nlp(model: str, labels: List[str] = LABELS, **config: Any) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": labels, "multi_label": True, **config})
    return nlp


def cut_between(scores: List[float], k: int) -> Tuple[float, float]:
    """The scores just below and at the k-th highest: the best threshold lies in (low, high]."""
    ordered = sorted(set(scores), reverse=True)
    return ordered[k], ordered[k - 1]


def cats_examples(nlp: Language, label: str, cut: float) -> List[Example]:
    docs = list(nlp.pipe(TEXTS))
    return [Example.from_dict(nlp.make_doc(doc.text), {"cats": {label: float(doc.cats[label] >= cut)}}) for doc in docs]


def test_calibration_textcat_finds_known_threshold(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    scores = [doc.cats["travel"] for doc in nlp.pipe(TEXTS)]
    low, high = cut_between(scores, 5)
    examples = cats_examples(nlp, "travel", high)
    textcat = nlp.get_pipe("zeroshot_textcat")
    before = nlp.evaluate(examples)["cats_f_per_type"]["travel"]["f"]
    with pytest.warns(UserWarning, match="W430"):  # "cooking" and "sports" have no gold
        report = textcat.calibrate(examples, min_examples=3)
    assert low < textcat.threshold_for("travel") <= high
    row = next(row for row in report.rows if row["label"] == "travel")
    assert row["f"][1] == 1.0 and row["gold"] == 5 and row["note"] == "calibrated"
    assert row["f"][0] == pytest.approx(before)
    assert nlp.evaluate(examples)["cats_f_per_type"]["travel"]["f"] == 1.0
    for doc, example in zip(nlp.pipe(TEXTS), examples):
        assert ("travel" in textcat.decided_labels(doc)) == (example.reference.cats["travel"] == 1.0)
    # Labels without gold fall back to the global threshold, fitted on every item.
    assert textcat.threshold_for("cooking") == textcat.cfg["threshold"]
    assert "travel" in report.table() and "(all, micro)" in report.table()


def test_calibration_textcat_survives_save_and_load_exactly(deberta_path: str, tmp_path: Path) -> None:
    nlp = textcat_nlp(deberta_path)
    scores = [doc.cats["sports"] for doc in nlp.pipe(TEXTS)]
    examples = cats_examples(nlp, "sports", cut_between(scores, 4)[1])
    nlp.get_pipe("zeroshot_textcat").calibrate(examples, min_examples=2)
    cfg = nlp.get_pipe("zeroshot_textcat").cfg
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.get_pipe("zeroshot_textcat").cfg["thresholds"] == cfg["thresholds"]  # exact floats
    assert loaded.get_pipe("zeroshot_textcat").cfg["threshold"] == cfg["threshold"]
    assert loaded.get_pipe("zeroshot_textcat").calibration == nlp.get_pipe("zeroshot_textcat").calibration
    assert loaded.evaluate(examples)["cats_f_per_type"] == nlp.evaluate(examples)["cats_f_per_type"]


HOSTILE = ["$x", "${y}", "cost in $", "a$$b"]


def test_calibration_hostile_labels_and_template_come_back_byte_identical(deberta_path: str, tmp_path: Path) -> None:
    # Calibration is component data (JSON), never config: `$` and `${...}` in labels and in the
    # chosen template survive unchanged. (The labels themselves live in the config; the
    # pipeline is rebuilt in Python here so that only the component data is under test.)
    template = "Costs ${{price}} or $5: {}."
    nlp = textcat_nlp(deberta_path, labels=HOSTILE)
    docs = list(nlp.pipe(TEXTS))
    examples = [
        Example.from_dict(nlp.make_doc(doc.text), {"cats": {label: float(i % (j + 2) == 0) for j, label in enumerate(HOSTILE)}})
        for i, doc in enumerate(docs)
    ]
    textcat = nlp.get_pipe("zeroshot_textcat")
    textcat.calibrate(examples, templates=[template], descriptions={"${y}": ["${why} $$"]}, min_examples=2)
    chosen = dict(textcat.cfg)
    nlp.to_disk(tmp_path / "nlp")
    fresh = textcat_nlp(deberta_path, labels=HOSTILE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.from_disk(tmp_path / "nlp")
    loaded = fresh.get_pipe("zeroshot_textcat")
    assert set(loaded.cfg["thresholds"]) == set(HOSTILE)
    assert loaded.cfg["thresholds"] == chosen["thresholds"]
    assert loaded.cfg["hypothesis_template"] == chosen["hypothesis_template"]
    assert loaded.cfg["descriptions"] == chosen["descriptions"]
    assert loaded.calibration["wording"]["template"] in ("This example is {}.", template)
    saved = json.loads((tmp_path / "nlp" / "zeroshot_textcat" / "calibration.json").read_text(encoding="utf8"))
    assert set(saved["thresholds"]) == set(HOSTILE)
    bytes_copy = textcat_nlp(deberta_path, labels=HOSTILE)
    bytes_copy.get_pipe("zeroshot_textcat").from_bytes(textcat.to_bytes())
    assert bytes_copy.get_pipe("zeroshot_textcat").cfg == chosen


def test_calibration_chooses_the_template_that_reproduces_gold(deberta_path: str, tmp_path: Path) -> None:
    # Gold: each label where the other template scores it at least its median. With that
    # template and fitted thresholds, dev F1 is 1; the default template ranks docs otherwise.
    other = "It is about {}."
    nlp = textcat_nlp(deberta_path)
    reference = [doc.cats for doc in textcat_nlp(deberta_path, hypothesis_template=other).pipe(TEXTS)]
    cuts = {label: sorted(cats[label] for cats in reference)[len(TEXTS) // 2] for label in LABELS}
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {label: float(cats[label] >= cuts[label]) for label in LABELS}})
        for text, cats in zip(TEXTS, reference)
    ]
    textcat = nlp.get_pipe("zeroshot_textcat")
    report = textcat.calibrate(examples, templates=["Nothing like {} here.", other], min_examples=2)
    (slot,) = report.wording
    assert [c["value"] for c in slot["candidates"]] == ["This example is {}.", "Nothing like {} here.", other]
    tried = {c["value"]: c["f"] for c in slot["candidates"]}
    assert tried[other] == 1.0 and tried["This example is {}."] < 1.0
    assert slot["chosen"] == other and textcat.cfg["hypothesis_template"] == other
    assert report.micro["f"][1] == 1.0
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.get_pipe("zeroshot_textcat").cfg["hypothesis_template"] == other
    assert loaded.evaluate(examples)["cats_micro_f"] == 1.0


def test_calibration_state_keeps_earlier_choices(deberta_path: str, tmp_path: Path) -> None:
    nlp = textcat_nlp(deberta_path)
    textcat = nlp.get_pipe("zeroshot_textcat")
    examples = cats_examples(nlp, "travel", cut_between([d.cats["travel"] for d in nlp.pipe(TEXTS)], 5)[1])
    textcat.calibrate(examples, min_examples=2)
    thresholds = dict(textcat.cfg["thresholds"])
    textcat.calibrate(examples, descriptions={"cooking": ["food"]}, thresholds=False)
    assert textcat.cfg["thresholds"] == thresholds
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp").get_pipe("zeroshot_textcat")
    assert loaded.cfg["thresholds"] == thresholds
    assert loaded.cfg["descriptions"] == textcat.cfg["descriptions"]


def test_calibration_scores_each_pair_once_across_candidates(deberta_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nlp = textcat_nlp(deberta_path)
    backend = nlp.get_pipe("zeroshot_nli").backend
    examples = cats_examples(nlp, "travel", 0.5)
    run = backend._run
    seen: List[Tuple[str, str]] = []

    def spy(pairs: Any, *args: Any, **kwargs: Any) -> Any:
        seen.extend(pairs)
        return run(pairs, *args, **kwargs)

    monkeypatch.setattr(backend, "_run", spy)
    nlp.get_pipe("zeroshot_textcat").calibrate(examples, templates=["A {}.", "B {}."], descriptions={"travel": ["trips"]})
    assert len(seen) == len(set(seen))
    assert backend.cache.size == 0  # the pipeline's own cache setting is back


def test_calibration_entity_typer_thresholds_per_type(deberta_path: str) -> None:
    types = ["company", "person", "city"]
    nlp = build_entities(deberta_path, typer={"labels": types, "threshold": 0.0})
    texts = [t for t in ENTITY_TEXTS if t.strip()]
    docs = list(nlp.pipe(texts))
    best: Dict[str, List[float]] = {t: [] for t in types}
    for doc in docs:
        for ent in doc.ents:
            scores = ent._.zeroshot_type_scores
            top = max(scores, key=scores.get)
            best[top].append(scores[top])
    # Gold: a span is its best type when that scores at least the type's median, else keeps its rule label.
    cuts = {t: sorted(v)[len(v) // 2] for t, v in best.items() if v}
    typer = nlp.get_pipe("zeroshot_entity_typer")
    typer.settings = replace(typer.settings, threshold=0.5)
    examples = []
    plain = build_entities(deberta_path)
    for text, doc in zip(texts, docs):
        entities = []
        for ent, rule in zip(doc.ents, plain(text).ents):
            scores = ent._.zeroshot_type_scores
            top = max(scores, key=scores.get)
            entities.append((ent.start_char, ent.end_char, top if scores[top] >= cuts[top] else rule.label_))
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": entities}))
    report = typer.calibrate(examples, min_examples=1)
    for t, cut in cuts.items():
        below = [s for s in best[t] if s < cut]
        assert (max(below) if below else 0.0) < typer.cfg["thresholds"][t] <= cut
    assert nlp.evaluate(examples)["ents_f"] == 1.0
    assert report.micro["f"][0] < 1.0 and report.micro["f"][1] == 1.0


def test_calibration_entity_linker_nil_threshold(deberta_path: str, tmp_path: Path) -> None:
    nlp = build_entities(deberta_path, linker={"candidates": INLINE_SOURCE, "threshold": 0.0})
    texts = [t for t in ENTITY_TEXTS if t.strip()]
    docs = list(nlp.pipe(texts))
    best = sorted(max(e._.zeroshot_link_scores.values()) for d in docs for e in d.ents if e._.zeroshot_link_scores)
    cut = best[len(best) // 2]
    examples = []
    for text, doc in zip(texts, docs):
        entities = []
        for ent in doc.ents:
            scores = ent._.zeroshot_link_scores
            top = max(scores, key=scores.get) if scores else "NIL"
            kb_id = top if scores and scores[top] >= cut else "NIL"
            entities.append((ent.start_char, ent.end_char, ent.label_, kb_id))
        reference = nlp.make_doc(text)
        reference.ents = [reference.char_span(s, e, label=lab, kb_id=kb) for s, e, lab, kb in entities]
        examples.append(Example(nlp.make_doc(text), reference))
    linker = nlp.get_pipe("zeroshot_entity_linker")
    linker.settings = replace(linker.settings, threshold=0.5)
    report = linker.calibrate(examples, min_examples=1)
    below = [s for s in best if s < cut]
    assert (max(below) if below else 0.0) < linker.cfg["threshold"] <= cut
    assert report.rows == [] and report.micro["f"][0] < 1.0 and report.micro["f"][1] == 1.0
    assert nlp.evaluate(examples)["nel_micro_f"] == 1.0
    nlp.to_disk(tmp_path / "nlp")
    assert spacy.load(tmp_path / "nlp").get_pipe("zeroshot_entity_linker").cfg["threshold"] == linker.cfg["threshold"]


def relation_examples(nlp: Language, texts: List[str], thresholds: Dict[str, float]) -> List[Example]:
    """Gold relations: what the extractor emits with these per-label thresholds."""
    extractor = nlp.get_pipe("zeroshot_relation_extractor")
    saved = extractor.settings
    extractor.settings = replace(saved, thresholds=thresholds)
    docs = list(nlp.pipe(texts))
    extractor.settings = saved
    examples = []
    for doc in docs:
        reference = nlp.make_doc(doc.text)
        reference.ents = [reference.char_span(e.start_char, e.end_char, label=e.label_) for e in doc.ents]
        reference._.relations = [{"head": r["head"], "tail": r["tail"], "label": r["label"]} for r in doc._.relations]
        examples.append(Example(nlp.make_doc(doc.text), reference))
    return examples


def test_calibration_relations_reaches_known_optimum(deberta_path: str, tmp_path: Path) -> None:
    nlp = build_relations(deberta_path, {"threshold": 0.5})
    texts = [t for t in RELATION_TEXTS if t.strip()]
    scores: Dict[str, List[float]] = {}
    for doc in build_relations(deberta_path).pipe(texts):  # threshold 0: every pair, every allowed label
        for rel in doc._.relations:
            for label, score in rel["scores"].items():
                scores.setdefault(label, []).append(score)
    target = {label: sorted(values)[len(values) // 2] for label, values in scores.items()}
    examples = relation_examples(nlp, texts, target)
    assert nlp.evaluate(examples)["rel_micro_f"] < 1.0, "the default thresholds must not already be optimal"
    extractor = nlp.get_pipe("zeroshot_relation_extractor")
    report = extractor.calibrate(examples, min_examples=1)
    assert report.micro["f"][1] == 1.0
    assert nlp.evaluate(examples)["rel_micro_f"] == 1.0
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.get_pipe("zeroshot_relation_extractor").cfg["thresholds"] == extractor.cfg["thresholds"]
    assert loaded.evaluate(examples)["rel_micro_f"] == 1.0


def test_calibration_initialize_with_examples_calibrates_and_without_changes_nothing(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    nlp.initialize()  # spaCy's dummy examples carry no gold
    textcat = nlp.get_pipe("zeroshot_textcat")
    assert textcat.calibration is None and textcat.cfg["thresholds"] == {} and textcat.cfg["threshold"] == 0.5
    examples = cats_examples(nlp, "travel", cut_between([d.cats["travel"] for d in nlp.pipe(TEXTS)], 5)[1])
    nlp.config["initialize"]["components"]["zeroshot_textcat"] = {"min_examples": 2}
    nlp.initialize(lambda: examples)
    assert textcat.calibration is not None
    assert nlp.evaluate(examples)["cats_f_per_type"]["travel"]["f"] == 1.0


def test_calibration_initialize_can_be_turned_off(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    examples = cats_examples(nlp, "travel", 0.6)
    nlp.config["initialize"]["components"]["zeroshot_textcat"] = {"calibrate": False}
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("zeroshot_textcat").calibration is None


ASSEMBLE_CONFIG = """
[paths]
dev = null

[nlp]
lang = "en"
pipeline = ["zeroshot_nli","zeroshot_textcat"]

[components]

[components.zeroshot_nli]
factory = "zeroshot_nli"
model = "{model}"
device = "cpu"

[components.zeroshot_textcat]
factory = "zeroshot_textcat"
labels = ["travel","cooking","sports"]
multi_label = true

[initialize]

[initialize.components]

[initialize.components.zeroshot_textcat]
min_examples = 2
templates = ["It is about {{}}."]

[initialize.components.zeroshot_textcat.examples]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
gold_preproc = false
"""


@pytest.mark.slow
def test_calibration_spacy_assemble_calibrates_on_a_dev_corpus(deberta_path: str, tmp_path: Path) -> None:
    nlp = textcat_nlp(deberta_path)
    examples = cats_examples(nlp, "travel", cut_between([d.cats["travel"] for d in nlp.pipe(TEXTS)], 5)[1])
    DocBin(docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    (tmp_path / "config.cfg").write_text(ASSEMBLE_CONFIG.format(model=deberta_path), encoding="utf8")
    command = [sys.executable, "-m", "spacy", "assemble", str(tmp_path / "config.cfg"), str(tmp_path / "out"), "--paths.dev", str(tmp_path / "dev.spacy")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = spacy.load(tmp_path / "out")
    textcat = loaded.get_pipe("zeroshot_textcat")
    assert textcat.calibration is not None
    assert textcat.calibration["wording"]["template"] in ("This example is {}.", "It is about {}.")
    assert loaded.evaluate(examples)["cats_f_per_type"]["travel"]["f"] == pytest.approx(
        textcat.calibration["report"]["rows"][0]["f"][1]
    )


def test_calibration_warns_and_falls_back_for_rare_labels(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    docs = list(nlp.pipe(TEXTS))
    examples = [
        Example.from_dict(nlp.make_doc(d.text), {"cats": {"travel": float(i < 6), "cooking": float(i == 0)}})
        for i, d in enumerate(docs)
    ]
    with pytest.warns(UserWarning, match="W430"):
        report = nlp.get_pipe("zeroshot_textcat").calibrate(examples, min_examples=3)
    notes = {row["label"]: row["note"] for row in report.rows}
    assert notes["travel"] == "calibrated" and notes["cooking"].startswith("global: 1 gold")
    textcat = nlp.get_pipe("zeroshot_textcat")
    assert textcat.threshold_for("cooking") == textcat.cfg["threshold"]
    with pytest.warns(UserWarning, match="W432"):
        textcat_nlp(deberta_path).get_pipe("zeroshot_textcat").calibrate(examples[:2], min_examples=50)


def test_calibration_warns_on_saved_labels_the_component_lacks(deberta_path: str, tmp_path: Path) -> None:
    nlp = textcat_nlp(deberta_path)
    nlp.get_pipe("zeroshot_textcat").calibrate(cats_examples(nlp, "travel", 0.6), min_examples=1)
    nlp.to_disk(tmp_path / "nlp")
    with pytest.warns(UserWarning, match="W431"):
        loaded = spacy.load(tmp_path / "nlp", config={"components": {"zeroshot_textcat": {"labels": ["cooking", "sports"]}}})
    assert "travel" not in loaded.get_pipe("zeroshot_textcat").cfg["thresholds"]


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"examples": [{"text": "x"}]}, "E431"),
        ({"examples": "gold"}, "E431"),
        ({"min_examples": 0}, "E435"),
        ({"templates": "It is {}."}, "E437"),
        ({"templates": ["no placeholder"]}, "E055"),
        ({"descriptions": {"unknown": ["x"]}}, "E436"),
        ({"descriptions": {"travel": "trips"}}, "E436"),
        ({"descriptions": {"travel": [""]}}, "E433"),
    ],
)
def test_calibration_bad_input_raises_numbered_error(deberta_path: str, kwargs: Dict[str, Any], code: str) -> None:
    nlp = textcat_nlp(deberta_path)
    examples = kwargs.pop("examples", None) or cats_examples(nlp, "travel", 0.6)
    with pytest.raises(ValueError, match=code):
        nlp.get_pipe("zeroshot_textcat").calibrate(examples, **kwargs)


def test_calibration_without_gold_or_without_task_raises(deberta_path: str) -> None:
    nlp = textcat_nlp(deberta_path)
    no_gold = [Example.from_dict(nlp.make_doc(t), {}) for t in TEXTS[:3]]
    with pytest.raises(ValueError, match="E432"):
        nlp.get_pipe("zeroshot_textcat").calibrate(no_gold)
    with pytest.raises(ValueError, match="E430"):
        calibrate(nlp.get_pipe("zeroshot_nli"), no_gold)  # type: ignore[arg-type]
    linker_nlp = build_entities(deberta_path, linker={"candidates": INLINE_SOURCE})
    reference = linker_nlp.make_doc("Apple")
    reference.ents = [reference.char_span(0, 5, label="ORG", kb_id="Q312")]
    gold = [Example(linker_nlp.make_doc("Apple"), reference)]
    with pytest.raises(ValueError, match="E434"):
        linker_nlp.get_pipe("zeroshot_entity_linker").calibrate(gold, descriptions={})
    with pytest.raises(ValueError, match="E432"):
        nlp.config["initialize"]["components"]["zeroshot_textcat"] = {"templates": ["It is {}."]}
        nlp.initialize()


def test_calibration_corrupt_file_raises_numbered_error(deberta_path: str, tmp_path: Path) -> None:
    nlp = textcat_nlp(deberta_path)
    nlp.get_pipe("zeroshot_textcat").calibrate(cats_examples(nlp, "travel", 0.6), min_examples=1)
    nlp.to_disk(tmp_path / "nlp")
    (tmp_path / "nlp" / "zeroshot_textcat" / "calibration.json").write_text('{"version": 99}', encoding="utf8")
    with pytest.raises(ValueError, match="E438"):
        spacy.load(tmp_path / "nlp")
