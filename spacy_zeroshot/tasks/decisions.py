"""What a task gives calibration: its decisions on gold examples, and the settings it may tune.

A task's decisions on gold examples are put in one shape, a `DecisionSet`: items (a doc, a
span, an entity pair), each with a score per option it may take (label, type, candidate) and
its gold option (None: it should take none); `calibration.search` picks the thresholds that
maximise F1 over it (its module docstring says how decisions are counted).

A task's `CalibrationTask` (returned by its pair task's `calibration()`) builds that set from
the task's predictions and reads the settings calibration may change: the global threshold,
per-label thresholds, the hypothesis template and each label's wording. It never writes a
component: each change is a new settings object (`dataclasses.replace`), which calibration
assigns to `component.settings`. These types live in the tasks layer, below calibration, so
that a task module holds its calibration adapter beside its pair logic.
"""

from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors

RULES = ("ranked", "passing")

Item = Tuple[Mapping[str, float], Optional[str]]

@dataclass
class DecisionSet:
    """The thresholded decisions of one component on gold examples.

    labels (List[str]): The options, one column each.
    scores (np.ndarray): (n_items, n_labels) float64, NaN where an item lacks the option.
    gold (np.ndarray): (n_items,) column of the gold option, -1 for none.
    rule (str): "ranked" or "passing" (see `calibration.search`).
    missed (np.ndarray): (n_labels,) gold positives of each option that no item can reach.
    missed_other (int): Gold positives of options the component cannot predict at all.
    """

    labels: List[str]
    scores: np.ndarray
    gold: np.ndarray
    rule: str
    missed: np.ndarray
    missed_other: int = 0
    _best: Optional[Tuple[np.ndarray, np.ndarray]] = field(default=None, repr=False)

    @classmethod
    def from_items(
        cls,
        items: Iterable[Item],
        rule: str,
        *,
        labels: Sequence[str] = (),
        missed: Optional[Mapping[str, int]] = None,
        missed_other: int = 0,
    ) -> "DecisionSet":
        """Build from (scores {option: score}, gold option or None) per item.

        labels (Sequence[str]): Options to include even if no item has them (e.g. every
            label of the component, for the report); others are added in order of appearance.
        missed (Optional[Mapping[str, int]]): Gold positives per option that no item reaches.
        """
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        items = list(items)
        index: Dict[str, int] = {}
        for label in labels:
            index.setdefault(label, len(index))
        for scores, gold in items:
            for option in scores:
                index.setdefault(option, len(index))
            if gold is not None:
                index.setdefault(gold, len(index))
        for label in missed or {}:
            index.setdefault(label, len(index))
        matrix = np.full((len(items), len(index)), np.nan)
        gold_column = np.full(len(items), -1, dtype=np.int64)
        for row, (scores, gold) in enumerate(items):
            for option, score in scores.items():
                matrix[row, index[option]] = float(score)
            if gold is not None:
                gold_column[row] = index[gold]
        missed_counts = np.zeros(len(index), dtype=np.int64)
        for label, n in (missed or {}).items():
            missed_counts[index[label]] += int(n)
        return cls(list(index), matrix, gold_column, rule, missed_counts, int(missed_other))

    @property
    def support(self) -> np.ndarray:
        """Gold positives per option (items plus `missed`)."""
        counts = np.bincount(self.gold[self.gold >= 0], minlength=len(self.labels))
        return counts + self.missed

    @property
    def independent(self) -> bool:
        """Whether each label's threshold changes only that label's counts."""
        if self.rule == "ranked":
            return True
        return bool((np.sum(~np.isnan(self.scores), axis=1) <= 1).all())

    def best(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per item, the column and score of its best option (-1, NaN without options).

        Ties go to the first option, as Python's `max` over the component's score dict."""
        if self._best is None:
            filled = np.where(np.isnan(self.scores), -np.inf, self.scores)
            column = filled.argmax(axis=1) if filled.size else np.zeros(len(filled), dtype=np.int64)
            has = np.isfinite(filled.max(axis=1)) if filled.size else np.zeros(len(filled), dtype=bool)
            column = np.where(has, column, -1)
            score = np.where(has, filled.max(axis=1) if filled.size else np.nan, np.nan)
            self._best = (column, score)
        return self._best

    def decide(self, thresholds: np.ndarray) -> np.ndarray:
        """The option each item takes under `thresholds` (one per column); -1 for none."""
        if self.rule == "ranked":
            column, score = self.best()
            limit = thresholds[np.maximum(column, 0)]
            return np.where((column >= 0) & (score >= limit), column, -1)
        passing = self.scores >= thresholds[None, :]  # NaN never passes
        filled = np.where(passing, self.scores, -np.inf)
        if not filled.size:
            return np.full(len(filled), -1, dtype=np.int64)
        return np.where(passing.any(axis=1), filled.argmax(axis=1), -1)

    def counts(self, thresholds: np.ndarray) -> np.ndarray:
        """(n_labels, 3) true positives, false positives, false negatives per option."""
        return _counts(self.decide(thresholds), self.gold, len(self.labels), self.missed)

    def thresholds_array(self, thresholds: Mapping[str, float], default: float) -> np.ndarray:
        return np.array([thresholds.get(label, default) for label in self.labels], dtype=np.float64)


def _counts(decided: np.ndarray, gold: np.ndarray, n_labels: int, missed: np.ndarray) -> np.ndarray:
    right = (decided == gold) & (decided >= 0)
    tp = np.bincount(decided[right], minlength=n_labels)
    fp = np.bincount(decided[(decided >= 0) & ~right], minlength=n_labels)
    fn = np.bincount(gold[(gold >= 0) & ~right], minlength=n_labels) + missed
    return np.stack([tp, fp, fn], axis=1)


class CalibrationTask:
    """Base adapter of a task's settings: thresholds in `threshold` (and `thresholds` per
    label), the template in `template_key`. Every setter returns new settings (the settings
    dataclasses are frozen); the caller assigns them to the component.

    settings (Any): The task's settings when calibration starts (what does not change while
        it runs: labels, keys, the decision mode).
    name (str): The component name, for messages.

    rule (str): "ranked" or "passing" (see `calibration.search`).
    scope (str): "per_label", "global" or "none" (no thresholds to choose).
    template_key (Optional[str]): The settings field of the hypothesis template, if it has one.
    label_wording (bool): Whether each label has a wording to choose (a description).
    gold_name (str): Where the gold annotation is read from, for error messages.
    """

    rule = "ranked"
    scope = "per_label"
    template_key: Optional[str] = "hypothesis_template"
    label_wording = True
    gold_name = "annotation"

    def __init__(self, settings: Any, name: str) -> None:
        self.settings = settings
        self.name = name

    # Gold and decisions ------------------------------------------------------------------

    def has_gold(self, example: Example) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:  # pragma: no cover
        raise NotImplementedError

    def labels(self) -> List[str]:  # pragma: no cover - abstract
        """The labels that may get a threshold (and a wording) of their own."""
        raise NotImplementedError

    # Thresholds --------------------------------------------------------------------------

    def get_thresholds(self, settings: Any) -> Tuple[float, Dict[str, float]]:
        return float(settings.threshold), dict(getattr(settings, "thresholds", None) or {})

    def with_thresholds(self, settings: Any, threshold: float, thresholds: Mapping[str, float]) -> Any:
        """`settings` with the global threshold (and the per-label ones, if it has them) replaced."""
        changes: Dict[str, Any] = {"threshold": float(threshold)}
        if "thresholds" in {f.name for f in fields(settings)}:
            changes["thresholds"] = {label: float(t) for label, t in thresholds.items()}
        return replace(settings, **changes)

    def open_thresholds(self, settings: Any) -> Any:
        """`settings` with every threshold at 0, so that every option's score is reported."""
        return self.with_thresholds(settings, 0.0, {})

    # Wording -----------------------------------------------------------------------------

    def check_template(self, value: Any) -> str:  # pragma: no cover - per task
        raise NotImplementedError

    def get_template(self, settings: Any) -> Optional[str]:
        return None if self.template_key is None else getattr(settings, self.template_key)

    def with_template(self, settings: Any, value: str) -> Any:
        if self.template_key is None:
            return settings
        return replace(settings, **{self.template_key: value})

    def check_label_wording(self, label: str, value: Any) -> Any:  # pragma: no cover - per task
        raise NotImplementedError

    def get_label_wording(self, settings: Any, label: str) -> Any:  # pragma: no cover - per task
        raise NotImplementedError

    def with_label_wording(self, settings: Any, label: str, value: Any) -> Any:  # pragma: no cover - per task
        raise NotImplementedError


def check_description(name: str, label: str, value: Any) -> str:
    """A label's wording when it is one description: a non-empty string (E433)."""
    if not (isinstance(value, str) and value.strip()):
        raise ValueError(Errors.E433.format(name=name, label=label, value=value, expected="a non-empty string"))
    return value
