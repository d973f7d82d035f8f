"""The `zeroshot_textcat` task: every label of a doc scored into `doc.cats`.

The task as one unit: its settings (`TextcatSettings`, validated once when the component is
built), its pair logic (premise windows, exclusive or multi-label scores: `TextClassification`'s),
which reads the texts and sentences of docs and turns each text's scores into the plain
prediction `{"cats": {label: score}, "truncated": bool}`, its gold groups for fine-tuning, and
its calibration adapter (`TextcatCalibration`).
"""

from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..training.groups import TrainGroup, make_group
from ..validation import Labels, check_choice, check_positional_template, check_threshold, normalize_labels
from .base import Explained, Logits, PairBatch, Tokens
from .classification import AGGREGATE, LONG_TEXT, TextClassification, premise_windows
from .context import premise_doc
from .decisions import CalibrationTask, DecisionSet, Item, check_description

# A gold `cats` value at or above this is a positive.
POSITIVE = 0.5


@dataclass(frozen=True)
class TextcatSettings:
    """The settings of a `zeroshot_textcat` component (its `cfg`, read-only).

    labels (List[str]): The labels, in order.
    descriptions (Dict[str, str]): Per label, the text its hypothesis names.
    hypothesis_template (str): The hypothesis, with `{}` for a label's description.
    multi_label (bool): Independent scores per label instead of a softmax across labels.
    threshold (float): The multi-label decision threshold of labels without their own.
    thresholds (Dict[str, float]): Per label, a threshold chosen by calibration.
    long_text (str): "truncate", "windows" or "sentences" for texts past the token budget.
    aggregate (str): "max" or "mean" of per-window scores.
    """

    labels: List[str]
    descriptions: Dict[str, str]
    hypothesis_template: str
    multi_label: bool
    threshold: float
    thresholds: Dict[str, float]
    long_text: str
    aggregate: str

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        labels: Labels,
        hypothesis_template: str,
        multi_label: bool,
        threshold: float,
        long_text: str,
        aggregate: str,
    ) -> "TextcatSettings":
        """The settings of the component `name`, validated (the factory's arguments)."""
        descriptions = normalize_labels(labels, name)
        return cls(
            labels=list(descriptions),
            descriptions=descriptions,
            hypothesis_template=check_positional_template(hypothesis_template),
            multi_label=bool(multi_label),
            threshold=check_threshold(threshold),
            thresholds={},  # per label, from calibration (`calibrate`, `initialize`)
            long_text=check_choice("long_text", long_text, LONG_TEXT, name),
            aggregate=check_choice("aggregate", aggregate, AGGREGATE, name),
        )

def sentence_spans(doc: Doc, name: str) -> Optional[List[Tuple[int, int]]]:
    """The character spans of a doc's sentences (None for an empty doc).

    RAISES ValueError: [E059] when the doc has no sentence boundaries.
    """
    if not doc.text.strip():
        return None
    if not doc.has_annotation("SENT_START") and len(doc) > 1:
        raise ValueError(Errors.E059.format(name=name))
    return [(sent.start_char, sent.end_char) for sent in doc.sents]


class TextcatTask(TextClassification):
    """Zero-shot text classification of docs against one hypothesis per label.

    settings (TextcatSettings): The component's settings.
    name (str): The component name, for error messages.
    """

    def __init__(self, settings: TextcatSettings, name: str) -> None:
        self.settings = settings
        self.labels: Tuple[str, ...] = tuple(settings.labels)
        self.limits = [float(settings.thresholds.get(label, settings.threshold)) for label in self.labels]
        super().__init__(
            multi_label=settings.multi_label, long_text=settings.long_text, aggregate=settings.aggregate, threshold=self.limits
        )
        template = settings.hypothesis_template
        self.hypotheses = [template.format(settings.descriptions[label]) for label in self.labels]
        self.name = name

    def calibration(self) -> "TextcatCalibration":
        return TextcatCalibration(self.settings, self.name)

    def requests(self, docs: Sequence[Doc], tokens: Tokens) -> PairBatch:
        sentences = [sentence_spans(doc, self.name) for doc in docs] if self.long_text == "sentences" else None
        return self.text_requests([doc.text for doc in docs], [self.hypotheses] * len(docs), tokens, sentences)

    def gold_groups(self, examples: Sequence[Example], tokens: Tokens) -> List[TrainGroup]:
        """One group per doc with gold `cats`, with the premises (windows) and hypotheses of
        inference. Exclusive: the doc's one label scoring >= 0.5 in `reference.cats` is the
        gold option (a doc with none or several is skipped). Multi-label: each label's gold
        value is its target; labels missing from `reference.cats` are skipped.
        """
        chosen: List[Tuple[Example, Optional[int], List[Optional[float]]]] = []
        for example in examples:
            cats = example.reference.cats
            values = [None if label not in cats else float(cats[label]) for label in self.labels]
            positives = [i for i, v in enumerate(values) if v is not None and v >= POSITIVE]
            gold = positives[0] if len(positives) == 1 else None
            if (self.multi_label and any(v is not None for v in values)) or (not self.multi_label and gold is not None):
                chosen.append((example, gold, values))
        if not chosen:
            return []
        needs_sentences = self.long_text == "sentences"
        docs = [premise_doc(example, needs_sentences, self.name) for example, _, _ in chosen]
        sentences = [
            [(s.start_char, s.end_char) for s in doc.sents] if needs_sentences and doc.text.strip() else None for doc in docs
        ]
        texts = [doc.text for doc in docs]
        budget = tokens.premise_budget(self.hypotheses)
        windows = premise_windows(tokens, texts, [budget] * len(texts), self.long_text, sentences)
        options = [[h] for h in self.hypotheses]
        groups = []
        for text, (spans, _), (_, gold, values) in zip(texts, windows, chosen):
            premises = [text[s:e] for s, e in spans]
            group = make_group(
                premises, options, exclusive=not self.multi_label, gold=gold, targets=values, aggregate=self.aggregate
            )
            if group is not None:
                groups.append(group)
        return groups

    def decide(self, docs: Sequence[Doc], batch: PairBatch, logits: Logits) -> List[Dict[str, Any]]:
        """Per doc {"cats": {label: score}, "truncated": bool}; 0.0 for every label of an empty doc."""
        predictions = []
        for result in self.results(batch, logits):
            scores = np.zeros(len(self.labels)) if result.scores is None else result.scores
            predictions.append({"cats": {label: float(s) for label, s in zip(self.labels, scores)}, "truncated": result.truncated})
        return predictions

    def explain(
        self, docs: Sequence[Doc], batch: PairBatch, logits: Logits, predictions: Sequence[Dict[str, Any]]
    ) -> Iterable[Explained]:
        """Per doc and label, its hypothesis against every window of the text."""
        n = len(self.labels)
        for i, ((spans, _), (start, _), prediction) in enumerate(zip(batch.state.windows, batch.rows, predictions)):
            for j, label in enumerate(self.labels):
                rows = [(span, start + w * n + j) for w, span in enumerate(spans)]
                if rows:
                    limit = self.limits[j] if self.multi_label else None
                    yield Explained(i, audit.DOC_TARGET, label, prediction["cats"][label], rows, limit)



class TextcatCalibration(CalibrationTask):
    """Multi-label: one threshold per label, items (doc, label). Exclusive: no thresholds (the
    best label wins), only the wording is chosen."""

    gold_name = "doc.cats"

    def __init__(self, settings: TextcatSettings, name: str) -> None:
        super().__init__(settings, name)
        self.rule = "passing" if settings.multi_label else "ranked"
        self.scope = "per_label" if settings.multi_label else "none"

    def labels(self) -> List[str]:
        return list(self.settings.labels)

    def has_gold(self, example: Example) -> bool:
        return any(label in example.reference.cats for label in self.labels())

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        labels = self.labels()
        items: List[Item] = []
        for prediction, example in zip(predictions, examples):
            cats = prediction["cats"]
            gold = {label: example.reference.cats[label] for label in labels if label in example.reference.cats}
            if self.scope == "per_label":
                items.extend(({label: cats[label]}, label if value >= 0.5 else None) for label, value in gold.items())
            elif gold:
                best = max(gold, key=lambda label: gold[label])
                items.append((cats, best if gold[best] > 0 else None))
        return DecisionSet.from_items(items, self.rule, labels=labels)

    def check_template(self, value: Any) -> str:
        return check_positional_template(value)

    def check_label_wording(self, label: str, value: Any) -> str:
        return check_description(self.name, label, value)

    def get_label_wording(self, settings: TextcatSettings, label: str) -> str:
        return settings.descriptions[label]

    def with_label_wording(self, settings: TextcatSettings, label: str, value: str) -> TextcatSettings:
        return replace(settings, descriptions={**settings.descriptions, label: value})
