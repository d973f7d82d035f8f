"""The `zeroshot_textcat` task: every label of a doc scored into `doc.cats`.

The pair logic (premise windows, exclusive or multi-label scores) is `TextClassification`'s;
this task reads the texts and sentences of docs, and turns each text's scores into the plain
prediction `{"cats": {label: score}, "truncated": bool}`.
"""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc
from spacy.training import Example

from .. import audit
from ..errors import Errors
from ..training.groups import TrainGroup, make_group
from .base import Explained, Logits, PairBatch, Tokens
from .classification import TextClassification, premise_windows
from .gold import POSITIVE, premise_doc


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

