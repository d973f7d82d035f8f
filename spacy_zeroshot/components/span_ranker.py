"""The `zeroshot_span_ranker` component: rank a doc's sentences (or a span group) against a query."""

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.util import SimpleFrozenList

from ..errors import Errors
from ..tasks.ranking import (
    RankerSettings,
    SpanRankTask,
    candidate_spans,
    check_query,
    ndcg,
    ranked_order,
    reciprocal_rank,
)
from ..validation import check_positional_template
from .base import ZeroShotTask
from .user_strings import keep_exact

RELEVANCE_ATTR = "zeroshot_relevance"
QUERY_ATTR = "zeroshot_query"
if not Span.has_extension(RELEVANCE_ATTR):
    Span.set_extension(RELEVANCE_ATTR, default=None)
if not Doc.has_extension(QUERY_ATTR):
    Doc.set_extension(QUERY_ATTR, default=None)

__all__ = ["ZeroShotSpanRanker", "candidate_spans", "score_span_ranking"]

STRINGS_FILE = "strings.json"  # written by earlier versions; still read (see `from_disk`)


def score_span_ranking(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Ranking and selection scores against gold relevant spans: the reference doc's
    `doc.spans[output_key]` (docs without that group are skipped; spans match by character
    offsets).

    rank_mrr, rank_ndcg: mean reciprocal rank of the first relevant span and nDCG (binary
        gains) of the ranking by `span._.zeroshot_relevance`, over docs with a relevant span;
    rank_p, rank_r, rank_f: micro P/R/F of the spans kept in the predicted `doc.spans[output_key]`.
    Values are None when no doc has the gold group.
    """
    spans_key, output_key = kwargs.get("spans_key"), kwargs.get("output_key", "ranked")
    name = kwargs.get("name", "zeroshot_span_ranker")
    selection, reciprocal, gains, counted = PRFScore(), [], [], 0
    for example in examples:
        if output_key not in example.reference.spans:
            continue
        counted += 1
        gold = {(s.start_char, s.end_char) for s in example.reference.spans[output_key]}
        kept = {(s.start_char, s.end_char) for s in example.predicted.spans.get(output_key, [])}
        selection.tp += len(kept & gold)
        selection.fp += len(kept - gold)
        selection.fn += len(gold - kept)
        if not gold:
            continue
        # Spans of a group with the same offsets share one score: rank each text once.
        by_offsets: Dict[Tuple[int, int], float] = {}
        for span in candidate_spans(example.predicted, spans_key, name):
            by_offsets.setdefault((span.start_char, span.end_char), span._.get(RELEVANCE_ATTR) or 0.0)
        offsets = list(by_offsets)
        relevant = [offsets[i] in gold for i in ranked_order(list(by_offsets.values()))]
        reciprocal.append(reciprocal_rank(relevant))
        gains.append(ndcg(relevant, ideal=[1.0] * len(gold)) or 0.0)
    if not counted:
        return {key: None for key in ("rank_mrr", "rank_ndcg", "rank_p", "rank_r", "rank_f")}
    return {
        "rank_mrr": sum(reciprocal) / len(reciprocal) if reciprocal else None,
        "rank_ndcg": sum(gains) / len(gains) if gains else None,
        "rank_p": selection.precision,
        "rank_r": selection.recall,
        "rank_f": selection.fscore,
    }


class ZeroShotSpanRanker(ZeroShotTask):
    """Scores how relevant each sentence of a doc (or each span of `doc.spans[spans_key]`) is to
    a query, e.g. to select evidence for a claim, with the pipeline's NLI model.

    The premise is the span's text, the hypothesis `hypothesis_template.format(query)`; the
    score is P(entailment) against P(contradiction), as transformers' zero-shot pipeline with
    `multi_label=True`. The query is the doc's own `doc._.zeroshot_query` when set, else
    `query`. Scores go to `span._.zeroshot_relevance`; the spans scoring at least `threshold`,
    best first and at most `top_k`, to `doc.spans[output_key]` (the group's `attrs["query"]`
    says which query ranked them). All spans of all docs of a batch are scored in one call.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        query: Optional[str],
        hypothesis_template: str,
        spans_key: Optional[str],
        top_k: Optional[int],
        threshold: float,
        output_key: str,
        long_text: str,
        aggregate: str,
        nli_component: str,
        scorer: Optional[Callable[..., Dict[str, Any]]],
    ) -> None:
        super().__init__(nlp, name, nli_component)
        self.settings: RankerSettings = RankerSettings.from_config(
            name,
            query=query,
            hypothesis_template=hypothesis_template,
            spans_key=spans_key,
            top_k=top_k,
            threshold=threshold,
            output_key=output_key,
            long_text=long_text,
            aggregate=aggregate,
        )
        self.scorer = scorer
        keep_exact(
            nlp,
            name,
            {
                "query": query,
                "hypothesis_template": hypothesis_template,
                "spans_key": spans_key,
                "output_key": output_key,
                "nli_component": nli_component,
            },
        )

    def query_for(self, doc: Doc) -> str:
        """The query a doc is ranked against: `doc._.zeroshot_query`, else the component's `query`."""
        own = doc._.get(QUERY_ATTR)
        if own is not None:
            return check_query(own, " in `doc._.zeroshot_query`")
        if self.settings.query is None:
            raise ValueError(Errors.E404.format(name=self.name))
        return self.settings.query

    def pair_task(self) -> SpanRankTask:
        return SpanRankTask(self.settings, self.name, self.query_for)

    def set_annotations(self, docs: Iterable[Doc], predictions: List[Dict[str, Any]]) -> None:
        output_key = self.settings.output_key
        for doc, prediction in zip(docs, predictions):
            entries = prediction["spans"]
            for entry in entries:
                doc[entry["start"] : entry["end"]]._.set(RELEVANCE_ATTR, entry["score"])
            kept = [
                Span(doc, e["start"], e["end"], label=e["label"], kb_id=e["kb_id"])
                for e in (entries[i] for i in prediction["kept"])
            ]
            doc.spans[output_key] = SpanGroup(doc, name=output_key, attrs={"query": prediction["query"]}, spans=kept)

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """`rank_mrr`, `rank_ndcg`, `rank_p`, `rank_r`, `rank_f` for `nlp.evaluate` (see
        `score_span_ranking`)."""
        if self.scorer is None:
            return {}
        args = {"spans_key": self.settings.spans_key, "output_key": self.settings.output_key, "name": self.name}
        args.update(kwargs)
        return self.scorer(examples, **args)

    # The query and template reach config.cfg exactly through `keep_exact` (literal blocks),
    # so the component saves no strings of its own. Folders saved by earlier versions held them
    # in strings.json, next to a config that may have mangled them ("$" read back as "$$"):
    # from_disk still restores them from there.

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotSpanRanker":
        super().from_disk(path, exclude=exclude)
        strings_file = Path(path) / STRINGS_FILE
        if strings_file.exists():
            self._restore(srsly.read_json(strings_file))
        return self

    def _restore(self, strings: Dict[str, Any]) -> None:
        query = None if strings.get("query") is None else check_query(strings["query"])
        template = check_positional_template(strings["hypothesis_template"])
        self.settings = replace(self.settings, query=query, hypothesis_template=template)
