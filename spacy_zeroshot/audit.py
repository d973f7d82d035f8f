"""The audit trail: what the model read and said behind every decision (opt-in `save_io`).

With `save_io` on the pipeline's `zeroshot_nli` component, every task component stores, for
each decision it takes (a label of a doc, a type or candidate of a span, a label of an entity
pair), the (premise, hypothesis) pairs it scored, their raw logits, the final score and the
threshold it was held to, in `doc.user_data["zeroshot_io"]`:

    {component name: {"classes": ["entailment", "neutral", "contradiction"],
                      "decisions": [{"target": {"kind": "doc"} | {"kind": "span", "start", "end"}
                                               | {"kind": "relation", "head": [s, e], "tail": [s, e]},
                                     "label": str, "score": float, "threshold": float | None,
                                     "pairs": [{"premise": [start_char, end_char] | str,
                                                "hypothesis": str, "logits": [float, ...]}]}]}}

Targets use token offsets (end exclusive), like `doc._.relations`; a premise that is a
stretch of the doc is stored as its character offsets (small), any other premise (e.g. with
mention markers) as text. Everything is plain msgpack data, so it survives `DocBin`
(`store_user_data=True`), `Doc.to_bytes` and `nlp.pipe(n_process=...)`. `explain(doc, ...)`
reads it back per component, label, span or relation.

How a task adds to the trail: `ZeroShotTask` opens a recording around `predict` when
`save_io` is on; the one scoring loop (`tasks.base.run_task`) then asks the task's `explain`
for its decisions (target, option, score, threshold and the rows of the batch behind each)
and adds them with their pairs and logits (`tasks.base.capture`). `active_trail()` is None
when no recording is open, so the trail costs nothing then. A new task gets the trail by
implementing `explain`.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span

USER_DATA_KEY = "zeroshot_io"
DOC_TARGET: Dict[str, Any] = {"kind": "doc"}

Premise = Union[Sequence[int], str]
ScoredPair = Tuple[Premise, str, Sequence[float]]

_ACTIVE: "ContextVar[Optional[AuditTrail]]" = ContextVar("spacy_zeroshot_audit_trail", default=None)


def span_target(start: int, end: int) -> Dict[str, Any]:
    """The target of a decision about the span of tokens [start, end)."""
    return {"kind": "span", "start": int(start), "end": int(end)}


def relation_target(head: Sequence[int], tail: Sequence[int]) -> Dict[str, Any]:
    """The target of a decision about the (head, tail) pair, each [start, end) in tokens."""
    return {"kind": "relation", "head": [int(head[0]), int(head[1])], "tail": [int(tail[0]), int(tail[1])]}


class AuditTrail:
    """The decisions of one component on one minibatch of docs, collected during `predict`."""

    def __init__(self) -> None:
        self._decisions: Dict[int, List[Dict[str, Any]]] = {}

    def add(
        self,
        doc_index: int,
        target: Mapping[str, Any],
        label: str,
        score: float,
        pairs: Iterable[ScoredPair],
        threshold: Optional[float] = None,
    ) -> None:
        """Record one decision.

        doc_index (int): Position of the doc in the minibatch given to `predict`.
        target (Mapping[str, Any]): `DOC_TARGET`, `span_target(...)` or `relation_target(...)`
            (a new kind of target is any small dict with a "kind").
        label (str): The option decided on (label, type, candidate id).
        score (float): Its final score.
        pairs (Iterable[Tuple[premise, hypothesis, logits]]): The scored pairs behind the
            score: premise as [start_char, end_char] of the doc, or its text; raw logits.
        threshold (Optional[float]): The threshold the decision was held to, if any.
        """
        self._decisions.setdefault(doc_index, []).append(
            {
                "target": dict(target),
                "label": label,
                "score": float(score),
                "threshold": None if threshold is None else float(threshold),
                "pairs": [
                    {
                        "premise": premise if isinstance(premise, str) else [int(premise[0]), int(premise[1])],
                        "hypothesis": hypothesis,
                        "logits": [float(x) for x in logits],
                    }
                    for premise, hypothesis, logits in pairs
                ],
            }
        )

    def write(self, docs: Sequence[Doc], component: str, classes: Sequence[str]) -> None:
        """Store the decisions in each doc's user data, replacing this component's previous ones."""
        for i, doc in enumerate(docs):
            trail = dict(doc.user_data.get(USER_DATA_KEY) or {})
            trail[component] = {"classes": list(classes), "decisions": self._decisions.get(i, [])}
            doc.user_data[USER_DATA_KEY] = trail


def active_trail() -> Optional[AuditTrail]:
    """The trail to add decisions to, or None when no component is recording."""
    return _ACTIVE.get()


@contextmanager
def recording() -> Iterator[AuditTrail]:
    """Make a fresh trail the active one for the duration of the block."""
    trail = AuditTrail()
    token = _ACTIVE.set(trail)
    try:
        yield trail
    finally:
        _ACTIVE.reset(token)


# Reading the trail back -----------------------------------------------------------------


def explain(
    doc: Doc,
    *,
    component: Optional[str] = None,
    label: Optional[str] = None,
    span: Optional[Union[Span, Sequence[int]]] = None,
    relation: Optional[Any] = None,
) -> List[Dict[str, Any]]:
    """The recorded decisions of `doc`, with premises as text and logits by class name.

    doc (Doc): A doc annotated with `save_io` on.
    component (Optional[str]): Only this component's decisions.
    label (Optional[str]): Only decisions about this label (type, candidate id).
    span (Optional[Union[Span, Sequence[int]]]): Only decisions about this span (a `Span`, or
        token offsets (start, end)).
    relation (Optional[Any]): Only decisions about this entity pair: a relation dict of
        `doc._.relations` ({"head": [s, e], "tail": [s, e], ...}) or a (head, tail) pair of
        `Span`s (e.g. a `RelationSpans`).
    RETURNS (List[Dict[str, Any]]): Per decision {"component", "target", "label", "score",
        "threshold", "pairs": [{"premise" (text), "premise_span" ([start_char, end_char] or
        None), "hypothesis", "logits" ({class name: logit})}]}. Empty without a trail.
    """
    wanted = _wanted_target(span, relation)
    result = []
    for name, decision, classes in _decisions(doc):
        if component is not None and name != component:
            continue
        if label is not None and decision["label"] != label:
            continue
        target = _plain(decision["target"])
        if wanted is not None and target != wanted:
            continue
        pairs = []
        for pair in decision["pairs"]:
            premise = pair["premise"]
            if isinstance(premise, str):
                text, where = premise, None
            else:
                where = [int(premise[0]), int(premise[1])]
                text = doc.text[where[0] : where[1]]
            pairs.append(
                {"premise": text, "premise_span": where, "hypothesis": pair["hypothesis"], "logits": _by_class(pair["logits"], classes)}
            )
        result.append(
            {
                "component": name,
                "target": target,
                "label": decision["label"],
                "score": decision["score"],
                "threshold": decision["threshold"],
                "pairs": pairs,
            }
        )
    return result


def review_explanations(doc: Doc) -> List[Dict[str, Any]]:
    """The trail of `doc` for a review file: targets by character offsets and text, premises as
    character offsets (or text), logits by class name.

    RETURNS (List[Dict[str, Any]]): Per decision {"component", "target", "label", "score",
        "threshold", "pairs": [{"premise", "hypothesis", "logits"}]}; the target is "doc",
        {"start", "end", "text"} for a span, or {"head": {...}, "tail": {...}} for a pair.
    """
    result = []
    for name, decision, classes in _decisions(doc):
        target = _plain(decision["target"])
        kind = target.get("kind")
        if kind == "span":
            where: Any = _char_span(doc, target["start"], target["end"])
        elif kind == "relation":
            where = {"head": _char_span(doc, *target["head"]), "tail": _char_span(doc, *target["tail"])}
        elif kind == "doc":
            where = "doc"
        else:
            where = target
        pairs = [
            {
                "premise": pair["premise"] if isinstance(pair["premise"], str) else [int(x) for x in pair["premise"]],
                "hypothesis": pair["hypothesis"],
                "logits": _by_class(pair["logits"], classes),
            }
            for pair in decision["pairs"]
        ]
        result.append(
            {
                "component": name,
                "target": where,
                "label": decision["label"],
                "score": decision["score"],
                "threshold": decision["threshold"],
                "pairs": pairs,
            }
        )
    return result


def _decisions(doc: Doc) -> Iterator[Tuple[str, Mapping[str, Any], Sequence[str]]]:
    trail = doc.user_data.get(USER_DATA_KEY) or {}
    for name, record in trail.items():
        classes = list(record.get("classes") or [])
        for decision in record.get("decisions") or []:
            yield name, decision, classes


def _plain(value: Any) -> Any:
    """Lists for tuples (DocBin and `Doc.from_bytes` restore user data with tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _by_class(logits: Sequence[float], classes: Sequence[str]) -> Dict[str, float]:
    names = list(classes) if len(classes) == len(logits) else [str(i) for i in range(len(logits))]
    return {name: float(value) for name, value in zip(names, logits)}


def _char_span(doc: Doc, start: int, end: int) -> Dict[str, Any]:
    span = doc[int(start) : int(end)]
    return {"start": span.start_char, "end": span.end_char, "text": span.text}


def _wanted_target(span: Optional[Union[Span, Sequence[int]]], relation: Optional[Any]) -> Optional[Dict[str, Any]]:
    if span is not None:
        start, end = (span.start, span.end) if isinstance(span, Span) else (span[0], span[1])
        return span_target(start, end)
    if relation is None:
        return None
    if isinstance(relation, Mapping):
        return relation_target(relation["head"], relation["tail"])
    head, tail = relation[0], relation[1]
    return relation_target((head.start, head.end), (tail.start, tail.end))
