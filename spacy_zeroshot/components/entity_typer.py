"""The `zeroshot_entity_typer` component: zero-shot (re)typing of entity spans."""

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..tasks.entities import TypeLabels, TyperSettings, TyperTask, respan, target_spans, type_names, write_spans
from ..training import TrainGroup
from .base import ZeroShotTask
from .user_strings import SettingPath, keep_exact

TYPE_SCORES_ATTR = "zeroshot_type_scores"
if not Span.has_extension(TYPE_SCORES_ATTR):
    Span.set_extension(TYPE_SCORES_ATTR, default=None)

SpanKey = Tuple[int, int, str]


def score_entity_types(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """spaCy's span scores of the typed spans: `ents_p/r/f/per_type` for `doc.ents`, or
    `spans_{key}_p/r/f/per_type` for a span group (overlaps allowed)."""
    spans_key = kwargs.get("spans_key")
    if spans_key is None:
        return Scorer.score_spans(examples, "ents", has_annotation=lambda doc: doc.has_annotation("ENT_IOB"))
    attr = f"spans_{spans_key}"
    return Scorer.score_spans(
        examples,
        attr,
        getter=lambda doc, _: doc.spans.get(spans_key, []),
        has_annotation=lambda doc: spans_key in doc.spans,
        allow_overlap=True,
    )


def entries_by_span(entries: Sequence[Dict[str, Any]], new_key: str) -> Dict[SpanKey, Dict[str, Any]]:
    """Look-up of predictions by (start, end, label), under the label before AND after the
    change, so that applying the same predictions twice gives the same doc."""
    index: Dict[SpanKey, Dict[str, Any]] = {}
    for entry in entries:
        if entry.get(new_key):
            index.setdefault((entry["start"], entry["end"], entry[new_key]), entry)
    for entry in entries:
        index[(entry["start"], entry["end"], entry["label"])] = entry
    return index


class ZeroShotEntityTyper(ZeroShotTask):
    """Rescores entity spans into finer or different types with the pipeline's NLI model.

    Reads `doc.ents` (default) or `doc.spans[spans_key]`; for each span whose label has
    candidate types, checks "{mention} is a {label}." against the span's context (exclusive
    softmax over the types). The best type at or above `threshold` becomes the span's
    label; below it the span keeps its label or is removed (`on_low_confidence`). Scores of
    every candidate type go to `span._.zeroshot_type_scores`.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        labels: TypeLabels,
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
    ) -> None:
        super().__init__(nlp, name, nli_component)
        self.settings: TyperSettings = TyperSettings.from_config(
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
        )
        self.scorer = scorer
        user_settings: Dict[SettingPath, Any] = {
            "labels": labels,
            "spans_key": spans_key,
            "hypothesis_template": hypothesis_template,
            "mention_markers": mention_markers,
            "nli_component": nli_component,
        }
        keep_exact(nlp, name, user_settings)

    @property
    def labels(self) -> Tuple[str, ...]:
        """Every type this component can assign."""
        return type_names(self.settings.types)

    def pair_task(self) -> TyperTask:
        return TyperTask(self.settings, self.name)

    gold_description = "entity spans whose label is one of its types"

    def training_groups(self, examples: Sequence[Example]) -> List[TrainGroup]:
        """Per gold span whose label is a candidate type: that type vs the other types of
        its set, with the inference premise and hypotheses."""
        return self.pair_task().gold_groups(examples, self.backend)

    def gold_labels(self, examples: Sequence[Example]) -> List[str]:
        key = self.settings.spans_key
        spans = (eg.reference.spans.get(key, []) if key else eg.reference.ents for eg in examples)
        return list(dict.fromkeys(span.label_ for group in spans for span in group))

    def set_annotations(self, docs: Iterable[Doc], predictions: List[List[Dict[str, Any]]]) -> None:
        spans_key = self.settings.spans_key
        for doc, entries in zip(docs, predictions):
            if not entries:
                continue
            index = entries_by_span(entries, "type")
            result: List[Span] = []
            present = set()
            for span in target_spans(doc, spans_key):
                entry = index.get((span.start, span.end, span.label_))
                if entry is None:
                    result.append(span)
                elif entry["keep"]:
                    result.append(respan(span, label=entry["type"]) if entry["type"] else span)
                present.add((span.start, span.end))
            for entry in entries:
                if entry["proposed"] and entry["keep"] and (entry["start"], entry["end"]) not in present:
                    result.append(Span(doc, entry["start"], entry["end"], label=entry["type"]))
            if spans_key is None:
                result.sort(key=lambda s: (s.start, s.end))
            write_spans(doc, spans_key, result)
            for entry in entries:
                if entry["keep"]:
                    doc[entry["start"] : entry["end"]]._.set(TYPE_SCORES_ATTR, dict(entry["scores"]))

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Span P/R/F per type for `nlp.evaluate` (`ents_*`, or `spans_{key}_*`)."""
        if self.scorer is None:
            return {}
        args = {"spans_key": self.settings.spans_key, **kwargs}
        return self.scorer(examples, **args)
