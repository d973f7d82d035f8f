"""The `zeroshot_textcat` task: every label of a doc scored into `doc.cats`.

The pair logic (premise windows, exclusive or multi-label scores) is `TextClassification`'s;
this task reads the texts and sentences of docs, and turns each text's scores into the plain
prediction `{"cats": {label: score}, "truncated": bool}`.
"""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc

from .. import audit
from ..errors import Errors
from .base import Explained, Logits, PairBatch, Tokens
from .classification import TextClassification


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

    cfg (Mapping[str, Any]): The component's settings ("labels", "descriptions",
        "hypothesis_template", "multi_label", "threshold", "thresholds", "long_text",
        "aggregate").
    name (str): The component name, for error messages.
    """

    def __init__(self, cfg: Mapping[str, Any], name: str) -> None:
        self.labels: Tuple[str, ...] = tuple(cfg["labels"])
        self.limits = [float(cfg["thresholds"].get(label, cfg["threshold"])) for label in self.labels]
        super().__init__(
            multi_label=bool(cfg["multi_label"]), long_text=cfg["long_text"], aggregate=cfg["aggregate"], threshold=self.limits
        )
        template = cfg["hypothesis_template"]
        self.hypotheses = [template.format(cfg["descriptions"][label]) for label in self.labels]
        self.name = name

    def requests(self, docs: Sequence[Doc], tokens: Tokens) -> PairBatch:
        sentences = [sentence_spans(doc, self.name) for doc in docs] if self.long_text == "sentences" else None
        return self.text_requests([doc.text for doc in docs], [self.hypotheses] * len(docs), tokens, sentences)

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

