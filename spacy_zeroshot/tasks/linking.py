"""Zero-shot entity linking: choose among a mention's candidates with NLI hypotheses."""

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..training.groups import TrainGroup, make_group
from .base import run_task
from .candidates import Candidate, CandidateSource
from .entities import SpanQueries, SpanQuery, mention_premise, premise_reference, target_spans
from .gold import premise_doc

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import NLIBackend

LINKER_FIELDS = ("mention", "name", "description", "id")
CANDIDATE_FIELDS = ("name", "description", "id")

__all__ = ["LinkerTask", "candidate_hypothesis", "link_decision", "link_spans", "premise_reference"]


def candidate_hypothesis(template: str, mention: str, candidate: Mapping[str, str]) -> str:
    """The hypothesis for one candidate; an empty description falls back to the name."""
    return template.format(
        mention=mention,
        name=candidate["name"],
        description=candidate["description"] or candidate["name"],
        id=candidate["id"],
    )


def link_decision(scores: Mapping[str, float], threshold: float, nil: str) -> str:
    if not scores:
        return nil
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] >= threshold else nil


class LinkerTask(SpanQueries):
    """Entity linking: each mention's candidates (from a `CandidateSource`) as hypotheses;
    exclusive softmax across them (a single candidate is scored entailment vs contradiction,
    so it can still fall below `threshold`); the best at or above `threshold` is linked, else
    `nil`.

    cfg (Mapping[str, Any]): The component's settings ("spans_key", "ent_labels",
        "hypothesis_template", "context", "window", "mention_markers", "threshold", "nil").
    source (CandidateSource): The candidates of a mention.
    name (str): The component name, for error messages.
    """

    def __init__(self, cfg: Mapping[str, Any], source: CandidateSource, name: str) -> None:
        self.cfg = cfg
        self.source = source
        self.name = name
        self.context, self.window, self.mention_markers = cfg["context"], cfg["window"], cfg["mention_markers"]
        self.threshold = float(cfg["threshold"])

    def threshold_of(self, option: str) -> float:
        return self.threshold

    def mentions(self, doc: Doc) -> Iterable[Tuple[Span, Dict[str, Any], SpanQuery]]:
        ent_labels = self.cfg["ent_labels"]
        for span in target_spans(doc, self.cfg["spans_key"]):
            if ent_labels and span.label_ not in ent_labels:
                continue
            candidates: List[Candidate] = self.source.candidates(span.text)
            premise = mention_premise(doc, span, self.context, self.window, self.mention_markers, self.name) if candidates else ""
            hypotheses = [candidate_hypothesis(self.cfg["hypothesis_template"], span.text, c) for c in candidates]
            entry = {"start": span.start, "end": span.end, "label": span.label_}
            yield span, entry, SpanQuery(premise, [c["id"] for c in candidates], hypotheses)

    def gold_groups(self, examples: Sequence[Example], tokens: Any = None) -> List[TrainGroup]:
        """One group per gold mention whose `kb_id_` is among its candidates: the gold
        candidate vs the others (exclusive, as inference scores them). Mentions linked to
        `nil`, unlinked, or whose gold id is not a candidate are skipped."""
        cfg = self.cfg
        nil, ent_labels = cfg["nil"], cfg["ent_labels"]
        groups = []
        for example in examples:
            spans = [s for s in target_spans(example.reference, cfg["spans_key"]) if s.kb_id_ and s.kb_id_ != nil]
            spans = [s for s in spans if not ent_labels or s.label_ in ent_labels]
            if not spans:
                continue
            doc = premise_doc(example, self.context == "sentence", self.name)
            for span in spans:
                candidates = self.source.candidates(span.text)
                ids = [c["id"] for c in candidates]
                if span.kb_id_ not in ids:
                    continue
                mention = doc[span.start : span.end]
                premise = mention_premise(doc, mention, self.context, self.window, self.mention_markers, self.name)
                hyps = [[candidate_hypothesis(cfg["hypothesis_template"], mention.text, c)] for c in candidates]
                group = make_group([premise], hyps, exclusive=True, gold=ids.index(span.kb_id_))
                if group is not None:
                    groups.append(group)
        return groups

    def decide_entry(self, entry: Dict[str, Any], scores: Dict[str, float]) -> None:
        entry.update({"kb_id": link_decision(scores, self.threshold, self.cfg["nil"]), "scores": scores})


def link_spans(
    backend: "NLIBackend", docs: Sequence[Doc], *, source: CandidateSource, name: str, **settings: Any
) -> List[List[Dict[str, Any]]]:
    """Link every mention of every doc, scoring all candidates in one backend call.

    settings: `LinkerTask`'s settings ("spans_key", "ent_labels", ...).
    RETURNS (List[List[Dict[str, Any]]]): Per doc, per linked mention: {"start", "end",
        "label", "kb_id" (chosen id or `nil`), "scores" ({candidate id: score})}.
    """
    task = LinkerTask(settings, source, name)
    return run_task(backend, task, docs, task.requests(docs, backend))
