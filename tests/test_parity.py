"""Parity with transformers' ZeroShotClassificationPipeline on the tiny models (max abs diff <= 1e-4)."""

import pytest
import spacy

from spacy_zeroshot import ZeroShotClassifier

TEXTS = [
    "one day I will see the world",
    "She cooked pasta with tomatoes, garlic and basil for her family on Sunday.",
    "Shares fell sharply after the company reported weaker profits than expected.",
    "What is the capital city of Ukraine?\nKyiv is a large city.",
]
LABELS = ["travel", "cooking", "dancing", "business"]
TOLERANCE = 1e-4


def hf_scores(model_path, text, labels, multi_label, template):
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model_path, device=-1)
    result = classifier(text, labels, multi_label=multi_label, hypothesis_template=template)
    return dict(zip(result["labels"], result["scores"]))


def textcat_nlp(model_path, labels, multi_label, template):
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model_path, "device": "cpu"})
    nlp.add_pipe(
        "zeroshot_textcat",
        config={"labels": labels, "multi_label": multi_label, "hypothesis_template": template},
    )
    return nlp


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("template", ["This example is {}.", "The topic is {}"])
def test_textcat_matches_transformers_pipeline(model_path, multi_label, template):
    nlp = textcat_nlp(model_path, LABELS, multi_label, template)
    for doc in nlp.pipe(TEXTS, batch_size=3):
        expected = hf_scores(model_path, doc.text, LABELS, multi_label, template)
        assert set(doc.cats) == set(expected)
        assert max(abs(doc.cats[label] - expected[label]) for label in LABELS) <= TOLERANCE


@pytest.mark.parametrize("multi_label", [False, True])
def test_textcat_single_label_matches_transformers(model_path, multi_label):
    nlp = textcat_nlp(model_path, ["travel"], multi_label, "This example is {}.")
    doc = nlp(TEXTS[0])
    expected = hf_scores(model_path, TEXTS[0], ["travel"], multi_label, "This example is {}.")
    assert abs(doc.cats["travel"] - expected["travel"]) <= TOLERANCE


def test_textcat_descriptions_match_transformers(model_path):
    descriptions = {"TRAVEL": "travel and tourism", "FOOD": "cooking", "ART": "dancing"}
    nlp = textcat_nlp(model_path, descriptions, False, "This example is about {}.")
    doc = nlp(TEXTS[1])
    expected = hf_scores(model_path, TEXTS[1], list(descriptions.values()), False, "This example is about {}.")
    for label, description in descriptions.items():
        assert abs(doc.cats[label] - expected[description]) <= TOLERANCE


@pytest.mark.parametrize("multi_label", [False, True])
def test_classifier_matches_transformers(model_path, multi_label):
    classifier = ZeroShotClassifier(model_path, device="cpu")
    results = classifier(TEXTS, LABELS, multi_label=multi_label)
    for text, result in zip(TEXTS, results):
        expected = hf_scores(model_path, text, LABELS, multi_label, "This example is {}.")
        assert result["sequence"] == text
        assert result["scores"] == sorted(result["scores"], reverse=True)
        got = dict(zip(result["labels"], result["scores"]))
        assert max(abs(got[label] - expected[label]) for label in LABELS) <= TOLERANCE


@pytest.mark.parametrize("arch", ["deberta", "bert"])
@pytest.mark.parametrize(
    "id2label",
    [
        {0: "entailment", 1: "neutral", 2: "contradiction"},
        {0: "contradiction", 1: "neutral", 2: "entailment"},
        {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"},
        {0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"},
    ],
)
@pytest.mark.parametrize("multi_label", [False, True])
def test_parity_across_label_layouts(make_model, arch, id2label, multi_label):
    path = make_model(arch, id2label)
    result = ZeroShotClassifier(path, device="cpu")(TEXTS[2], LABELS, multi_label=multi_label)
    expected = hf_scores(path, TEXTS[2], LABELS, multi_label, "This example is {}.")
    got = dict(zip(result["labels"], result["scores"]))
    assert max(abs(got[label] - expected[label]) for label in LABELS) <= TOLERANCE


def test_parity_missing_entailment_label_errors(make_model):
    path = make_model("deberta", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    nlp = textcat_nlp(path, LABELS, False, "This example is {}.")
    with pytest.raises(ValueError, match="E001"):
        nlp(TEXTS[0])


@pytest.mark.parametrize("multi_label", [False, True])
def test_parity_with_trained_model(shared_minilm, multi_label):
    """On a real trained NLI model (logits spread like a trained model's), in float32 on both sides."""
    import torch
    from transformers import pipeline

    hf = pipeline("zero-shot-classification", model=shared_minilm, device=-1, torch_dtype=torch.float32)
    nlp = textcat_nlp(shared_minilm, LABELS, multi_label, "This example is about {}.")
    for doc in nlp.pipe(TEXTS, batch_size=2):
        result = hf(doc.text, LABELS, multi_label=multi_label, hypothesis_template="This example is about {}.")
        expected = dict(zip(result["labels"], result["scores"]))
        assert max(abs(doc.cats[label] - expected[label]) for label in LABELS) <= TOLERANCE
