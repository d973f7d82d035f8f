"""Premises for span-level tasks: the text around a span (or a pair of spans) to score against,
and the doc of a gold `Example` whose text makes the premises of its training groups."""

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import Errors

CONTEXTS = ("sentence", "window", "doc")


def context_span(doc: Doc, start: int, end: int, context: str, window: int, name: str) -> Span:
    """The token span whose text is the premise for tokens [start, end).

    doc (Doc): The doc.
    start (int): First token of the mention (or of the first of two mentions).
    end (int): End token (exclusive) of the mention (or of the last of two mentions).
    context (str): "sentence" (the sentence or sentences covering the tokens; needs sentence
        boundaries), "window" (`window` tokens either side) or "doc" (the whole doc).
    window (int): Tokens of context either side, for "window".
    name (str): The component name, for error messages.
    RETURNS (Span): The context span; it always contains tokens [start, end).
    """
    if context == "doc":
        return doc[:]
    if context == "window":
        return doc[max(0, start - window) : min(len(doc), end + window)]
    if not doc.has_annotation("SENT_START") and len(doc) > 1:
        raise ValueError(Errors.E062.format(name=name))
    return doc[doc[start].sent.start : doc[end - 1].sent.end]


def _same_tokens(a: Doc, b: Doc) -> bool:
    return a.text == b.text and len(a) == len(b) and all(x.idx == y.idx for x, y in zip(a, b))


def premise_doc(example: Example, needs_sentences: bool, name: str) -> Doc:
    """The doc whose context makes the premises of a gold example's training groups: the
    reference, or, when sentences are needed and only the predicted doc has them (e.g. a
    sentencizer in [training] annotating_components), the predicted doc if it is tokenized
    the same way. Each task builds its groups with the premises, hypotheses and scoring mode
    of its inference, so fine-tuning trains what inference reads.

    RAISES ValueError: [E303] when sentences are needed and neither doc has them.
    """
    reference = example.reference
    if not needs_sentences or len(reference) <= 1 or reference.has_annotation("SENT_START"):
        return reference
    predicted = example.predicted
    if predicted.has_annotation("SENT_START") and _same_tokens(predicted, reference):
        return predicted
    raise ValueError(Errors.E303.format(name=name))
