"""The `zeroshot_relation_extractor` component: relations between entity pairs in `doc._.relations`."""

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..tasks.relations import (
    CandidatePair,
    RelationLabel,
    RelationSettings,
    RelationSpans,
    RelationTask,
    relation_spans,
)
from ..training import TrainGroup
from ..training.negatives import sample_negatives
from .base import ZeroShotTask
from .user_strings import SettingPath, keep_exact

DEFAULT_EXTENSION = "relations"


def ensure_extension(name: str) -> None:
    """Register `doc._.<name>` (default None) unless it exists; values are plain lists."""
    if not Doc.has_extension(name):
        Doc.set_extension(name, default=None)


ensure_extension(DEFAULT_EXTENSION)


class ZeroShotRelationExtractor(ZeroShotTask):
    """Classifies the relation between pairs of entity spans with the pipeline's NLI model.

    Candidate pairs are ordered (head, tail) pairs of distinct spans of `doc.ents` (or
    `doc.spans[spans_key]`) that share a sentence, or lie within `max_distance` tokens.
    Every template of every label the pair's entity types allow is scored against the
    premise (the sentence, or the context around both mentions); all pairs of a batch of
    docs go through one backend call. Relations are written to `doc._.<extension>` as
    plain dicts {"head": [start, end], "tail": [start, end], "label", "score", "scores"}.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        labels: Union[Sequence[str], Mapping[str, Any]],
        template: str,
        threshold: float,
        thresholds: Mapping[str, float],
        spans_key: Optional[str],
        max_distance: Optional[int],
        context: str,
        window: int,
        extension: str,
        nli_component: str,
        scorer: Optional[Callable[..., Dict[str, Any]]],
        negatives_per_positive: int = -1,
        no_relation_sample: float = 1.0,
        hard_negatives: bool = False,
    ) -> None:
        super().__init__(nlp, name, nli_component)
        self.settings: RelationSettings = RelationSettings.from_config(
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
            negatives_per_positive=negatives_per_positive,
            no_relation_sample=no_relation_sample,
            hard_negatives=hard_negatives,
        )
        self.scorer = scorer
        ensure_extension(extension)
        user_settings: Dict[SettingPath, Any] = {
            "labels": labels,
            "template": template,
            "thresholds": thresholds,
            "spans_key": spans_key,
            "extension": extension,
            "nli_component": nli_component,
        }
        keep_exact(nlp, name, user_settings)

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.settings.labels)

    @property
    def relation_labels(self) -> List[RelationLabel]:
        return [RelationLabel.from_settings(label, s) for label, s in self.settings.labels.items()]

    def pair_task(self) -> RelationTask:
        return RelationTask(self.settings, self.name)

    def get_spans(self, doc: Doc) -> List[Span]:
        """The candidate mentions of a doc: `doc.ents`, or `doc.spans[spans_key]` (none if absent)."""
        return self.pair_task().spans(doc)

    def candidates(self, doc: Doc, labels: Optional[List[RelationLabel]] = None) -> List[CandidatePair]:
        """The (head, tail) pairs of a doc that will be scored, with their allowed labels."""
        return self.pair_task().candidates(doc, labels)

    @property
    def gold_description(self) -> str:  # type: ignore[override]
        return f"gold relations in `doc._.{self.settings.extension}`"

    def training_groups(self, examples: Sequence[Example]) -> List[TrainGroup]:
        """Per candidate pair of a doc with gold relations: the gold relation entailed, the
        pair's other allowed relations (all of them for an unrelated pair) not; negatives
        sampled anew at each call (`training.negatives.sample_negatives`)."""
        groups = self.pair_task().gold_groups(examples, self.backend)
        settings = self.settings
        k, share, hard = settings.negatives_per_positive, settings.no_relation_sample, settings.hard_negatives
        return sample_negatives(groups, negatives_per_positive=k, no_relation_sample=share, hard_negatives=hard)

    def gold_labels(self, examples: Sequence[Example]) -> List[str]:
        extension = self.settings.extension
        ensure_extension(extension)
        relations = (eg.reference._.get(extension) or [] for eg in examples)
        return list(dict.fromkeys(str(r.get("label")) for group in relations for r in group if isinstance(r, dict)))

    def set_annotations(self, docs: Iterable[Doc], predictions: List[List[Dict[str, Any]]]) -> None:
        extension = self.settings.extension
        ensure_extension(extension)
        for doc, relations in zip(docs, predictions):
            doc._.set(extension, [dict(rel, scores=dict(rel["scores"])) for rel in relations])

    def spans(self, doc: Doc) -> List[RelationSpans]:
        """The doc's relations with head and tail as `Span` objects."""
        return relation_spans(doc, self.settings.extension)

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Relation scores for `nlp.evaluate`: `rel_micro_p`, `rel_micro_r`, `rel_micro_f`, `rel_per_type`."""
        if self.scorer is None:
            return {}
        args: Dict[str, Any] = {"extension": self.settings.extension, "labels": self.labels}
        args.update(kwargs)
        return self.scorer(examples, **args)
