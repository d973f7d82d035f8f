"""A plain zero-shot classifier with the call shape of transformers' zero-shot pipeline."""

from typing import Any, Dict, List, Optional, Sequence, Union

from .backend import NLIBackend
from .errors import Errors
from .tasks import ranking
from .tasks.classification import AGGREGATE, LONG_TEXT, classify_each
from .validation import check_choice, check_positional_template, normalize_labels

Result = Dict[str, Any]
Labels = Union[str, Sequence[str]]


class ZeroShotClassifier:
    """`classifier(text, candidate_labels, multi_label=..., hypothesis_template=...)` returning
    `{"sequence", "labels", "scores"}` sorted by score, like transformers' pipeline, but with
    all texts x labels pooled into length-sorted batches. Each text may have its own candidate
    labels (a list of label lists), which transformers' pipeline does not support.

    model (Union[str, NLIBackend]): Hub id or local folder, or an existing backend to share
        (e.g. `nlp.get_pipe("zeroshot_nli").backend`).
    **backend_settings: `device`, `dtype`, `max_length`, ... as for `NLIBackend`.
    """

    def __init__(self, model: Union[str, NLIBackend] = "knowledgator/comprehend_it-base", **backend_settings: Any) -> None:
        if isinstance(model, NLIBackend):
            self.backend = model
        else:
            settings = {"settings_hint": "`ZeroShotClassifier(..., {key}=...)`", **backend_settings}
            self.backend = NLIBackend(model, **settings)

    def __call__(
        self,
        sequences: Union[str, Sequence[str]],
        candidate_labels: Union[Labels, Sequence[Labels]],
        *,
        multi_label: bool = False,
        hypothesis_template: str = "This example is {}.",
        long_text: str = "truncate",
        aggregate: str = "max",
    ) -> Union[Result, List[Result]]:
        """Classify one text (returns a dict) or a list of texts (returns a list of dicts).

        sequences (Union[str, Sequence[str]]): A text, or a list of texts.
        candidate_labels: The labels of every text (a list, or a comma-separated string), or
            one such list per text (a list of lists as long as `sequences`). All (text, label)
            pairs go to the model in one pooled call either way; each text's scores equal
            those of classifying it alone.
        multi_label (bool): Independent entail-vs-contradict scores instead of a softmax.
        hypothesis_template (str): Exactly one "{}", where the label goes.
        long_text (str): "truncate", "windows" or "sentences" for texts past `max_length`.
        aggregate (str): "max" or "mean" of window scores.
        RETURNS: {"sequence", "labels", "scores"} sorted by score (a list of them for a list).
        RAISES ValueError: [E060] bad labels, [E016] one label list per text but not as many
            lists as texts, [E017] labels mixed with lists of labels, [E061] bad sequences,
            [E055] bad template.
        """
        single = isinstance(sequences, str)
        texts: List[str] = [sequences] if isinstance(sequences, str) else sequences  # type: ignore[assignment]
        if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise ValueError(Errors.E061.format(value=sequences))
        label_sets = _label_sets(candidate_labels, len(texts))
        check_positional_template(hypothesis_template)
        check_choice("long_text", long_text, LONG_TEXT, "classifier")
        check_choice("aggregate", aggregate, AGGREGATE, "classifier")
        filled: Dict[int, List[str]] = {}  # each distinct label list is filled in once
        for labels in label_sets:
            if id(labels) not in filled:
                filled[id(labels)] = [hypothesis_template.format(label) for label in labels]
        hypothesis_sets = [filled[id(labels)] for labels in label_sets]
        results = classify_each(
            self.backend,
            list(texts),
            hypothesis_sets,
            multi_label=multi_label,
            long_text=long_text,
            aggregate=aggregate,
        )
        outputs = []
        for text, labels, result in zip(texts, label_sets, results):
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


def _label_sets(candidate_labels: Union[Labels, Sequence[Labels]], n_texts: int) -> List[List[str]]:
    """Per text, its validated candidate labels: one list for every text, or one list per text."""
    if isinstance(candidate_labels, (list, tuple)) and any(isinstance(x, (list, tuple)) for x in candidate_labels):
        if not all(isinstance(x, (list, tuple)) for x in candidate_labels):
            raise ValueError(Errors.E017.format(value=candidate_labels))
        if len(candidate_labels) != n_texts:
            raise ValueError(Errors.E016.format(n_sets=len(candidate_labels), n_texts=n_texts))
        return [_candidate_labels(labels, f"classifier (labels of text {i})") for i, labels in enumerate(candidate_labels)]
    labels = _candidate_labels(candidate_labels, "classifier")  # type: ignore[arg-type]
    return [labels] * n_texts


def _candidate_labels(candidate_labels: Labels, name: str) -> List[str]:
    """Accept a list, or a comma-separated string as transformers does."""
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
    if not isinstance(candidate_labels, (list, tuple)) or not candidate_labels:
        raise ValueError(Errors.E060.format(value=candidate_labels))
    return list(normalize_labels(list(candidate_labels), name))


def pipeline(model: str = "knowledgator/comprehend_it-base", device: Optional[Union[str, int]] = "auto", **settings: Any) -> ZeroShotClassifier:
    """Shortcut: `spacy_zeroshot.pipeline(model_id)` gives a `ZeroShotClassifier`."""
    return ZeroShotClassifier(model, device=device if device is not None else "auto", **settings)
