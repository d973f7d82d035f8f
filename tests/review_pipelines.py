"""A pipeline with every review layer (categories, typed entities, links, relations) on the
tiny test model, and hostile texts for the review-format tests."""

from pathlib import Path
from typing import Any, Dict, List

import spacy
from entity_pipelines import INLINE_SOURCE
from spacy.tokens import Doc

CATEGORIES = ["sports", "business $5", "science 🧪"]
TYPES = {"ORG": ["company", "research lab"], "PERSON": ["politician", "scientist"]}
RELATIONS = ["founded by", "located in"]
PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "ORG", "pattern": "Knowledgator"},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "LOC", "pattern": "Paris"},
    {"label": "LOC", "pattern": "France"},
    {"label": "LOC", "pattern": "Café"},
]
# BOM, CRLF, emoji (astral, ZWJ sequence) and combining characters before spans, `$`, an empty doc.
HOSTILE_TEXTS = [
    "\ufeffApple was founded by Steve Jobs in Paris.",
    "Shares of Apple rose $5 today.\r\nParis reacted; France too.",
    "👩‍🔬 e\u0301te\u0301 🧪 Knowledgator opened a lab in Paris. Steve Jobs visited.",
    "",
    "Cafe\u0301 and Café are not the same bytes; Café is in Paris.",
]


def build_review_pipeline(model: str, path: Path) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": CATEGORIES})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": TYPES})
    nlp.add_pipe("zeroshot_entity_linker", config={"candidates": INLINE_SOURCE, "threshold": 0.0})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": RELATIONS, "threshold": 0.0})
    nlp.initialize()
    ruler.add_patterns(PATTERNS)  # after initialize, which would clear them
    nlp.to_disk(path)
    return path


def decisions(doc: Doc, categories: List[str] = CATEGORIES) -> Dict[str, Any]:
    """What a model's doc says, as gold would hold it: the chosen category, entities with
    kb ids, relations (without scores)."""
    cats = {label: doc.cats.get(label, 0.0) for label in categories}
    best = max(cats, key=lambda label: cats[label])
    chosen = [best] if cats[best] > 0 else []
    return {
        "text": doc.text,
        "cats": chosen,
        "ents": [(e.start_char, e.end_char, e.label_, e.kb_id_) for e in doc.ents],
        "relations": [(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in (doc._.relations or [])],
    }


def gold_decisions(doc: Doc) -> Dict[str, Any]:
    return {
        "text": doc.text,
        "cats": [label for label, value in doc.cats.items() if value == 1.0],
        "ents": [(e.start_char, e.end_char, e.label_, e.kb_id_) for e in doc.ents],
        "relations": [(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in (doc._.relations or [])],
    }
