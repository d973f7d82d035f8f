"""The `zeroshot_textcat` component: zero-shot text classification into `doc.cats`."""

import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors, Warnings
from ..tasks.classification import AGGREGATE, LONG_TEXT, classify
from ..tasks.gold import textcat_groups
from ..training import TrainGroup
from ..validation import Labels, check_choice, check_positional_template, check_threshold, normalize_labels
from .base import ZeroShotTask, docs_as_list
from .user_strings import keep_exact

TRUNCATED_ATTR = "zeroshot_truncated"
if not Doc.has_extension(TRUNCATED_ATTR):
    Doc.set_extension(TRUNCATED_ATTR, default=False)


def score_cats(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """spaCy's text classification scores (`cats_*`), exclusive or multi-label."""
    return Scorer.score_cats(
        examples,
        "cats",
        labels=kwargs["labels"],
        multi_label=kwargs.get("multi_label", False),
        threshold=kwargs.get("threshold", 0.5),
    )


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
        descriptions = normalize_labels(labels, name)
        self.cfg = {
            "labels": list(descriptions),
            "descriptions": descriptions,
            "hypothesis_template": check_positional_template(hypothesis_template),
            "multi_label": bool(multi_label),
            "threshold": check_threshold(threshold),
            "long_text": check_choice("long_text", long_text, LONG_TEXT, name),
            "aggregate": check_choice("aggregate", aggregate, AGGREGATE, name),
        }
        self.scorer = scorer
        keep_exact(
            nlp, name, {"labels": labels, "hypothesis_template": hypothesis_template, "nli_component": nli_component}
        )

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def hypotheses(self) -> List[str]:
        template = self.cfg["hypothesis_template"]
        return [template.format(self.cfg["descriptions"][label]) for label in self.labels]

    def predict(self, docs: Iterable[Doc]) -> List[Dict[str, Any]]:
        """Score the docs; returns per doc {"cats": {label: score}, "truncated": bool}."""
        docs = docs_as_list(docs)
        long_text = self.cfg["long_text"]
        sentences = None
        if long_text == "sentences":
            sentences = [_sentence_spans(doc, self.name) for doc in docs]
        results = classify(
            self.backend,
            [doc.text for doc in docs],
            self.hypotheses,
            multi_label=self.cfg["multi_label"],
            long_text=long_text,
            aggregate=self.cfg["aggregate"],
            sentences=sentences,
            threshold=self.cfg["threshold"],
        )
        predictions = []
        for result in results:
            if result.scores is None:
                cats = {label: 0.0 for label in self.labels}
            else:
                cats = {label: float(s) for label, s in zip(self.labels, result.scores)}
            predictions.append({"cats": cats, "truncated": result.truncated})
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
        cfg = self.cfg
        return textcat_groups(
            self.backend,
            examples,
            self.labels,
            self.hypotheses,
            multi_label=cfg["multi_label"],
            long_text=cfg["long_text"],
            aggregate=cfg["aggregate"],
            name=self.name,
        )

    def set_annotations(self, docs: Iterable[Doc], predictions: List[Dict[str, Any]]) -> None:
        for doc, prediction in zip(docs, predictions):
            doc.cats.update(prediction["cats"])
            doc._.set(TRUNCATED_ATTR, prediction["truncated"])

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Text classification scores for `nlp.evaluate`: `cats_score`, `cats_micro_f`, ..."""
        if self.scorer is None:
            return {}
        multi_label = self.cfg["multi_label"]
        # Exclusive mode decides by argmax alone: a winning label with a score below 0.5 still counts.
        threshold = self.cfg["threshold"] if multi_label else 0.0
        settings = {"labels": self.labels, "multi_label": multi_label, "threshold": threshold}
        settings.update(kwargs)
        return self.scorer(examples, **settings)


def _sentence_spans(doc: Doc, name: str) -> Optional[List[Tuple[int, int]]]:
    if not doc.text.strip():
        return None
    if not doc.has_annotation("SENT_START") and len(doc) > 1:
        raise ValueError(Errors.E059.format(name=name))
    return [(sent.start_char, sent.end_char) for sent in doc.sents]
