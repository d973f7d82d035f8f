"""`spacy train`, `nlp.update` and `spacy-zeroshot finetune` on the tiny models, end to end."""

import json
import logging
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import pytest
import spacy
import torch
from spacy.tokens import DocBin, Span
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_loop
from spacy.util import load_config
from thinc.api import Adam, Config

from spacy_zeroshot.backend import fast_deberta
from spacy_zeroshot.cli import main
from spacy_zeroshot.training.defaults import FEWSHOT_TRAINING_CONFIG

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["world", "sports", "business", "science and technology"]
DATA = [
    ("one day I will see the world", "world"),
    ("The team won the match and the fans celebrated", "sports"),
    ("Shares fell sharply after the company reported weaker profits", "business"),
    ("Scientists discovered a new species of frog", "science and technology"),
]


def write_corpus(path: Path, copies: int = 2) -> Path:
    nlp = spacy.blank("en")
    db = DocBin()
    for text, gold in DATA * copies:
        doc = nlp.make_doc(text)
        doc.cats = {label: float(label == gold) for label in LABELS}
        db.add(doc)
    db.to_disk(path)
    return path


def weights(nlp: spacy.language.Language) -> Dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in nlp.get_pipe("zeroshot_nli").backend.model.named_parameters()}


def run_spacy_train(model: str, tmp_path: Path, **overrides: Any) -> Tuple[spacy.language.Language, Path]:
    corpus = write_corpus(tmp_path / "train.spacy")
    settings = {
        "paths.train": str(corpus),
        "paths.dev": str(corpus),
        "components.zeroshot_nli.model": model,
        "components.zeroshot_nli.device": "cpu",
        "training.max_epochs": 3,
        "training.eval_frequency": 2,
        "training.batcher.size": 4,
        "training.optimizer.learn_rate.initial_rate": 1e-3,
        "training.optimizer.learn_rate.warmup_steps": 1,
        **overrides,
    }
    config = load_config(ROOT / "configs" / "fewshot_textcat.cfg", overrides=settings, interpolate=False)
    nlp = init_nlp(config)
    (tmp_path / "out").mkdir()
    trained, _ = train_loop(nlp, tmp_path / "out")
    return trained, tmp_path / "out"


@pytest.fixture(scope="module")
def trained(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, Path, Dict[str, Any]]:
    trained_nlp, out = run_spacy_train(deberta_path, tmp_path_factory.mktemp("train"))
    return trained_nlp, out, {}


def test_spacy_train_changes_weights_one_step_per_batch(trained: Any, deberta_path: str) -> None:
    nlp, out, _ = trained
    nli = nlp.get_pipe("zeroshot_nli")
    # 8 docs in batches of 4, 3 epochs: 6 batches, 6 steps.
    assert nli.trainer.steps == 6
    stock = spacy.blank("en")
    stock.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    start = weights(stock)
    now = weights(nlp)
    changed = [n for n in now if not torch.equal(now[n], start[n])]
    assert changed and not any("word_embeddings" in n for n in changed)
    assert not nli.backend.model.training


def test_spacy_train_model_last_roundtrips_offline(trained: Any) -> None:
    nlp, out, _ = trained
    texts = [text for text, _ in DATA]
    loaded = spacy.load(out / "model-last")
    for a, b in zip(nlp.pipe(texts), loaded.pipe(texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    pairs = [(t, "This example is about sports.") for t in texts]
    assert np.allclose(nlp.get_pipe("zeroshot_nli").backend.score(pairs), loaded.get_pipe("zeroshot_nli").backend.score(pairs), atol=1e-6)
    assert (out / "model-best" / "zeroshot_nli" / "model").is_dir()


def test_trained_fast_path_equals_stock(trained: Any) -> None:
    nlp, _, _ = trained
    backend = nlp.get_pipe("zeroshot_nli").backend
    pairs = [(text, f"This example is about {label}.") for text, _ in DATA for label in LABELS]
    fast = backend.score(pairs)
    assert fast_deberta.is_enabled(backend._runner)
    fast_deberta.disable(backend.model)
    with torch.inference_mode():
        features, lengths = backend.encode(pairs)
        stock = backend.model(**backend.tensors(features, list(range(len(pairs))), lengths)).logits.numpy()
    fast_deberta.enable(backend.model)
    assert np.allclose(fast, stock, atol=1e-5)


def test_spacy_train_frozen_nli_changes_nothing(deberta_path: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stock = spacy.blank("en")
    stock.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    start = weights(stock)
    with caplog.at_level(logging.WARNING, logger="spacy"):
        nlp, _ = run_spacy_train(deberta_path, tmp_path, **{"training.frozen_components": ["zeroshot_nli"]})
    assert "W086" in caplog.text  # spaCy's frozen-upstream warning
    now = weights(nlp)
    assert all(torch.equal(now[n], start[n]) for n in start)
    assert nlp.get_pipe("zeroshot_nli").trainer.steps == 0


def test_spacy_train_accumulate_gradient(deberta_path: str, tmp_path: Path) -> None:
    nlp, _ = run_spacy_train(deberta_path, tmp_path, **{"training.accumulate_gradient": 2})
    assert nlp.get_pipe("zeroshot_nli").trainer.steps == 6  # 6 batches, each in 2 sub-batches


def test_nlp_update_takes_one_step_per_call(deberta_path: str) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == g) for lab in LABELS}}) for t, g in DATA]
    optimizer = nlp.initialize(lambda: examples)
    nli = nlp.get_pipe("zeroshot_nli")
    first = nlp.update(examples, sgd=optimizer)["zeroshot_textcat"]
    assert nli.trainer.steps == 1
    for _ in range(10):
        losses = nlp.update(examples, sgd=Adam(1e-3, use_averages=False))
    assert nli.trainer.steps == 11
    assert losses["zeroshot_textcat"] < first
    assert losses["zeroshot_nli"] == pytest.approx(losses["zeroshot_textcat"])
    with pytest.warns(UserWarning, match="W301"):  # thinc's averages cannot cover torch weights
        nlp.update(examples, sgd=Adam(1e-3, use_averages=True))
    assert nli.trainer.steps == 12
    # Excluding the NLI component (frozen) computes the loss without changing the model.
    start = weights(nlp)
    nlp.update(examples, sgd=Adam(1e-3, use_averages=False), exclude=["zeroshot_nli"])
    assert nli.trainer.steps == 12 and all(torch.equal(p, start[n]) for n, p in weights(nlp).items())


def test_pipeline_trains_every_task_from_one_corpus(deberta_path: str) -> None:
    from entity_pipelines import INLINE_SOURCE, PATTERNS
    from test_relations_component import LABELS as RELATIONS

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.add_pipe("zeroshot_entity_linker", config={"candidates": INLINE_SOURCE})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": {"ORG": ["company", "university"]}})
    # Every pair, not a random quarter of those without a gold relation (the default
    # `no_relation_sample`): this one update must give the relation task a loss.
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": RELATIONS, "no_relation_sample": 1.0})
    text = "Apple was founded by Steve Jobs in California. Paris is the capital of France."
    reference = nlp.get_pipe("entity_ruler")(nlp.get_pipe("sentencizer")(nlp.make_doc(text)))
    ents = list(reference.ents)
    reference.ents = [
        spacy.tokens.Span(reference, e.start, e.end, label="company" if e.text == "Apple" else e.label_, kb_id="Q312" if e.text == "Apple" else "")
        for e in ents
    ]
    reference.cats = {label: float(label == "business") for label in LABELS}
    reference._.relations = [{"head": [0, 1], "tail": [4, 6], "label": "founded_by"}]
    examples = [Example(nlp.make_doc(text), reference)]
    optimizer = nlp.initialize(lambda: examples)
    losses: Dict[str, float] = {}
    nlp.update(examples, sgd=optimizer, losses=losses)
    tasks = ["zeroshot_textcat", "zeroshot_entity_linker", "zeroshot_entity_typer", "zeroshot_relation_extractor"]
    assert all(losses[t] > 0 for t in tasks)
    assert losses["zeroshot_nli"] == pytest.approx(sum(losses[t] for t in tasks))
    assert nlp.get_pipe("zeroshot_nli").listening_components == tasks
    assert nlp.get_pipe("zeroshot_nli").trainer.steps == 1


def test_initialize_warns_for_a_task_without_gold(deberta_path: str) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    doc = nlp.make_doc("no labels of ours")
    doc.cats = {label.upper(): float(i == 0) for i, label in enumerate(LABELS)}  # the usual slip: other case
    with pytest.warns(UserWarning, match="W300") as record:
        nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc)])
    message = str(next(w.message for w in record if "W300" in str(w.message)))
    assert repr(LABELS[0].upper()) in message and repr(LABELS[0]) in message


def test_initialize_w300_names_the_gold_labels_of_typer_and_relations(deberta_path: str) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": {"*": ["person", "city"]}, "context": "doc"})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["born_in"], "context": "doc", "max_distance": 10})
    doc = nlp.make_doc("Ada was born in London")
    doc.ents = [Span(doc, 0, 1, label="PER"), Span(doc, 4, 5, label="LOC")]
    doc._.relations = [{"head": [0, 1], "tail": [4, 5], "label": "BORN_IN"}]
    with pytest.warns(UserWarning) as record:
        nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc)])
    messages = [str(w.message) for w in record if "W300" in str(w.message)]
    assert any("'PER', 'LOC'" in m and "'person', 'city'" in m for m in messages), messages
    # Relations learn from negatives too (pairs with no or an unknown relation): W302, not W300.
    negatives_only = [str(w.message) for w in record if "W302" in str(w.message)]
    assert any("'BORN_IN'" in m and "'born_in'" in m for m in negatives_only), negatives_only


def test_fewshot_config_matches_the_finetune_defaults() -> None:
    shipped = Config().from_disk(ROOT / "configs" / "fewshot_textcat.cfg", interpolate=False)
    defaults = Config().from_str(FEWSHOT_TRAINING_CONFIG, interpolate=False)
    for section in ("corpora", "training", "initialize", "system", "pretraining"):
        if section == "initialize":  # per-component settings name the config's components
            shipped[section].pop("components"), defaults[section].pop("components")
        assert shipped[section] == defaults[section], section


@pytest.fixture(scope="module")
def saved_pipeline(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "zero"
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, "hypothesis_template": "This example is about {}."})
    nlp.to_disk(path)
    return path


def finetune(saved: Path, tmp_path: Path, *extra: str) -> Tuple[int, Dict[str, Any]]:
    corpus = write_corpus(tmp_path / "train.spacy", copies=4)
    out = tmp_path / "out"
    code = main(["finetune", str(saved), str(corpus), "--dev", str(corpus), "--output", str(out), "--training.batcher.size", "4", *extra])
    report = json.loads((out / "training.json").read_text()) if code == 0 else {}
    return code, report


def test_finetune_cli_improves_and_reports(saved_pipeline: Path, tmp_path: Path) -> None:
    code, report = finetune(
        saved_pipeline, tmp_path, "--training.max_epochs", "12", "--training.optimizer.learn_rate.initial_rate", "0.002"
    )
    assert code == 0
    assert report["kept"] == "fine-tuned"
    assert report["scores"]["fine_tuned"]["score"] > report["scores"]["zero_shot"]["score"]
    assert report["data"]["train"]["docs"] == 16 and len(report["data"]["train"]["sha256"]) == 64
    best = spacy.load(tmp_path / "out" / "model-best")
    assert best.get_pipe("zeroshot_textcat").labels == tuple(LABELS)
    assert json.loads((tmp_path / "out" / "model-best" / "training.json").read_text()) == report


def test_finetune_cli_records_the_settings_it_ran_with(saved_pipeline: Path, tmp_path: Path) -> None:
    """Overrides reach config.cfg and training.json; a shorter max_steps moves the decay's end."""
    code, report = finetune(saved_pipeline, tmp_path, "--training.max_steps", "3", "--training.eval_frequency", "1")
    assert code == 0
    training = report["settings"]["training"]
    assert (training["max_steps"], training["eval_frequency"], training["batcher"]["size"]) == (3, 1, 4)
    assert training["optimizer"]["learn_rate"]["total_steps"] == 3
    assert training["seed"] == 0  # interpolated, not "${system.seed}"
    saved = Config().from_disk(tmp_path / "out" / "config.cfg", interpolate=False)
    assert saved["training"]["max_steps"] == 3 and saved["training"]["optimizer"]["learn_rate"]["total_steps"] == 3
    assert saved["training"]["batcher"]["size"] == 4


def test_finetune_cli_keeps_zero_shot_when_dev_does_not_improve(saved_pipeline: Path, tmp_path: Path) -> None:
    code, report = finetune(saved_pipeline, tmp_path, "--training.max_epochs", "1", "--training.optimizer.learn_rate.initial_rate", "0")
    assert code == 0 and report["kept"] == "zero-shot"
    zero = spacy.load(saved_pipeline)
    best = spacy.load(tmp_path / "out" / "model-best")
    text = DATA[0][0]
    assert zero(text).cats == pytest.approx(best(text).cats, abs=1e-7)


def test_finetune_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plain = tmp_path / "plain"
    spacy.blank("en").to_disk(plain)
    corpus = write_corpus(tmp_path / "train.spacy")
    assert main(["finetune", str(plain), str(corpus), "--dev", str(corpus), "--output", str(tmp_path / "o")]) == 1
    assert "E304" in capsys.readouterr().err
    assert main(["finetune", str(plain), str(tmp_path / "missing.spacy"), "--dev", str(corpus), "--output", str(tmp_path / "o")]) == 1
    assert "E304" in capsys.readouterr().err


def test_a_task_without_training_groups_trains_alongside(deberta_path: str) -> None:
    # The span ranker does not learn from gold yet: nlp.update and initialize pass over it.
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.add_pipe("zeroshot_span_ranker", config={"query": "sports"})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == g) for lab in LABELS}}) for t, g in DATA]
    optimizer = nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=optimizer)
    assert losses["zeroshot_span_ranker"] == 0.0 and losses["zeroshot_textcat"] > 0
    assert nlp.get_pipe("zeroshot_nli").trainer.steps == 1
    assert nlp.get_pipe("zeroshot_nli").listening_components == ["zeroshot_textcat", "zeroshot_span_ranker"]
