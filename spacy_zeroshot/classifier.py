"""A plain zero-shot classifier with the call shape of transformers' zero-shot pipeline."""

from typing import Any, Dict, List, Optional, Sequence, Union

from .backend import NLIBackend
from .errors import Errors
from .tasks import ranking
from .tasks.classification import AGGREGATE, LONG_TEXT, classify
from .validation import check_choice, check_positional_template, normalize_labels

Result = Dict[str, Any]


class ZeroShotClassifier:
    """`classifier(text, candidate_labels, multi_label=..., hypothesis_template=...)` returning
    `{"sequence", "labels", "scores"}` sorted by score, like transformers' pipeline, but with
    all texts x labels pooled into length-sorted batches.

    model (Union[str, NLIBackend]): Hub id or local folder, or an existing backend to share
        (e.g. `nlp.get_pipe("zeroshot_nli").backend`).
    **backend_settings: `device`, `dtype`, `max_length`, ... as for `NLIBackend`.
    """

    def __init__(self, model: Union[str, NLIBackend] = "knowledgator/comprehend_it-base", **backend_settings: Any) -> None:
        self.backend = model if isinstance(model, NLIBackend) else NLIBackend(model, **backend_settings)

    def __call__(
        self,
        sequences: Union[str, Sequence[str]],
        candidate_labels: Union[str, Sequence[str]],
        *,
        multi_label: bool = False,
        hypothesis_template: str = "This example is {}.",
        long_text: str = "truncate",
        aggregate: str = "max",
    ) -> Union[Result, List[Result]]:
        """Classify one text (returns a dict) or a list of texts (returns a list of dicts)."""
        single = isinstance(sequences, str)
        texts: List[str] = [sequences] if isinstance(sequences, str) else sequences  # type: ignore[assignment]
        if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise ValueError(Errors.E061.format(value=sequences))
        labels = _candidate_labels(candidate_labels)
        check_positional_template(hypothesis_template)
        check_choice("long_text", long_text, LONG_TEXT, "classifier")
        check_choice("aggregate", aggregate, AGGREGATE, "classifier")
        hypotheses = [hypothesis_template.format(label) for label in labels]
        results = classify(
            self.backend, list(texts), hypotheses, multi_label=multi_label, long_text=long_text, aggregate=aggregate
        )
        outputs = []
        for text, result in zip(texts, results):
            scores = [0.0] * len(labels) if result.scores is None else [float(s) for s in result.scores]
            order = sorted(range(len(labels)), key=lambda i: -scores[i])
            outputs.append({"sequence": text, "labels": [labels[i] for i in order], "scores": [scores[i] for i in order]})
        return outputs[0] if single else outputs

    def rerank(
        self,
        query: Union[str, Sequence[str]],
        documents: Union[Sequence[str], Sequence[Sequence[str]]],
        *,
        template: str = ranking.DEFAULT_TEMPLATE,
        top_k: Optional[int] = None,
        long_text: str = "truncate",
        aggregate: str = "max",
    ) -> Union[Result, List[Result]]:
        """Rank documents (e.g. search results) by how relevant they are to a query.

        Each document is the premise and `template.format(query)` the hypothesis; each is
        scored on its own as P(entailment) against P(contradiction), exactly the score of
        `pipeline("zero-shot-classification")(document, [query], hypothesis_template=template,
        multi_label=True)`. All (document, query) pairs of a call, of every query, go to the
        model in one pooled, length-batched call.

        query (Union[str, Sequence[str]]): A query, or a list of queries.
        documents: For one query, a list of texts. For a list of queries, one list of texts
            per query, or one list shared by all of them.
        template (str): The hypothesis, with exactly one "{}" for the query, e.g. "This text is
            about {}." (topics, the default) or "The answer is {}." (candidate answers).
        top_k (Optional[int]): Keep only the best k documents; None keeps all.
        long_text (str): "truncate" (warning `W400` when a document is cut) or "windows"
            (score overlapping windows of a long document and `aggregate` them).
        aggregate (str): "max" or "mean" of a document's window scores.
        RETURNS: `{"query", "documents", "scores", "indices"}` with the documents sorted by
            score, best first (ties keep input order), `indices` their positions in the
            input list, scores in [0, 1]; a list of such dicts for a list of queries. Empty
            documents score 0.0 without a model call.
        RAISES: `E400` (bad query), `E401`/`E402` (bad documents), `E403` (bad `top_k`),
            `E055` (bad template), `E057` (unknown `long_text`/`aggregate`), `E012` (a
            hypothesis too long for the model).
        """
        return ranking.rerank(
            self.backend, query, documents, template=template, top_k=top_k, long_text=long_text, aggregate=aggregate
        )


def _candidate_labels(candidate_labels: Union[str, Sequence[str]]) -> List[str]:
    """Accept a list, or a comma-separated string as transformers does."""
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
    if not isinstance(candidate_labels, (list, tuple)) or not candidate_labels:
        raise ValueError(Errors.E060.format(value=candidate_labels))
    return list(normalize_labels(list(candidate_labels), "classifier"))


def pipeline(model: str = "knowledgator/comprehend_it-base", device: Optional[Union[str, int]] = "auto", **settings: Any) -> ZeroShotClassifier:
    """Shortcut: `spacy_zeroshot.pipeline(model_id)` gives a `ZeroShotClassifier`."""
    return ZeroShotClassifier(model, device=device if device is not None else "auto", **settings)
