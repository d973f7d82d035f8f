"""The `zeroshot_textcat` component: zero-shot text classification into `doc.cats`."""

import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Warnings
from ..tasks.textcat import TextcatSettings, TextcatTask
from ..training import TrainGroup
from ..validation import Labels
from .base import ZeroShotTask, docs_as_list
from .user_strings import keep_exact

TRUNCATED_ATTR = "zeroshot_truncated"
if not Doc.has_extension(TRUNCATED_ATTR):
    Doc.set_extension(TRUNCATED_ATTR, default=False)


def score_cats(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """spaCy's text classification scores (`cats_*`), exclusive or multi-label.

    With per-label `thresholds` (calibrated, multi-label), each label's predicted scores are
    mapped by a monotone piecewise-linear function that sends its threshold (else the global
    `threshold`) to 0.5, and spaCy's scorer decides at 0.5: decisions follow each label's
    threshold and the AUCs are unchanged.
    """
    threshold = kwargs.get("threshold", 0.5)
    thresholds: Dict[str, float] = kwargs.get("thresholds") or {}
    getter: Callable[[Doc, str], Any] = getattr
    if thresholds and kwargs.get("multi_label", False):
        examples = list(examples)
        predicted = {id(eg.predicted) for eg in examples}
        own = dict(thresholds)
        default = threshold
        threshold = 0.5

        def getter(doc: Doc, attr: str) -> Any:
            cats = getattr(doc, attr)
            if id(doc) not in predicted:
                return cats
            return {k: _rescale(v, own.get(k, default), 0.5) for k, v in cats.items()}

    return Scorer.score_cats(
        examples,
        "cats",
        getter=getter,
        labels=kwargs["labels"],
        multi_label=kwargs.get("multi_label", False),
        threshold=threshold,
    )


def _rescale(score: float, own: float, target: float) -> float:
    """Map [0, own) onto [0, target) and [own, 1] onto [target, 1], linearly."""
    if own == target:
        return score
    if score < own:
        return score * target / own
    return target + (score - own) * (1.0 - target) / (1.0 - own) if own < 1.0 else target


class ZeroShotTextCategorizer(ZeroShotTask):
    """Fills `doc.cats` with the entailment-based probability of every label.

    Exclusive mode (default) is a softmax of the entailment logits across labels; multi-label
    mode scores each label independently (entailment vs contradiction), exactly as
    transformers' ZeroShotClassificationPipeline. Empty or whitespace-only docs get 0.0 for
    every label without a model call.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        labels: Labels,
        hypothesis_template: str,
        multi_label: bool,
        threshold: float,
        long_text: str,
        aggregate: str,
        nli_component: str,
        scorer: Optional[Callable[..., Dict[str, Any]]],
    ) -> None:
        super().__init__(nlp, name, nli_component)
        self.settings: TextcatSettings = TextcatSettings.from_config(
            name,
            labels=labels,
            hypothesis_template=hypothesis_template,
            multi_label=multi_label,
            threshold=threshold,
            long_text=long_text,
            aggregate=aggregate,
        )
        self.scorer = scorer
        keep_exact(
            nlp, name, {"labels": labels, "hypothesis_template": hypothesis_template, "nli_component": nli_component}
        )

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.settings.labels)

    def threshold_for(self, label: str) -> float:
        """The multi-label decision threshold of `label` (calibrated, else `threshold`)."""
        return float(self.settings.thresholds.get(label, self.settings.threshold))

    def decided_labels(self, doc: Doc) -> List[str]:
        """The labels `doc` is given: in multi-label mode every label whose score reaches its
        threshold (`threshold_for`), else the best label (none for an empty doc)."""
        cats = {label: doc.cats[label] for label in self.labels if label in doc.cats}
        if self.settings.multi_label:
            return [label for label, score in cats.items() if score >= self.threshold_for(label)]
        best = max(cats, key=lambda label: cats[label], default=None)
        return [] if best is None or cats[best] <= 0.0 else [best]

    @property
    def hypotheses(self) -> List[str]:
        template = self.settings.hypothesis_template
        return [template.format(self.settings.descriptions[label]) for label in self.labels]

    def pair_task(self) -> TextcatTask:
        return TextcatTask(self.settings, self.name)

    def predict(self, docs: Iterable[Doc]) -> List[Dict[str, Any]]:
        """Score the docs; returns per doc {"cats": {label: score}, "truncated": bool}."""
        docs = docs_as_list(docs)
        predictions = super().predict(docs)
        truncated = sum(bool(p["truncated"]) for p in predictions)
        if truncated:
            warnings.warn(
                Warnings.W001.format(
                    n=truncated, total=len(docs), max_length=self.backend.max_length, name=self.name
                ),
                stacklevel=2,
            )
        return predictions

    gold_description = "`doc.cats` with a value for its labels (exclusive: one label >= 0.5)"

    def training_groups(self, examples: Sequence[Example]) -> List[TrainGroup]:
        """Per doc with gold `cats`: exclusive, the gold label vs the others (listwise);
        multi-label, each annotated label entailed or not. Same premises (windows) and
        hypotheses as `predict`."""
        return self.pair_task().gold_groups(examples, self.backend)

    def gold_labels(self, examples: Sequence[Example]) -> List[str]:
        return list(dict.fromkeys(label for eg in examples for label in eg.reference.cats))

    def set_annotations(self, docs: Iterable[Doc], predictions: List[Dict[str, Any]]) -> None:
        for doc, prediction in zip(docs, predictions):
            doc.cats.update(prediction["cats"])
            doc._.set(TRUNCATED_ATTR, prediction["truncated"])

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Text classification scores for `nlp.evaluate`: `cats_score`, `cats_micro_f`, ..."""
        if self.scorer is None:
            return {}
        multi_label = self.settings.multi_label
        # Exclusive mode decides by argmax alone: a winning label with a score below 0.5 still counts.
        threshold = self.settings.threshold if multi_label else 0.0
        args = {"labels": self.labels, "multi_label": multi_label, "threshold": threshold}
        if multi_label and self.settings.thresholds:
            args["thresholds"] = dict(self.settings.thresholds)
        args.update(kwargs)
        return self.scorer(examples, **args)

