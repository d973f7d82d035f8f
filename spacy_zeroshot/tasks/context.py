"""Premises for span-level tasks: the text around a span (or a pair of spans) to score against."""

from spacy.tokens import Doc, Span

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
