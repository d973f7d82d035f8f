"""Thresholds that maximise F1 on gold examples: the search itself, pure numpy.

A component's thresholded decisions are put in one shape, a `DecisionSet`: items (a doc, a
span, an entity pair), each with a score per option it may take (label, type, candidate) and
its gold option (None: it should take none). Two decision rules cover every component:

- "ranked": the item's best option is taken if it reaches that option's threshold (entity
  typer, entity linker; exclusive textcat, whose thresholds stay 0);
- "passing": the best option among those reaching their thresholds is taken (relations; and
  multi-label textcat, whose items are (doc, label) with one option each).

F1 counts as spaCy's scorers do: a taken option equal to the gold one is a true positive; a
taken option that differs is a false positive (and the gold option, if any, a false
negative); a gold option not taken is a false negative. Gold positives that no item can
reach (a gold relation between spans that were never paired, a gold entity id that is not
among the mention's candidates) count as false negatives too (`missed`): they bound recall,
so they move the best threshold.

The search is exhaustive per label over the midpoints between the label's observed scores
(the usual way to place a threshold between dev scores; the current value is also a
candidate), and ties go to the candidate closest to the current threshold, so a threshold
moves only when that raises dev F1. Labels decide independently under "ranked", and under
"passing" when every item has one option: each label's threshold then maximises that
label's F1. Otherwise (relations: a pair takes its best passing label) one label's threshold
changes the others' counts, and the thresholds are found by coordinate ascent on micro F1.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Sequence

import numpy as np

# The decisions live with the tasks that produce them; imported here under their old names.
from ..tasks.decisions import RULES as RULES
from ..tasks.decisions import DecisionSet
from ..tasks.decisions import Item as Item

SCOPES = ("per_label", "global", "none")
MAX_CANDIDATES = 400
MAX_ROUNDS = 5


def f1(tp: float, fp: float, fn: float) -> float:
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0


def prf(tp: float, fp: float, fn: float) -> Dict[str, float]:
    """Precision, recall and F1 (0 where undefined, as spaCy's PRFScore)."""
    return {
        "p": tp / (tp + fp) if tp + fp else 0.0,
        "r": tp / (tp + fn) if tp + fn else 0.0,
        "f": f1(tp, fp, fn),
    }


def micro(counts: np.ndarray, missed_other: int = 0) -> Dict[str, float]:
    tp, fp, fn = counts.sum(axis=0)
    return prf(float(tp), float(fp), float(fn + missed_other))


@dataclass
class Fit:
    """Chosen thresholds and why.

    threshold (float): The global threshold (applies to labels without their own).
    thresholds (Dict[str, float]): Per-label thresholds (only with scope "per_label").
    notes (Dict[str, str]): Per label: "calibrated", or why it was not (too few examples).
    global_note (str): Whether the global threshold was calibrated.
    """

    threshold: float
    thresholds: Dict[str, float]
    notes: Dict[str, str]
    global_note: str


def fit_thresholds(
    decisions: DecisionSet,
    *,
    threshold: float,
    thresholds: Mapping[str, float],
    labels: Sequence[str],
    scope: str,
    min_examples: int,
) -> Fit:
    """Choose the thresholds that maximise dev F1.

    First one global threshold (micro F1 over every item, all labels sharing it), if at least
    `min_examples` gold positives exist; then, with scope "per_label", one threshold per
    label that has at least `min_examples` gold positives. Labels with fewer fall back to the
    (calibrated) global threshold, and the notes say so.

    decisions (DecisionSet): Scores and gold options.
    threshold (float): The current global threshold (start point, tie-breaker).
    thresholds (Mapping[str, float]): Current per-label thresholds (start points).
    labels (Sequence[str]): The labels that may get their own threshold (the component's).
    scope (str): "per_label" or "global".
    min_examples (int): Gold positives needed to fit a threshold.
    RETURNS (Fit): The chosen thresholds.
    """
    if scope not in ("per_label", "global"):
        raise ValueError(f"scope must be 'per_label' or 'global', got {scope!r}")
    support = decisions.support
    n_gold = int(support.sum())
    columns = {label: i for i, label in enumerate(decisions.labels)}
    if n_gold >= min_examples:
        observed = decisions.best()[1] if decisions.rule == "ranked" else decisions.scores
        candidates = _candidates(observed[~np.isnan(observed)], threshold)
        n_labels = len(decisions.labels)
        global_threshold = _best_candidate(
            candidates, threshold, lambda t: micro(decisions.counts(np.full(n_labels, t)), decisions.missed_other)["f"]
        )
        global_note = f"calibrated on {n_gold} gold"
    else:
        global_threshold = threshold
        global_note = f"kept: {n_gold} gold < min_examples={min_examples}"
    chosen: Dict[str, float] = {}
    notes: Dict[str, str] = {}
    if scope == "global":
        return Fit(global_threshold, chosen, notes, global_note)
    eligible = []
    for label in labels:
        n = int(support[columns[label]]) if label in columns else 0
        if n >= min_examples and label in columns:
            eligible.append(label)
            notes[label] = "calibrated"
        elif n_gold >= min_examples:
            chosen[label] = global_threshold
            notes[label] = f"global: {n} gold < {min_examples}"
        else:
            if label in thresholds:
                chosen[label] = float(thresholds[label])
            notes[label] = f"kept: {n} gold < {min_examples}"
    start = {label: float(thresholds.get(label, threshold)) for label in eligible}
    array = decisions.thresholds_array({**chosen, **start}, global_threshold)
    if decisions.independent:
        for label in eligible:
            array[columns[label]] = _fit_label(decisions, array, columns[label], start[label], own=True)
    else:
        for _ in range(MAX_ROUNDS):
            before = array.copy()
            for label in eligible:
                array[columns[label]] = _fit_label(decisions, array, columns[label], start[label], own=False)
            if np.array_equal(before, array):
                break
    chosen.update({label: float(array[columns[label]]) for label in eligible})
    return Fit(global_threshold, chosen, notes, global_note)


def _fit_label(decisions: DecisionSet, array: np.ndarray, column: int, start: float, own: bool) -> float:
    """The best threshold of one column, the others fixed: its own F1 (`own`) or micro F1."""
    if decisions.rule == "ranked":
        best_column, best_score = decisions.best()
        observed = best_score[best_column == column]
    else:
        observed = decisions.scores[:, column]
        observed = observed[~np.isnan(observed)]
    trial = array.copy()

    def objective(t: float) -> float:
        trial[column] = t
        counts = decisions.counts(trial)
        if own:
            return f1(*counts[column])
        return micro(counts, decisions.missed_other)["f"]

    return _best_candidate(_candidates(observed, start), start, objective)


def _candidates(observed: np.ndarray, current: float) -> np.ndarray:
    """Midpoints between consecutive distinct observed scores, one point below and one above
    them all, and the current value; at most about MAX_CANDIDATES (quantiles beyond that)."""
    values = np.unique(observed[np.isfinite(observed)])
    if values.size > MAX_CANDIDATES:
        values = np.unique(np.quantile(values, np.linspace(0.0, 1.0, MAX_CANDIDATES)))
    if values.size == 0:
        return np.array([current])
    points = [values[0] / 2.0, (values[-1] + 1.0) / 2.0, current]
    midpoints = (values[:-1] + values[1:]) / 2.0
    return np.clip(np.unique(np.concatenate([midpoints, points])), 0.0, 1.0)


def _best_candidate(candidates: np.ndarray, current: float, objective: Callable[[float], float]) -> float:
    """The candidate with the highest objective; ties go to the one closest to `current`."""
    best_value, best_t = -1.0, float(current)
    for t in sorted(candidates.tolist(), key=lambda c: (abs(c - current), c)):
        value = objective(t)
        if value > best_value + 1e-12:
            best_value, best_t = value, float(t)
    return best_t

