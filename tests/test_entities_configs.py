"""The entity typing / linking configs and example run end to end on the tiny model."""

import importlib.util
from pathlib import Path

import spacy
from spacy.util import load_config, load_model_from_config

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Barack Obama visited Paris. Apple hired Knowledgator staff."


def _load(name, model, tmp_path=None):
    overrides = {
        "components.zeroshot_nli.model": model,
        "components.zeroshot_nli.device": "cpu",
        "paths.patterns": str(ROOT / "configs" / "entity_patterns.json"),
    }
    if name == "linking":
        overrides["paths.aliases"] = str(ROOT / "configs" / "entity_aliases.jsonl")
    config = load_config(ROOT / "configs" / f"entity_{name}.cfg", overrides=overrides)
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    return nlp


def test_entity_typing_config_runs(deberta_path, tmp_path):
    nlp = _load("typing", deberta_path)
    assert nlp.pipe_names == ["sentencizer", "entity_ruler", "zeroshot_nli", "zeroshot_entity_typer"]
    doc = nlp(TEXT)
    assert [e.text for e in doc.ents] == ["Barack Obama", "Paris", "Apple", "Knowledgator"]
    assert all(e._.zeroshot_type_scores for e in doc.ents)
    nlp.to_disk(tmp_path / "typing")
    again = spacy.load(tmp_path / "typing")(TEXT)
    assert [e.label_ for e in again.ents] == [e.label_ for e in doc.ents]


def test_entity_linking_config_runs(deberta_path, tmp_path):
    nlp = _load("linking", deberta_path)
    doc = nlp(TEXT)
    by_text = {e.text: e for e in doc.ents}
    assert set(by_text["Paris"]._.zeroshot_link_scores) == {"Q90", "Q167646"}
    assert set(by_text["Knowledgator"]._.zeroshot_link_scores) == {
        "knowledgator-company", "knowledgator-product", "knowledgator-city"}
    assert all(e.kb_id_ for e in doc.ents)
    nlp.to_disk(tmp_path / "linking")
    again = spacy.load(tmp_path / "linking")(TEXT)
    assert [e.kb_id_ for e in again.ents] == [e.kb_id_ for e in doc.ents]


def _example():
    spec = importlib.util.spec_from_file_location("entities_example", ROOT / "examples" / "entities.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entities_example_runs(deberta_path, capsys):
    result = _example().main(["--model", deberta_path, "--device", "cpu"])
    out = capsys.readouterr().out
    assert "Model card example" in out
    assert {e["text"] for e in result["entities"]} >= {"Barack Obama", "Apple", "Paris"}
    assert set(result["model_card"]["scores"]) == {"company", "product", "city"}
