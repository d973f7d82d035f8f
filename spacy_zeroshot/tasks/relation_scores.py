"""Relations read back from docs: as `Span` objects (`relation_spans`), and scored against gold
relations (`score_relations`, the `spacy-zeroshot.relations_scorer.v1` scorer)."""

from typing import Any, Dict, Iterable, List, NamedTuple, Tuple

from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span
from spacy.training import Example

Relation = Dict[str, Any]


class RelationSpans(NamedTuple):
    """A relation with its mentions as `Span` objects."""

    head: Span
    tail: Span
    label: str
    score: float


def relation_spans(doc: Doc, extension: str = "relations") -> List[RelationSpans]:
    """The relations stored in `doc._.<extension>`, with head and tail as `Span` objects.

    doc (Doc): A doc annotated by 'zeroshot_relation_extractor' (or with gold relations).
    extension (str): The `doc._` attribute holding the relations.
    RETURNS (List[RelationSpans]): (head, tail, label, score) per relation, in stored order.
    """
    relations = doc._.get(extension) if Doc.has_extension(extension) else None
    return [
        RelationSpans(
            doc[rel["head"][0] : rel["head"][1]],
            doc[rel["tail"][0] : rel["tail"][1]],
            rel["label"],
            float(rel.get("score", 1.0)),
        )
        for rel in relations or []
    ]


def _char_keys(doc: Doc, relations: Iterable[Relation]) -> List[Tuple[int, int, int, int, str]]:
    keys = []
    for rel in relations:
        head, tail = doc[rel["head"][0] : rel["head"][1]], doc[rel["tail"][0] : rel["tail"][1]]
        keys.append((head.start_char, head.end_char, tail.start_char, tail.end_char, rel["label"]))
    return keys


def score_relations(examples: Iterable[Example], *, extension: str = "relations", prefix: str = "rel", **_: Any) -> Dict[str, Any]:
    """Micro and per-label precision, recall and F-score of predicted relations.

    Gold relations are read from the reference docs in the same format (`doc._.<extension>`);
    a relation is right when its label and both mentions' character offsets match, so the
    two docs may be tokenized differently. Examples whose reference has no relation
    annotation (None) are skipped.

    RETURNS (Dict[str, Any]): `{prefix}_micro_p`, `_micro_r`, `_micro_f` (None when no
        example has gold relations) and `{prefix}_per_type`: {label: {"p", "r", "f"}}.
    """
    micro = PRFScore()
    per_type: Dict[str, PRFScore] = {}
    annotated = False
    for example in examples:
        gold_relations = example.reference._.get(extension) if Doc.has_extension(extension) else None
        if gold_relations is None:
            continue
        annotated = True
        gold = set(_char_keys(example.reference, gold_relations))
        pred = set(_char_keys(example.predicted, example.predicted._.get(extension) or []))
        for key in gold | pred:
            score = per_type.setdefault(key[-1], PRFScore())
            if key in gold and key in pred:
                micro.tp += 1
                score.tp += 1
            elif key in pred:
                micro.fp += 1
                score.fp += 1
            else:
                micro.fn += 1
                score.fn += 1
    if not annotated:
        return {f"{prefix}_micro_p": None, f"{prefix}_micro_r": None, f"{prefix}_micro_f": None, f"{prefix}_per_type": None}
    return {
        f"{prefix}_micro_p": micro.precision,
        f"{prefix}_micro_r": micro.recall,
        f"{prefix}_micro_f": micro.fscore,
        f"{prefix}_per_type": {label: s.to_dict() for label, s in sorted(per_type.items())},
    }
