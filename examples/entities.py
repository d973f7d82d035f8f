"""Zero-shot entity typing and linking end to end.

An entity_ruler finds the mentions, `zeroshot_entity_typer` types them into finer types and
`zeroshot_entity_linker` links them to candidate entities from an alias table, all with one
NLI model. The last part reproduces the linking example of the knowledgator/comprehend_it-base
model card.

    python examples/entities.py --model knowledgator/comprehend_it-base --device cpu
"""

import argparse
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.language import Language

TEXTS = [
    "Barack Obama was born in Hawaii and served as president of the United States.",
    "Apple was founded by Steve Jobs in California. Paris is the capital of France.",
    "",
]
PATTERNS = [
    {"label": "PERSON", "pattern": [{"LOWER": "barack"}, {"LOWER": "obama"}]},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "ORG", "pattern": "Apple"},
    {"label": "LOC", "pattern": "Hawaii"},
    {"label": "LOC", "pattern": "California"},
    {"label": "LOC", "pattern": "Paris"},
    {"label": "LOC", "pattern": "France"},
]
TYPES = {
    "PERSON": ["politician", "athlete", "entrepreneur"],
    "ORG": ["company", "university", "government agency"],
    "LOC": ["city", "country", "state"],
}
ALIASES = {
    "Barack Obama": [{"id": "Q76", "name": "Barack Obama", "description": "a president of the United States"}],
    "Apple": [
        {"id": "Q312", "name": "Apple Inc.", "description": "a technology company"},
        {"id": "Q89", "name": "apple", "description": "a fruit"},
    ],
    "Paris": [
        {"id": "Q90", "name": "Paris", "description": "the capital city of France"},
        {"id": "Q167646", "name": "Paris", "description": "a prince of Troy in Greek mythology"},
    ],
}
MODEL_CARD_TEXT = (
    "Knowledgator is an open-source ML research organization focused on advancing the "
    "information extraction field."
)
MODEL_CARD_CANDIDATES = [
    {"id": "company", "name": "Knowledgator - company"},
    {"id": "product", "name": "Knowledgator - product"},
    {"id": "city", "name": "Knowledgator - city"},
]


def build_pipeline(model: str, device: str) -> Language:
    """Sentences and mentions from rules, then typing and linking with one shared NLI model."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": TYPES, "threshold": 0.0})
    nlp.add_pipe(
        "zeroshot_entity_linker",
        config={"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": ALIASES}},
    )
    return nlp


def model_card_pipeline(model: str, device: str) -> Language:
    """The model card's example as a linker: the candidates are the card's labels, the
    hypothesis is its template ("This example is {}.") and the premise the whole text."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Knowledgator"}])
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device})
    nlp.add_pipe(
        "zeroshot_entity_linker",
        config={
            "candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": {"Knowledgator": MODEL_CARD_CANDIDATES}},
            "hypothesis_template": "This example is {name}.",
            "context": "doc",
            "threshold": 0.0,
        },
    )
    return nlp


def run(model: str, device: str) -> Dict[str, Any]:
    """Annotate the example texts; returns plain data (also printed by `main`)."""
    nlp = build_pipeline(model, device)
    entities: List[Dict[str, Any]] = []
    for doc in nlp.pipe(TEXTS):
        for ent in doc.ents:
            entities.append(
                {
                    "text": ent.text,
                    "label": ent.label_,
                    "kb_id": ent.kb_id_,
                    "type_scores": ent._.zeroshot_type_scores,
                    "link_scores": ent._.zeroshot_link_scores,
                }
            )
    card = model_card_pipeline(model, device)(MODEL_CARD_TEXT)
    mention = card.ents[0]
    return {"entities": entities, "model_card": {"kb_id": mention.kb_id_, "scores": mention._.zeroshot_link_scores}}


def _format_scores(scores: Optional[Dict[str, float]]) -> str:
    if not scores:
        return "-"
    return ", ".join(f"{key} {value:.3f}" for key, value in sorted(scores.items(), key=lambda kv: -kv[1]))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda", "cuda:N" or "mps"')
    args = parser.parse_args(argv)
    result = run(args.model, args.device)
    for ent in result["entities"]:
        print(f"{ent['text']:<14} {ent['label']:<14} {ent['kb_id']:<8} types: {_format_scores(ent['type_scores'])}")
        print(f"{'':<38} links: {_format_scores(ent['link_scores'])}")
    card = result["model_card"]
    print(f"\nModel card example -> {card['kb_id']}: {_format_scores(card['scores'])}")
    return result


if __name__ == "__main__":
    main()
