"""Shared data and builders for the entity typing and linking tests."""

from typing import Any, Dict, List, Optional

import spacy
from spacy.language import Language

TEXTS = [
    "Apple was founded by Steve Jobs in California. Paris is the capital of France.",
    "",
    "The team won the match and the fans celebrated in the stadium all night.",
    "Barack Obama was born in Hawaii and met Apple in Paris",
    "   ",
    "Knowledgator is an open-source ML research organization focused on advancing the information extraction field.",
]
PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "ORG", "pattern": "Knowledgator"},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "PERSON", "pattern": [{"LOWER": "barack"}, {"LOWER": "obama"}]},
    {"label": "LOC", "pattern": "California"},
    {"label": "LOC", "pattern": "Paris"},
    {"label": "LOC", "pattern": "France"},
    {"label": "LOC", "pattern": "Hawaii"},
]
TYPES = {"ORG": ["company", "university", "government agency"], "PERSON": ["politician", "scientist"]}
ALIASES = {
    "apple": [
        {"id": "Q312", "name": "Apple Inc.", "description": "a technology company"},
        {"id": "Q89", "name": "apple", "description": "a fruit"},
    ],
    "Paris": [
        {"id": "Q90", "name": "Paris", "description": "the capital of France"},
        {"id": "Q167646", "name": "Paris", "description": "a prince of Troy"},
    ],
    "barack obama": [{"id": "Q76", "name": "Barack Obama", "description": "a president of the United States"}],
    "Knowledgator": [
        {"id": "company", "name": "Knowledgator - company"},
        {"id": "product", "name": "Knowledgator - product"},
        {"id": "city", "name": "Knowledgator - city"},
    ],
}
INLINE_SOURCE = {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": ALIASES}


def build(
    model: str,
    typer: Optional[Dict[str, Any]] = None,
    linker: Optional[Dict[str, Any]] = None,
    *,
    sentencizer: bool = True,
    ruler: str = "entity_ruler",
    patterns: Optional[List[Dict[str, Any]]] = None,
    nli: Optional[Dict[str, Any]] = None,
) -> Language:
    """sentencizer + a ruler + zeroshot_nli (tiny model, CPU) + typer and/or linker."""
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    rule_pipe = nlp.add_pipe(ruler, config={"spans_key": "sc"} if ruler == "span_ruler" else {})
    rule_pipe.add_patterns(patterns or PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu", **(nli or {})})
    if typer is not None:
        nlp.add_pipe("zeroshot_entity_typer", config=typer)
    if linker is not None:
        nlp.add_pipe("zeroshot_entity_linker", config=linker)
    return nlp


def spans_of(doc: Any, spans_key: Optional[str] = None) -> List[Dict[str, Any]]:
    """Plain-data view of the typed / linked spans of a doc."""
    spans = doc.ents if spans_key is None else doc.spans.get(spans_key, [])
    return [
        {
            "span": (s.start, s.end),
            "label": s.label_,
            "kb_id": s.kb_id_,
            "types": s._.zeroshot_type_scores,
            "links": s._.zeroshot_link_scores,
        }
        for s in spans
    ]


def assert_same_spans(a: List[Dict[str, Any]], b: List[Dict[str, Any]], abs_tol: float = 1e-5) -> None:
    assert [(x["span"], x["label"], x["kb_id"]) for x in a] == [(x["span"], x["label"], x["kb_id"]) for x in b]
    for x, y in zip(a, b):
        for key in ("types", "links"):
            if x[key] is None or y[key] is None:
                assert x[key] is None and y[key] is None
                continue
            assert set(x[key]) == set(y[key])
            assert all(abs(x[key][k] - y[key][k]) <= abs_tol for k in x[key])


def spy_on_score(monkeypatch: Any, backend: Any) -> List[List[Any]]:
    """Record the pairs of every `backend.score` call."""
    calls: List[List[Any]] = []
    original = backend.score

    def score(pairs: Any) -> Any:
        calls.append(list(pairs))
        return original(pairs)

    monkeypatch.setattr(backend, "score", score)
    return calls
