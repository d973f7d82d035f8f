"""Every task through the one scoring loop (`tasks.base`), driven by the deterministic fake
scorer of tests/fake_scorer.py: no model is built, decisions are checked against logits
computed here, and the close-call re-check and the audit capture are the shared ones."""

from dataclasses import FrozenInstanceError, asdict, replace
from typing import Any, List

import numpy as np
import pytest
import spacy
import srsly
from fake_scorer import FakeScorer, exact_logits
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_zeroshot import audit
from spacy_zeroshot.maths import exclusive_scores, multilabel_scores
from spacy_zeroshot.tasks.base import PairBatch, PairTask, close_decisions, run_task, score_batch
from spacy_zeroshot.tasks.candidates import AliasTable
from spacy_zeroshot.tasks.decisions import CalibrationTask
from spacy_zeroshot.tasks.entities import TyperSettings, TyperTask
from spacy_zeroshot.tasks.linking import LinkerSettings, LinkerTask
from spacy_zeroshot.tasks.ranking import RankerSettings, SpanRankTask
from spacy_zeroshot.tasks.relations import RelationSettings, RelationTask, normalize_relation_labels
from spacy_zeroshot.tasks.textcat import TextcatSettings, TextcatTask

NLP = spacy.blank("en")
LABELS = ["travel", "cooking", "sports"]


def textcat_settings(**overrides: Any) -> TextcatSettings:
    cfg = {
        "labels": LABELS,
        "descriptions": {label: label for label in LABELS},
        "hypothesis_template": "This example is {}.",
        "multi_label": False,
        "threshold": 0.5,
        "thresholds": {},
        "long_text": "truncate",
        "aggregate": "max",
    }
    cfg.update(overrides)
    return TextcatSettings(**cfg)


def entity_doc(text: str = "Apple hired Steve Jobs in Paris .") -> Doc:
    doc = NLP(text)
    doc.ents = [Span(doc, 0, 1, "ORG"), Span(doc, 2, 4, "PERSON"), Span(doc, 5, 6, "LOC")]
    return doc


def typer_settings(**overrides: Any) -> TyperSettings:
    cfg = {
        "types": {"*": {"company": "company", "person": "person", "city": "city"}},
        "spans_key": None,
        "proposals": None,
        "hypothesis_template": "{mention} is a {label}.",
        "context": "doc",
        "window": 0,
        "mention_markers": None,
        "multi_label": False,
        "threshold": 0.0,
        "thresholds": {},
        "on_low_confidence": "keep",
    }
    cfg.update(overrides)
    return TyperSettings(**cfg)


LINKER_SETTINGS = LinkerSettings(
    spans_key=None,
    ent_labels=[],
    hypothesis_template="{mention} is {description}.",
    context="doc",
    window=0,
    mention_markers=None,
    threshold=0.0,
    nil="NIL",
)
ALIASES = AliasTable(
    {"Apple": [{"id": "Q312", "name": "Apple Inc.", "description": "a company"}, {"id": "Q89", "name": "apple", "description": "a fruit"}]}
)


def relation_settings() -> RelationSettings:
    labels = normalize_relation_labels({"employs": "{subj} employs {obj}.", "located in": ["{subj} is in {obj}.", "{subj} lives in {obj}."]}, "", "rel")
    return RelationSettings(labels=labels, template="{subj} {label} {obj}.", threshold=0.0, thresholds={}, spans_key=None, max_distance=10, context="doc", window=0, extension="relations")


def ranker_task() -> SpanRankTask:
    settings = RankerSettings(query=None, hypothesis_template="This text is about {}.", spans_key="cands", top_k=None, threshold=0.0, output_key="ranked", long_text="truncate", aggregate="max")
    return SpanRankTask(settings, "ranker", lambda doc: "cooking")


def ranker_doc() -> Doc:
    doc = NLP("Boil the pasta . The match was won . Add salt .")
    doc.spans["cands"] = [doc[0:4], doc[4:9], doc[9:12]]
    return doc


def every_task() -> List[Any]:
    return [
        (TextcatTask(textcat_settings(), "textcat"), [NLP("I flew to Rome and ate pasta."), NLP("")]),
        (TyperTask(typer_settings(), "typer"), [entity_doc()]),
        (LinkerTask(LINKER_SETTINGS, ALIASES, "linker"), [entity_doc()]),
        (RelationTask(relation_settings(), "rel"), [entity_doc()]),
        (ranker_task(), [ranker_doc()]),
    ]


def test_pair_tasks_satisfy_the_protocol():
    for task, _ in every_task():
        assert isinstance(task, PairTask)


def test_pair_tasks_predictions_are_plain_and_deterministic():
    for task, docs in every_task():
        first = run_task(FakeScorer(), task, docs, task.requests(docs, FakeScorer()))
        second = run_task(FakeScorer(), task, docs, task.requests(docs, FakeScorer()))
        assert first == second
        assert len(first) == len(docs)
        assert srsly.msgpack_loads(srsly.msgpack_dumps(first)) == first


def test_pair_tasks_empty_docs_call_no_scorer():
    for task, _ in every_task():
        scorer = FakeScorer()
        docs = [NLP("")]
        predictions = run_task(scorer, task, docs, task.requests(docs, scorer))
        assert scorer.calls == []
        assert len(predictions) == 1


def test_textcat_task_scores_are_the_pipelines_maths():
    doc = NLP("I flew to Rome and ate pasta.")
    for multi_label in (False, True):
        task = TextcatTask(textcat_settings(multi_label=multi_label), "textcat")
        [prediction] = run_task(FakeScorer(), task, [doc], task.requests([doc], FakeScorer()))
        logits = np.stack([exact_logits((doc.text, f"This example is {label}.")) for label in LABELS])
        want = multilabel_scores(logits, 0, 2) if multi_label else exclusive_scores(logits, 0)
        assert list(prediction["cats"]) == LABELS
        assert np.allclose(list(prediction["cats"].values()), want)


def test_typer_task_takes_the_best_type():
    doc = entity_doc()
    task = TyperTask(typer_settings(), "typer")
    [entries] = run_task(FakeScorer(), task, [doc], task.requests([doc], FakeScorer()))
    for entry in entries:
        mention = doc[entry["start"] : entry["end"]].text
        logits = np.stack([exact_logits((doc.text, f"{mention} is a {t}.")) for t in ("company", "person", "city")])
        scores = exclusive_scores(logits, 0)
        assert entry["type"] == ["company", "person", "city"][int(scores.argmax())]
        assert np.allclose(list(entry["scores"].values()), scores)


def test_relation_task_label_is_best_template():
    doc = entity_doc()
    task = RelationTask(relation_settings(), "rel")
    [relations] = run_task(FakeScorer(), task, [doc], task.requests([doc], FakeScorer()))
    assert relations  # threshold 0: every candidate pair gets its best label
    for rel in relations:
        subj, obj = doc[rel["head"][0] : rel["head"][1]].text, doc[rel["tail"][0] : rel["tail"][1]].text
        located = max(multilabel_scores(exact_logits((doc.text, t.format(subj=subj, obj=obj))), 0, 2) for t in ("{subj} is in {obj}.", "{subj} lives in {obj}."))
        assert rel["scores"]["located in"] == pytest.approx(float(located))


def test_close_call_recheck_is_shared_and_only_rescores_close_decisions():
    rechecked = 0
    for task, docs in every_task():
        lossy = FakeScorer(lossy_step=0.5, recheck_margin=0.3)
        batch = task.requests(docs, lossy)
        logits = score_batch(lossy, task, batch)
        exact = FakeScorer()
        exact_scores = task.option_scores(batch, score_batch(exact, task, batch))
        close = close_decisions(batch, task.option_scores(batch, type(logits)(lossy.score(batch.pairs), 0, 2)), 0.3)
        assert sorted(set(lossy.rescored)) == sorted({batch.rows[i] for i in close if batch.rows[i][1] > batch.rows[i][0]})
        # Re-checked decisions read exact logits.
        for i in close:
            assert np.allclose(task.option_scores(batch, logits)[i], exact_scores[i])
        rechecked += len(close)
    assert rechecked  # the margin makes some decisions close


def test_close_decisions_rank_together_and_thresholds():
    batch = PairBatch(rows=[(0, 1), (1, 2), (2, 3)], thresholds=[[0.5], None, None], ranked=False, ranked_together=[[1, 2]])
    scores = [np.array([0.51]), np.array([0.9]), np.array([0.1])]
    assert close_decisions(batch, scores, 0.1) == [0]
    scores = [np.array([0.99]), np.array([0.6]), np.array([0.59])]
    assert close_decisions(batch, scores, 0.1) == [1, 2]
    assert close_decisions(batch, scores, 0.0) == []


def test_audit_capture_is_shared_by_every_task():
    for task, docs in every_task():
        with audit.recording() as trail:
            predictions = run_task(FakeScorer(), task, docs, task.requests(docs, FakeScorer()))
        trail.write(docs, "task", ["entailment", "neutral", "contradiction"])
        decisions = [d for doc in docs for d in doc.user_data[audit.USER_DATA_KEY]["task"]["decisions"]]
        if isinstance(task, SpanRankTask):
            assert decisions == []  # ranked spans are not recorded
            continue
        assert decisions
        for decision in decisions:
            for pair in decision["pairs"]:
                premise = pair["premise"]
                doc = docs[0]
                text = premise if isinstance(premise, str) else doc.text[premise[0] : premise[1]]
                assert pair["logits"] == pytest.approx(exact_logits((text, pair["hypothesis"])).tolist())
        assert predictions


def test_pair_tasks_gold_groups_use_the_inference_pairs():
    doc = entity_doc()
    reference = entity_doc()
    reference.ents = [Span(reference, 0, 1, "company"), Span(reference, 2, 4, "person")]
    reference.cats = {"travel": 1.0, "cooking": 0.0, "sports": 0.0}
    example = Example(doc, reference)
    textcat = TextcatTask(textcat_settings(), "textcat")
    [group] = textcat.gold_groups([example], FakeScorer())
    batch = textcat.requests([reference], FakeScorer())
    assert {(p, h) for p in group.premises for option in group.options for h in option} == set(batch.pairs)
    assert group.target == 0  # 'travel', the one gold label
    typer = TyperTask(typer_settings(), "typer")
    assert len(typer.gold_groups([example], FakeScorer())) == 2  # the two gold spans with a candidate type
    assert ranker_task().gold_groups([example], FakeScorer()) == []


def test_task_components_are_spacy_pipes_with_the_error_handler(make_nlp):
    from spacy.pipeline import Pipe

    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "long_text": "sentences"})
    textcat = nlp.get_pipe("zeroshot_textcat")
    assert isinstance(textcat, Pipe)
    assert textcat.labels == tuple(LABELS)
    with pytest.raises(ValueError, match="E059"):  # no sentence boundaries
        list(nlp.pipe(["Two words here", "and more"]))
    failed: List[Any] = []
    nlp.set_error_handler(lambda name, proc, docs, error: failed.append((name, len(docs), str(error)[:6])))
    assert list(nlp.pipe(["Two words here", "and more"], batch_size=1)) == []
    assert failed == [("zeroshot_textcat", 1, "[E059]")] * 2


def test_pair_tasks_calibration_adapters_return_new_settings():
    textcat = TextcatTask(textcat_settings(multi_label=True), "textcat")
    adapter = textcat.calibration()
    assert isinstance(adapter, CalibrationTask) and adapter.scope == "per_label"
    before = textcat.settings
    after = adapter.with_thresholds(before, 0.3, {"travel": 0.7})
    after = adapter.with_label_wording(after, "travel", "trips")
    assert (after.threshold, after.thresholds, after.descriptions["travel"]) == (0.3, {"travel": 0.7}, "trips")
    assert before == textcat_settings(multi_label=True)  # the old settings are untouched
    assert TextcatTask(after, "textcat").hypotheses[0] == "This example is trips."
    typer = TyperTask(typer_settings(), "typer").calibration()
    assert typer.with_label_wording(typer.settings, "city", "town").types["*"] == {"company": "company", "person": "person", "city": "town"}
    linker = LinkerTask(LINKER_SETTINGS, ALIASES, "linker").calibration()
    opened = linker.open_thresholds(replace(LINKER_SETTINGS, threshold=0.8))
    assert opened.threshold == 0.0 and not hasattr(opened, "thresholds") and linker.get_thresholds(opened) == (0.0, {})
    relations = RelationTask(relation_settings(), "rel").calibration()
    retemplated = relations.with_template(relations.settings, "{subj} has {label} {obj}.")
    assert retemplated.template == "{subj} has {label} {obj}."
    assert retemplated.labels["located in"]["templates"] == ["{subj} is in {obj}.", "{subj} lives in {obj}."]
    assert ranker_task().calibration() is None
    with pytest.raises(FrozenInstanceError):
        before.threshold = 0.1  # type: ignore[misc]


def test_task_components_cfg_is_their_settings_read_only(make_nlp):
    nlp = make_nlp("zeroshot_textcat", {"labels": LABELS, "multi_label": True})
    textcat = nlp.get_pipe("zeroshot_textcat")
    assert isinstance(textcat.settings, TextcatSettings)
    assert textcat.cfg == asdict(textcat.settings)
    assert (textcat.cfg["labels"], textcat.cfg["multi_label"], textcat.cfg["threshold"]) == (LABELS, True, 0.5)
    with pytest.raises(TypeError):
        textcat.cfg["threshold"] = 0.9  # a stray write raises instead of being lost
    textcat.settings = replace(textcat.settings, threshold=0.9)
    assert textcat.cfg["threshold"] == 0.9 and textcat.threshold_for("travel") == 0.9
