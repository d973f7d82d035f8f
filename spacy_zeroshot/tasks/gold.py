"""Training groups from gold `Example`s, built exactly like the inference pairs.

Each task's decisions become `training.TrainGroup`s with the same premises (context,
windows, mention markers), hypotheses (templates, descriptions) and scoring mode (exclusive
or independent) that its inference uses, so fine-tuning trains what inference reads. Gold
annotation comes from `Example.reference`; a decision without gold (a label missing from
`doc.cats`, a gold id that is not among the candidates, an unannotated doc) is skipped.
"""

from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import Errors
from ..training.groups import TrainGroup, make_group
from .candidates import CandidateSource
from .classification import premise_windows
from .entities import ANY_LABEL, mention_premise, target_spans
from .linking import candidate_hypothesis
from .relations import RelationLabel, candidate_pairs

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

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


def textcat_groups(
    backend: "NLIBackend",
    examples: Sequence[Example],
    labels: Sequence[str],
    hypotheses: Sequence[str],
    *,
    multi_label: bool,
    long_text: str,
    aggregate: str,
    name: str,
) -> List[TrainGroup]:
    """One group per doc with gold `cats`.

    Exclusive: the doc's one label scoring >= 0.5 in `reference.cats` is the gold option (a
    doc with none or several is skipped). Multi-label: each label's gold value is its
    target; labels missing from `reference.cats` are skipped.
    """
    chosen: List[Tuple[Example, Optional[int], List[Optional[float]]]] = []
    for example in examples:
        cats = example.reference.cats
        values = [None if label not in cats else float(cats[label]) for label in labels]
        positives = [i for i, v in enumerate(values) if v is not None and v >= POSITIVE]
        gold = positives[0] if len(positives) == 1 else None
        if (multi_label and any(v is not None for v in values)) or (not multi_label and gold is not None):
            chosen.append((example, gold, values))
    if not chosen:
        return []
    needs_sentences = long_text == "sentences"
    docs = [premise_doc(example, needs_sentences, name) for example, _, _ in chosen]
    sentences = [[(s.start_char, s.end_char) for s in doc.sents] if needs_sentences and doc.text.strip() else None for doc in docs]
    texts = [doc.text for doc in docs]
    budget = backend.premise_budget(hypotheses)
    windows = premise_windows(backend, texts, [budget] * len(texts), long_text, sentences)
    options = [[h] for h in hypotheses]
    groups = []
    for text, (spans, _), (_, gold, values) in zip(texts, windows, chosen):
        premises = [text[s:e] for s, e in spans]
        group = make_group(premises, options, exclusive=not multi_label, gold=gold, targets=values, aggregate=aggregate)
        if group is not None:
            groups.append(group)
    return groups


def _type_options(label: str, types: Mapping[str, Mapping[str, str]]) -> Optional[Mapping[str, str]]:
    """The candidate types among which a gold span of type `label` was chosen: every type
    (`"*"`), else the first source label's types that include it."""
    if ANY_LABEL in types:
        return types[ANY_LABEL]
    return next((options for options in types.values() if label in options), None)


def typing_groups(
    examples: Sequence[Example],
    *,
    types: Mapping[str, Mapping[str, str]],
    spans_key: Optional[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[Sequence[str]],
    multi_label: bool,
    name: str,
) -> List[TrainGroup]:
    """One group per gold span (in `reference.ents` or `reference.spans[spans_key]`) whose
    label is one of the candidate types: gold type vs the other types."""
    groups = []
    for example in examples:
        spans = target_spans(example.reference, spans_key)
        if not spans:
            continue
        doc = premise_doc(example, context == "sentence", name)
        for span in spans:
            options = _type_options(span.label_, types)
            if options is None or span.label_ not in options:
                continue
            names = list(options)
            mention = doc[span.start : span.end]
            premise = mention_premise(doc, mention, context, window, mention_markers, name)
            hyps = [[hypothesis_template.format(mention=mention.text, label=text)] for text in options.values()]
            gold = names.index(span.label_)
            targets = [1.0 if i == gold else 0.0 for i in range(len(names))]
            group = make_group([premise], hyps, exclusive=not multi_label, gold=gold, targets=targets)
            if group is not None:
                groups.append(group)
    return groups


def linking_groups(
    examples: Sequence[Example],
    *,
    source: CandidateSource,
    spans_key: Optional[str],
    ent_labels: Sequence[str],
    hypothesis_template: str,
    context: str,
    window: int,
    mention_markers: Optional[Sequence[str]],
    nil: str,
    name: str,
) -> List[TrainGroup]:
    """One group per gold mention whose `kb_id_` is among its candidates: the gold
    candidate vs the others (exclusive, as inference scores them). Mentions linked to
    `nil`, unlinked, or whose gold id is not a candidate are skipped."""
    groups = []
    for example in examples:
        spans = [s for s in target_spans(example.reference, spans_key) if s.kb_id_ and s.kb_id_ != nil]
        spans = [s for s in spans if not ent_labels or s.label_ in ent_labels]
        if not spans:
            continue
        doc = premise_doc(example, context == "sentence", name)
        for span in spans:
            candidates = source.candidates(span.text)
            ids = [c["id"] for c in candidates]
            if span.kb_id_ not in ids:
                continue
            mention = doc[span.start : span.end]
            premise = mention_premise(doc, mention, context, window, mention_markers, name)
            hyps = [[candidate_hypothesis(hypothesis_template, mention.text, c)] for c in candidates]
            group = make_group([premise], hyps, exclusive=True, gold=ids.index(span.kb_id_))
            if group is not None:
                groups.append(group)
    return groups


def _spans_on(doc: Doc, spans: Iterable[Span]) -> List[Span]:
    return [Span(doc, s.start, s.end, label=s.label_) for s in spans]


def relation_groups(
    examples: Sequence[Example],
    *,
    labels: Sequence[RelationLabel],
    spans_key: Optional[str],
    max_distance: Optional[int],
    context: str,
    window: int,
    extension: str,
    name: str,
) -> List[TrainGroup]:
    """One group per candidate pair of every doc with gold relations in
    `reference._.<extension>` (None: not annotated, skipped): the gold relation's target is
    1 and the pair's other allowed relations 0; a pair without a gold relation (or with a
    relation this component does not know) is a negative for all its allowed relations. A
    pair whose gold relation its entity types exclude is skipped (inference cannot give it)."""
    known = {label.name for label in labels}
    groups = []
    for example in examples:
        reference = example.reference
        gold_relations = reference._.get(extension) if Doc.has_extension(extension) else None
        if gold_relations is None:
            continue
        gold: Dict[Tuple[int, int, int, int], str] = {
            (rel["head"][0], rel["head"][1], rel["tail"][0], rel["tail"][1]): rel["label"] for rel in gold_relations
        }
        doc = premise_doc(example, max_distance is None or context == "sentence", name)
        spans = _spans_on(doc, target_spans(reference, spans_key))
        for pair in candidate_pairs(
            doc, spans, labels, max_distance=max_distance, context=context, window=window, name=name
        ):
            label = gold.get((*pair.head, *pair.tail))
            allowed = [rel.name for rel in pair.labels]
            if label in known and label not in allowed:
                continue
            targets = [1.0 if rel == label else 0.0 for rel in allowed]
            options = [rel.hypotheses(pair.subj, pair.obj) for rel in pair.labels]
            group = make_group([pair.premise], options, exclusive=False, targets=targets)
            if group is not None:
                groups.append(group)
    return groups
