"""What the tasks' gold groups share: which doc of a gold `Example` makes the premises.

Each task module builds its own training groups (`gold_groups`) with the same premises
(context, windows, mention markers), hypotheses (templates, descriptions) and scoring mode
(exclusive or independent) that its inference uses, so fine-tuning trains what inference
reads. Gold annotation comes from `Example.reference`; a decision without gold (a label
missing from `doc.cats`, a gold id that is not among the candidates, an unannotated doc) is
skipped.
"""

from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors

POSITIVE = 0.5


def _same_tokens(a: Doc, b: Doc) -> bool:
    return a.text == b.text and len(a) == len(b) and all(x.idx == y.idx for x, y in zip(a, b))


def premise_doc(example: Example, needs_sentences: bool, name: str) -> Doc:
    """The doc whose context makes the premises: the reference, or, when sentences are
    needed and only the predicted doc has them (e.g. a sentencizer in [training]
    annotating_components), the predicted doc if it is tokenized the same way.

    RAISES ValueError: [E303] when sentences are needed and neither doc has them.
    """
    reference = example.reference
    if not needs_sentences or len(reference) <= 1 or reference.has_annotation("SENT_START"):
        return reference
    predicted = example.predicted
    if predicted.has_annotation("SENT_START") and _same_tokens(predicted, reference):
        return predicted
    raise ValueError(Errors.E303.format(name=name))
