"""Dev examples with their gold spans (`spacy-zeroshot.gold_spans.v1`), the shipped pipeline
config, and what `finetune` sets up for span tasks without a span source."""

from pathlib import Path
from typing import Any, Dict

import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Corpus, Example
from spacy.util import load_config, load_model_from_config, registry

from spacy_zeroshot.engines.finetune import dev_scores, training_config

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Ada Lovelace was born in London. She met Babbage."


def reference(nlp: spacy.language.Language) -> spacy.tokens.Doc:
    doc = nlp.make_doc(TEXT)
    doc.ents = [Span(doc, 0, 2, label="PER", kb_id="Q7259"), Span(doc, 5, 6, label="LOC")]
    doc.spans["found"] = [Span(doc, 9, 10, label="PER$ 😀")]
    return doc


def test_gold_spans_copies_reference_spans_to_the_predicted_doc() -> None:
    nlp = spacy.blank("en")
    gold = reference(nlp)
    augment = registry.augmenters.get("spacy-zeroshot.gold_spans.v1")()
    original = Example(nlp.make_doc(TEXT), gold)
    (example,) = list(augment(nlp, original))
    assert [(e.text, e.label_, e.kb_id_) for e in example.predicted.ents] == [("Ada Lovelace", "PER", ""), ("London", "LOC", "")]
    assert example.reference is gold
    assert not original.predicted.ents  # the corpus's own example is not changed
    hidden = registry.augmenters.get("spacy-zeroshot.gold_spans.v1")(label="ENTITY")
    (example,) = list(hidden(nlp, Example(nlp.make_doc(TEXT), gold)))
    assert {e.label_ for e in example.predicted.ents} == {"ENTITY"}
    keyed = registry.augmenters.get("spacy-zeroshot.gold_spans.v1")(spans_key="found")
    (example,) = list(keyed(nlp, Example(nlp.make_doc(TEXT), gold)))
    assert [(s.text, s.label_) for s in example.predicted.spans["found"]] == [("Babbage", "PER$ 😀")]
    assert not example.predicted.ents


def test_gold_spans_maps_offsets_onto_another_tokenization() -> None:
    nlp = spacy.blank("en")
    gold = spacy.tokens.Doc(nlp.vocab, words=["Ada", "Lovelace", "(", "UK", ")"], spaces=[True, True, False, False, False])
    gold.ents = [Span(gold, 3, 4, label="LOC")]
    predicted = nlp.make_doc(gold.text)
    (example,) = list(registry.augmenters.get("spacy-zeroshot.gold_spans.v1")()(nlp, Example(predicted, gold)))
    assert [(e.text, e.label_) for e in example.predicted.ents] == [("UK", "LOC")]


def shipped_pipeline(model: str) -> spacy.language.Language:
    overrides: Dict[str, Any] = {"components.zeroshot_nli.model": model, "components.zeroshot_nli.device": "cpu"}
    config = load_config(ROOT / "configs" / "fewshot_pipeline.cfg", overrides=overrides, interpolate=False)
    return load_model_from_config(config, auto_fill=True)


def test_shipped_pipeline_types_every_span_and_scores_dev_with_gold_spans(deberta_path: str, tmp_path: Path) -> None:
    nlp = shipped_pipeline(deberta_path)
    typer = nlp.get_pipe("zeroshot_entity_typer")
    doc = nlp.make_doc(TEXT)
    doc.ents = [Span(doc, 0, 2, label="NOMINAL")]
    typed = nlp(doc)
    assert [e.label_ for e in typed.ents][0] in {"PER", "ORG", "LOC", "MISC"}, typer.cfg
    corpus = tmp_path / "dev.spacy"
    gold = reference(nlp)
    gold._.relations = []
    DocBin(docs=[gold], store_user_data=True).to_disk(corpus)
    config = load_config(ROOT / "configs" / "fewshot_pipeline.cfg", overrides={"paths.dev": str(corpus), "paths.train": str(corpus)})
    dev = registry.resolve(config.interpolate()["corpora"])["dev"]
    (example,) = list(dev(nlp))
    assert [e.text for e in example.predicted.ents] == ["Ada Lovelace", "London"]


def saved(nlp: spacy.language.Language, path: Path) -> str:
    nlp.to_disk(path)
    return str(path)


def test_finetune_config_follows_the_pipelines_span_source(deberta_path: str, tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["born_in"], "threshold": 0.0})
    corpus = tmp_path / "dev.spacy"
    gold = reference(nlp)
    gold._.relations = [{"head": [0, 2], "tail": [5, 6], "label": "born_in"}]
    DocBin(docs=[gold], store_user_data=True).to_disk(corpus)
    config = training_config(nlp, saved(nlp, tmp_path / "p"), corpus, corpus)
    assert config["training"]["annotating_components"] == ["sentencizer"]
    augmenter = config["corpora"]["dev"]["augmenter"]
    assert augmenter == {"@augmenters": "spacy-zeroshot.gold_spans.v1", "label": None, "spans_key": None}
    weights = {"rel_micro_f": 1.0}
    with_spans = dev_scores(nlp, corpus, weights, augmenter)
    without = dev_scores(nlp, corpus, weights)
    assert with_spans["rel_micro_f"] > 0 and without["rel_micro_f"] == 0  # threshold 0: every pair is predicted
    ruled = spacy.blank("en")
    ruled.add_pipe("sentencizer")
    ruled.add_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Ada Lovelace"}])
    ruled.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    ruled.add_pipe("zeroshot_relation_extractor", config={"labels": ["born_in"]})
    assert training_config(ruled, saved(ruled, tmp_path / "r"), corpus, corpus)["corpora"]["dev"]["augmenter"] is None
    assert isinstance(list(Corpus(str(corpus))(nlp))[0], Example)
