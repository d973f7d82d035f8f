"""Dev examples that carry their gold spans, for scoring span tasks without a span source.

The entity typer, linker and relation extractor read the spans an earlier component found (an
NER, an entity_ruler). `spacy train` scores dev on `Example.predicted`, a fresh tokenization of
the text: with no span source in the pipeline, those docs have no spans, and every dev score is
0. spaCy's relation-extraction tutorial (projects `tutorials/rel_component`) solves this with a
corpus reader that keeps the gold entities on the predicted docs; this is the same as a spaCy
augmenter (`[corpora.dev] augmenter`), so it works with `spacy.Corpus.v1`.
"""

from typing import Callable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example


def gold_spans_augmenter(label: Optional[str] = None, spans_key: Optional[str] = None) -> Callable[[Language, Example], Iterator[Example]]:
    """An augmenter yielding each example once, its predicted doc given the reference's spans
    (as a perfect span source would find them): `doc.ents`, or `doc.spans[spans_key]`.

    label (Optional[str]): The label the copied spans get; None keeps the gold labels (what a
        typer keyed by source labels, or type-constrained relations, read). Set a placeholder
        such as "ENTITY" to hide gold types from a typer that types every span ("*").
    spans_key (Optional[str]): Copy `doc.spans[spans_key]` instead of `doc.ents` (the
        components' own `spans_key` setting).
    RETURNS (Callable[[Language, Example], Iterator[Example]]): The augmenter. Offsets are
        mapped to the predicted tokens by character (alignment "expand"); knowledge-base ids
        are not copied (they are what a linker predicts).
    """

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        predicted = example.predicted.copy()
        reference = example.reference
        gold = reference.spans.get(spans_key, []) if spans_key else reference.ents
        spans = [_copy(predicted, span, label) for span in gold]
        if spans_key:
            predicted.spans[spans_key] = [span for span in spans if span is not None]
        else:
            predicted.ents = _without_overlaps([span for span in spans if span is not None])
        yield Example(predicted, reference)

    return augment


def _copy(doc: Doc, span: Span, label: Optional[str]) -> Optional[Span]:
    return doc.char_span(span.start_char, span.end_char, label=span.label_ if label is None else label,
                         alignment_mode="expand")


def _without_overlaps(spans: List[Span]) -> List[Span]:
    """Gold ents never overlap; after "expand" alignment two may touch one token: keep the first."""
    kept: List[Span] = []
    end = -1
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.start >= end:
            kept.append(span)
            end = span.end
    return kept
