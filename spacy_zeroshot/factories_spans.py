"""The spaCy factories and registered functions of the span tasks: entity typing and linking
(with their candidate sources) and span ranking, with their default configs.

Imported by `factories` (which the entry points name), so these register with it.
"""

from typing import Any, Callable, Dict, List, Optional, Union

from spacy.language import Language
from spacy.util import registry

from .components.entity_linker import ZeroShotEntityLinker, score_entity_links
from .components.entity_typer import ZeroShotEntityTyper, score_entity_types
from .components.span_ranker import ZeroShotSpanRanker, score_span_ranking
from .tasks.candidates import AliasTable, CandidateSource, KBCandidates
from .tasks.gold_spans import gold_spans_augmenter


@registry.augmenters("spacy-zeroshot.gold_spans.v1")
def make_gold_spans(label: Optional[str] = None, spans_key: Optional[str] = None) -> Callable[..., Any]:
    """Dev examples whose predicted docs carry the gold spans (`tasks.gold_spans`), for
    `[corpora.dev] augmenter` when no component of the pipeline finds spans."""
    return gold_spans_augmenter(label=label, spans_key=spans_key)


# ------------------------------------------- zeroshot_entity_typer / zeroshot_entity_linker
# (entity typing and linking; candidate sources)


@registry.scorers("spacy-zeroshot.entity_typer_scorer.v1")
def make_entity_typer_scorer() -> Callable[..., Dict[str, Any]]:
    return score_entity_types


@registry.scorers("spacy-zeroshot.entity_linker_scorer.v1")
def make_entity_linker_scorer() -> Callable[..., Dict[str, Any]]:
    return score_entity_links


@registry.misc("spacy-zeroshot.alias_candidates.v1")
def make_alias_candidates(
    table: Optional[Dict[str, List[Dict[str, str]]]] = None, path: Optional[str] = None
) -> AliasTable:
    """Candidates from an alias table alias -> [{"id", "name", "description"}], given inline
    (`table`) or as a .json / .jsonl file (`path`, read on first use). Aliases match
    case-insensitively."""
    return AliasTable(table=table, path=path)


@registry.misc("spacy-zeroshot.kb_candidates.v1")
def make_kb_candidates(
    kb_path: str,
    descriptions: Optional[Dict[str, str]] = None,
    descriptions_path: Optional[str] = None,
) -> KBCandidates:
    """Candidate ids from a spaCy `InMemoryLookupKB` saved at `kb_path`; names and descriptions
    for the hypotheses from `descriptions` (id -> text) or a .json / .jsonl file."""
    return KBCandidates(kb_path=kb_path, descriptions=descriptions, descriptions_path=descriptions_path)


@Language.factory(
    "zeroshot_entity_typer",
    assigns=["doc.ents", "span._.zeroshot_type_scores"],
    default_config={
        "labels": [],
        "spans_key": None,
        "proposals": None,
        "hypothesis_template": "{mention} is a {label}.",
        "context": "sentence",
        "window": 10,
        "mention_markers": None,
        "multi_label": False,
        "threshold": 0.5,
        "on_low_confidence": "keep",
        "nli_component": "zeroshot_nli",
        "scorer": {"@scorers": "spacy-zeroshot.entity_typer_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_zeroshot_entity_typer(
    nlp: Language,
    name: str,
    labels: Union[List[str], Dict[str, str], Dict[str, Union[List[str], Dict[str, str]]]],
    spans_key: Optional[str],
    proposals: Optional[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[List[str]],
    multi_label: bool,
    threshold: float,
    on_low_confidence: str,
    nli_component: str,
    scorer: Optional[Callable[..., Dict[str, Any]]],
) -> ZeroShotEntityTyper:
    """Zero-shot typing of the spans in `doc.ents` or `doc.spans[spans_key]`."""
    return ZeroShotEntityTyper(
        nlp,
        name,
        labels=labels,
        spans_key=spans_key,
        proposals=proposals,
        hypothesis_template=hypothesis_template,
        context=context,
        window=window,
        mention_markers=mention_markers,
        multi_label=multi_label,
        threshold=threshold,
        on_low_confidence=on_low_confidence,
        nli_component=nli_component,
        scorer=scorer,
    )


@Language.factory(
    "zeroshot_entity_linker",
    assigns=["token.ent_kb_id", "span._.zeroshot_link_scores"],
    default_config={
        "candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1"},
        "spans_key": None,
        "ent_labels": [],
        "hypothesis_template": "{mention} is {description}.",
        "context": "sentence",
        "window": 10,
        "mention_markers": None,
        "threshold": 0.5,
        "nil": "NIL",
        "nli_component": "zeroshot_nli",
        "scorer": {"@scorers": "spacy-zeroshot.entity_linker_scorer.v1"},
    },
    default_score_weights={"nel_micro_f": 1.0, "nel_micro_r": None, "nel_micro_p": None},
)
def make_zeroshot_entity_linker(
    nlp: Language,
    name: str,
    candidates: CandidateSource,
    spans_key: Optional[str],
    ent_labels: List[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[List[str]],
    threshold: float,
    nil: str,
    nli_component: str,
    scorer: Optional[Callable[..., Dict[str, Any]]],
) -> ZeroShotEntityLinker:
    """Zero-shot entity linking: writes `span.kb_id_` for the spans in `doc.ents` (or a group)."""
    return ZeroShotEntityLinker(
        nlp,
        name,
        candidates=candidates,
        spans_key=spans_key,
        ent_labels=ent_labels,
        hypothesis_template=hypothesis_template,
        context=context,
        window=window,
        mention_markers=mention_markers,
        threshold=threshold,
        nil=nil,
        nli_component=nli_component,
        scorer=scorer,
    )


# ----------------------------------------------------------------------- zeroshot_span_ranker


@registry.scorers("spacy-zeroshot.span_ranker_scorer.v1")
def make_span_ranker_scorer() -> Callable[..., Dict[str, Any]]:
    return score_span_ranking


@Language.factory(
    "zeroshot_span_ranker",
    assigns=["doc.spans", "span._.zeroshot_relevance"],
    default_config={
        "query": None,
        "hypothesis_template": "This text is about {}.",
        "spans_key": None,
        "top_k": None,
        "threshold": 0.0,
        "output_key": "ranked",
        "long_text": "truncate",
        "aggregate": "max",
        "nli_component": "zeroshot_nli",
        "scorer": {"@scorers": "spacy-zeroshot.span_ranker_scorer.v1"},
    },
    default_score_weights={"rank_ndcg": 1.0, "rank_mrr": 0.0, "rank_f": 0.0, "rank_p": None, "rank_r": None},
)
def make_zeroshot_span_ranker(
    nlp: Language,
    name: str,
    query: Optional[str],
    hypothesis_template: str,
    spans_key: Optional[str],
    top_k: Optional[int],
    threshold: float,
    output_key: str,
    long_text: str,
    aggregate: str,
    nli_component: str,
    scorer: Optional[Callable[..., Dict[str, Any]]],
) -> ZeroShotSpanRanker:
    """Relevance of each sentence (or span of `doc.spans[spans_key]`) to a query, in
    `span._.zeroshot_relevance`; the best spans in `doc.spans[output_key]`."""
    return ZeroShotSpanRanker(
        nlp,
        name,
        query=query,
        hypothesis_template=hypothesis_template,
        spans_key=spans_key,
        top_k=top_k,
        threshold=threshold,
        output_key=output_key,
        long_text=long_text,
        aggregate=aggregate,
        nli_component=nli_component,
        scorer=scorer,
    )
