"""What a pipeline annotates, as the review formats need it: category sets, span targets,
links and relations, with their labels and decision thresholds.

Every export and import reads a `ReviewSchema` instead of the components, so the formats stay
pure functions of plain dicts; `schema_from_pipeline` is the one place that knows components.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy.language import Language

ENTS = "ents"


@dataclass
class CategorySet:
    """One text classifier's categories (`doc.cats`)."""

    component: str
    labels: List[str]
    multi_label: bool
    thresholds: Dict[str, float] = field(default_factory=dict)

    def decided(self, cats: Dict[str, float]) -> List[str]:
        """The labels the component gives a doc with these scores: every label reaching its
        threshold (multi-label), else the best label (none when every score is 0.0)."""
        scores = {label: float(cats[label]) for label in self.labels if label in cats}
        if self.multi_label:
            return [label for label, score in scores.items() if score >= self.thresholds.get(label, 0.5)]
        best = max(scores, key=lambda label: scores[label], default=None)
        return [] if best is None or scores[best] <= 0.0 else [best]


@dataclass
class SpanTarget:
    """Where spans live ("ents" or "spans:<key>") and the labels components give them."""

    source: str
    labels: List[str] = field(default_factory=list)

    @property
    def spans_key(self) -> Optional[str]:
        return None if self.source == ENTS else self.source.split(":", 1)[1]


@dataclass
class ReviewSchema:
    """The annotation layers of a pipeline (see `schema_from_pipeline`)."""

    model_version: str = ""
    categories: List[CategorySet] = field(default_factory=list)
    spans: List[SpanTarget] = field(default_factory=list)
    links: bool = False
    nil: str = "NIL"
    relation_labels: List[str] = field(default_factory=list)
    relation_thresholds: Dict[str, float] = field(default_factory=dict)
    relations_attr: Optional[str] = None

    def span_target(self, source: Optional[str]) -> SpanTarget:
        """The target named `source` (added when unknown); None: the first target (or "ents")."""
        if source is None or source == "relations":
            if not self.spans:
                self.spans.append(SpanTarget(ENTS))
            return self.spans[0]
        for target in self.spans:
            if target.source == source:
                return target
        target = SpanTarget(source)
        self.spans.append(target)
        return target

    def category_set(self, label: str) -> Optional[CategorySet]:
        return next((c for c in self.categories if label in c.labels), None)

    def relation_threshold(self, label: str) -> float:
        return self.relation_thresholds.get(label, 0.5)


def _add_labels(target: SpanTarget, labels: List[str]) -> None:
    for label in labels:
        if label and label != "*" and label not in target.labels:
            target.labels.append(label)


def schema_from_pipeline(nlp: Language, source: Optional[str] = None, *, relations_attr: str = "relations") -> ReviewSchema:
    """Read the annotation layers of a loaded pipeline.

    nlp (Language): The pipeline.
    source (Optional[str]): Where it was loaded from; a folder's files make the model version hash.
    relations_attr (str): The `doc._` extension of relations when no relation extractor names one.
    RETURNS (ReviewSchema): Categories, span targets with labels, links, relation labels.
    """
    from ...components.entity_linker import ZeroShotEntityLinker
    from ...components.entity_typer import ZeroShotEntityTyper
    from ...components.relations import ZeroShotRelationExtractor
    from ...components.span_ranker import ZeroShotSpanRanker
    from ...components.textcat import ZeroShotTextCategorizer

    schema = ReviewSchema(model_version=model_version(nlp, source))
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, ZeroShotTextCategorizer):
            labels = list(pipe.labels)
            thresholds = {label: pipe.threshold_for(label) for label in labels}
            schema.categories.append(CategorySet(name, labels, bool(pipe.settings.multi_label), thresholds))
        elif isinstance(pipe, ZeroShotEntityTyper):
            target = schema.span_target(_source(pipe.settings.spans_key))
            _add_labels(target, [label for label in pipe.settings.types] + list(pipe.labels))
        elif isinstance(pipe, ZeroShotEntityLinker):
            schema.span_target(_source(pipe.settings.spans_key))
            schema.links = True
            schema.nil = pipe.settings.nil
        elif isinstance(pipe, ZeroShotRelationExtractor):
            schema.span_target(_source(pipe.settings.spans_key))
            for label in pipe.labels:
                schema.relation_labels.append(label)
                schema.relation_thresholds[label] = float(pipe.settings.thresholds.get(label, pipe.settings.threshold))
            schema.relations_attr = pipe.settings.extension
        elif isinstance(pipe, ZeroShotSpanRanker):
            schema.span_target(_source(pipe.settings.output_key))
        elif type(pipe).__name__ in ("EntityRecognizer", "EntityRuler"):
            _add_labels(schema.span_target(ENTS), [str(label) for label in getattr(pipe, "labels", ())])
    if schema.relations_attr is None and schema.relation_labels:
        schema.relations_attr = relations_attr
    return schema


def _source(spans_key: Optional[str]) -> str:
    return ENTS if spans_key is None else f"spans:{spans_key}"


def model_version(nlp: Language, source: Optional[str] = None) -> str:
    """The pipeline's name and a short hash of its config and, for a folder, its files
    (names, sizes, first and last MiB: a fine-tuned copy gets a new hash without reading GBs)."""
    digest = hashlib.sha256(nlp.config.to_str().encode("utf8"))
    folder = Path(source) if source is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode("utf8"))
            with path.open("rb") as f:
                digest.update(f.read(1 << 20))
                if size > 2 << 20:
                    f.seek(-(1 << 20), 2)
                    digest.update(f.read())
    name = f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name', 'pipeline')}"
    return f"{name}-{digest.hexdigest()[:12]}"


def schema_to_dict(schema: ReviewSchema) -> Dict[str, Any]:
    """The schema as plain JSON data (for reports and tests)."""
    from dataclasses import asdict

    return asdict(schema)
