"""All spaCy factories and registered functions of spacy-zeroshot, with their default configs
(the span tasks' in `factories_spans`).

This module is what the `spacy_factories` / `spacy_scorers` entry points import, so that
`nlp.add_pipe("zeroshot_...")` and `spacy.load(path)` work without importing the package.
It must stay cheap: torch and transformers are imported only when a model is loaded.
"""

from typing import Any, Callable, Dict, List, Optional, Union

from spacy.language import Language
from spacy.util import registry

from .backend import NLIBackend
from .components.nli import ZeroShotNLI
from .components.relations import ZeroShotRelationExtractor
from .components.textcat import ZeroShotTextCategorizer, score_cats
from .components.user_strings import LITERAL, read_literal

# The span tasks' factories live beside this module; importing them here registers them and
# keeps every name the entry points use (`spacy_zeroshot.factories:make_...`) in this module.
from .factories_spans import (
    make_alias_candidates,
    make_entity_linker_scorer,
    make_entity_typer_scorer,
    make_gold_spans,
    make_kb_candidates,
    make_span_ranker_scorer,
    make_zeroshot_entity_linker,
    make_zeroshot_entity_typer,
    make_zeroshot_span_ranker,
)
from .tasks.relations import score_relations

DEFAULT_MODEL = "knowledgator/comprehend_it-base"

# ------------------------------------------------------------------------- literal values


@registry.misc(LITERAL)
def make_literal(json: str) -> Any:
    """A setting's value stored exactly: the JSON text `json` decoded. spaCy's config writes a
    user string that its interpolation would change (a `$`, `${...}`, a mapping key such as
    "a = b") in this form; see `components.user_strings`."""
    return read_literal(json)


# ----------------------------------------------------------------------------- zeroshot_nli

NLI_DEFAULT_CONFIG = {
    "model": DEFAULT_MODEL,
    "revision": None,
    "device": "auto",
    "dtype": "auto",
    "max_length": None,
    "batch_tokens": None,
    "max_batch_pairs": None,
    "entailment_index": None,
    "contradiction_index": None,
    "optimize": True,
    "cache_size": 0,
    "num_threads": None,
    "recheck_margin": 0.0,
    "tune_allocator": False,
    "save_io": False,
    "freeze_embeddings": True,
    "l2_sp": 0.0,
}


@Language.factory("zeroshot_nli", default_config=NLI_DEFAULT_CONFIG)
def make_zeroshot_nli(
    nlp: Language,
    name: str,
    model: str,
    revision: Optional[str],
    device: Union[str, int],
    dtype: str,
    max_length: Optional[int],
    batch_tokens: Optional[int],
    max_batch_pairs: Optional[int],
    entailment_index: Optional[int],
    contradiction_index: Optional[int],
    optimize: bool,
    cache_size: int,
    num_threads: Optional[int],
    recheck_margin: float,
    tune_allocator: bool,
    save_io: bool,
    freeze_embeddings: bool,
    l2_sp: float,
) -> ZeroShotNLI:
    """The shared NLI model of a pipeline. Nothing is loaded until first use.

    `dtype` picks the precision mode ("auto", "float32", "bfloat16", "float16", "int8"),
    `batch_tokens`/`max_batch_pairs` default per device, `optimize` turns on the faster
    equivalent DeBERTa-v2/v3 attention, `cache_size` > 0 keeps an LRU cache of pair scores,
    `recheck_margin` > 0 re-scores close calls of a lossy dtype in float32, `tune_allocator`
    (off by default: it is process-wide) raises glibc's malloc thresholds on the CPU (fewer page faults), `save_io` keeps an audit
    trail of every decision in `doc.user_data` (`spacy_zeroshot.audit.explain`).
    See docs/performance.md and docs/tasks/audit.md. Fine-tuning (`spacy train`):
    `freeze_embeddings` keeps the word embeddings fixed, `l2_sp` > 0 pulls the weights toward
    the pretrained ones.
    """
    backend = NLIBackend(
        model,
        revision=revision,
        device=device,
        dtype=dtype,
        max_length=max_length,
        batch_tokens=batch_tokens,
        max_batch_pairs=max_batch_pairs,
        entailment_index=entailment_index,
        contradiction_index=contradiction_index,
        optimize=optimize,
        cache_size=cache_size,
        num_threads=num_threads,
        recheck_margin=recheck_margin,
        tune_allocator=tune_allocator,
        settings_hint="`{key}` on the '" + name + "' component",
    )
    return ZeroShotNLI(nlp, name, backend, save_io=save_io, freeze_embeddings=freeze_embeddings, l2_sp=l2_sp)


# ------------------------------------------------------------------------- zeroshot_textcat


@registry.scorers("spacy-zeroshot.textcat_scorer.v1")
def make_textcat_scorer() -> Callable[..., Dict[str, Any]]:
    return score_cats


@Language.factory(
    "zeroshot_textcat",
    assigns=["doc.cats", "doc._.zeroshot_truncated"],
    default_config={
        "labels": [],
        "hypothesis_template": "This example is {}.",
        "multi_label": False,
        "threshold": 0.5,
        "long_text": "truncate",
        "aggregate": "max",
        "nli_component": "zeroshot_nli",
        "scorer": {"@scorers": "spacy-zeroshot.textcat_scorer.v1"},
    },
    default_score_weights={
        "cats_score": 1.0,
        "cats_score_desc": None,
        "cats_micro_p": None,
        "cats_micro_r": None,
        "cats_micro_f": None,
        "cats_macro_p": None,
        "cats_macro_r": None,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
    },
)
def make_zeroshot_textcat(
    nlp: Language,
    name: str,
    labels: Union[List[str], Dict[str, str]],
    hypothesis_template: str,
    multi_label: bool,
    threshold: float,
    long_text: str,
    aggregate: str,
    nli_component: str,
    scorer: Optional[Callable[..., Dict[str, Any]]],
) -> ZeroShotTextCategorizer:
    """Zero-shot text classification into `doc.cats` with the pipeline's NLI model."""
    return ZeroShotTextCategorizer(
        nlp,
        name,
        labels=labels,
        hypothesis_template=hypothesis_template,
        multi_label=multi_label,
        threshold=threshold,
        long_text=long_text,
        aggregate=aggregate,
        nli_component=nli_component,
        scorer=scorer,
    )


# -------------------------------------------------------------- zeroshot_relation_extractor


@registry.scorers("spacy-zeroshot.relations_scorer.v1")
def make_relations_scorer() -> Callable[..., Dict[str, Any]]:
    return score_relations


@Language.factory(
    "zeroshot_relation_extractor",
    assigns=["doc._.relations"],
    default_config={
        "labels": [],
        "template": "{subj} {label} {obj}.",
        "threshold": 0.5,
        "thresholds": {},
        "spans_key": None,
        "max_distance": None,
        "context": "sentence",
        "window": 10,
        "extension": "relations",
        "nli_component": "zeroshot_nli",
        "scorer": {"@scorers": "spacy-zeroshot.relations_scorer.v1"},
        "negatives_per_positive": 1,
        "no_relation_sample": 0.25,
        "hard_negatives": False,
    },
    default_score_weights={"rel_micro_f": 1.0, "rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_per_type": None},
)
def make_zeroshot_relation_extractor(
    nlp: Language,
    name: str,
    labels: Union[List[str], Dict[str, Any]],
    template: str,
    threshold: float,
    thresholds: Dict[str, float],
    spans_key: Optional[str],
    max_distance: Optional[int],
    context: str,
    window: int,
    extension: str,
    nli_component: str,
    scorer: Optional[Callable[..., Dict[str, Any]]],
    negatives_per_positive: int = 1,
    no_relation_sample: float = 0.25,
    hard_negatives: bool = False,
) -> ZeroShotRelationExtractor:
    """Zero-shot relations between entity pairs, written to `doc._.relations` (or `extension`)."""
    return ZeroShotRelationExtractor(
        nlp,
        name,
        labels=labels,
        template=template,
        threshold=threshold,
        thresholds=thresholds,
        spans_key=spans_key,
        max_distance=max_distance,
        context=context,
        window=window,
        extension=extension,
        nli_component=nli_component,
        scorer=scorer,
        negatives_per_positive=negatives_per_positive,
        no_relation_sample=no_relation_sample,
        hard_negatives=hard_negatives,
    )


__all__ = [
    "DEFAULT_MODEL",
    "NLI_DEFAULT_CONFIG",
    "make_alias_candidates",
    "make_entity_linker_scorer",
    "make_entity_typer_scorer",
    "make_gold_spans",
    "make_kb_candidates",
    "make_literal",
    "make_relations_scorer",
    "make_span_ranker_scorer",
    "make_textcat_scorer",
    "make_zeroshot_entity_linker",
    "make_zeroshot_entity_typer",
    "make_zeroshot_nli",
    "make_zeroshot_relation_extractor",
    "make_zeroshot_span_ranker",
    "make_zeroshot_textcat",
]
