"""The threshold search of `spacy_zeroshot.calibration.search`, on hand-made dev sets whose best
thresholds are known."""

from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_zeroshot.calibration.search import DecisionSet, f1, fit_thresholds, micro


def binary(label: str, scored: List[Tuple[float, bool]]) -> List[Tuple[Dict[str, float], Optional[str]]]:
    return [({label: score}, label if positive else None) for score, positive in scored]


def fit(decisions: DecisionSet, labels: List[str], threshold: float = 0.5, min_examples: int = 1, scope: str = "per_label"):
    return fit_thresholds(decisions, threshold=threshold, thresholds={}, labels=labels, scope=scope, min_examples=min_examples)


def test_calibration_search_finds_known_best_threshold_per_label() -> None:
    # "a": positives 0.7, 0.8, 0.9 and negatives 0.2, 0.6, 0.65: F1 = 1 exactly for t in (0.65, 0.7].
    # "b": positives 0.1, 0.3, negatives 0.05, 0.5: best F1 (0.8) for t in (0.05, 0.1].
    items = binary("a", [(0.7, True), (0.8, True), (0.9, True), (0.2, False), (0.6, False), (0.65, False)])
    items += binary("b", [(0.1, True), (0.3, True), (0.05, False), (0.5, False)])
    decisions = DecisionSet.from_items(items, "passing")
    assert decisions.independent
    result = fit(decisions, ["a", "b"], min_examples=2)
    assert result.thresholds["a"] == pytest.approx(0.675)  # the midpoint between 0.65 and 0.7
    assert result.thresholds["b"] == pytest.approx(0.075)
    counts = decisions.counts(decisions.thresholds_array(result.thresholds, result.threshold))
    assert f1(*counts[0]) == 1.0
    assert f1(*counts[1]) == pytest.approx(0.8)
    assert result.notes == {"a": "calibrated", "b": "calibrated"}


def test_calibration_search_keeps_current_threshold_on_a_plateau() -> None:
    # Every threshold in (0.3, 0.8] separates the classes: 0.5 is already best and must stay.
    decisions = DecisionSet.from_items(binary("a", [(0.9, True), (0.8, True), (0.3, False), (0.1, False)]), "passing")
    assert fit(decisions, ["a"]).thresholds["a"] == 0.5
    assert fit(decisions, ["a"], threshold=0.75).thresholds["a"] == 0.75


def test_calibration_search_counts_unreachable_gold_as_false_negatives() -> None:
    # Without missed positives the best is t in (0.5, 0.8] (TP 2, FN 1: F1 0.8 against 0.75 for
    # t <= 0.4); three gold positives out of reach make recall worth more: t <= 0.4 wins.
    scored = [(0.9, True), (0.8, True), (0.5, False), (0.45, False), (0.4, True)]
    plain = DecisionSet.from_items(binary("a", scored), "passing")
    assert 0.5 < fit(plain, ["a"]).thresholds["a"] <= 0.8
    missed = DecisionSet.from_items(binary("a", scored), "passing", missed={"a": 3})
    assert fit(missed, ["a"]).thresholds["a"] <= 0.4
    assert missed.support.tolist() == [6]


def test_calibration_search_falls_back_to_global_threshold_for_rare_labels() -> None:
    common = [(0.9, True), (0.85, True), (0.8, True), (0.7, False), (0.6, False), (0.95, True)]
    items = binary("common", common) + binary("rare", [(0.75, True), (0.2, False)])
    decisions = DecisionSet.from_items(items, "passing")
    result = fit(decisions, ["common", "rare"], min_examples=3)
    assert result.notes["common"] == "calibrated"
    assert result.notes["rare"].startswith("global: 1 gold < 3")
    assert result.thresholds["rare"] == result.threshold
    assert result.global_note.startswith("calibrated")
    # The global threshold is fitted on all items: 0.72 is best for the pooled set.
    assert 0.7 < result.threshold <= 0.75


def test_calibration_search_keeps_thresholds_with_too_few_examples() -> None:
    decisions = DecisionSet.from_items(binary("a", [(0.9, True), (0.2, False)]), "passing")
    result = fit_thresholds(
        decisions, threshold=0.5, thresholds={"a": 0.4}, labels=["a"], scope="per_label", min_examples=5
    )
    assert result.threshold == 0.5
    assert result.thresholds == {"a": 0.4}
    assert result.notes["a"].startswith("kept")
    assert result.global_note.startswith("kept: 1 gold < min_examples=5")


def test_calibration_search_ranked_rule_thresholds_the_best_option() -> None:
    # Typer-like: each span's best type is taken if it reaches that type's threshold. "person"
    # wins every span; it is right at 0.9 and 0.8 and wrong at 0.6: its best threshold is in (0.6, 0.8].
    items = [
        ({"person": 0.9, "city": 0.1}, "person"),
        ({"person": 0.8, "city": 0.2}, "person"),
        ({"person": 0.6, "city": 0.4}, None),
        ({"person": 0.3, "city": 0.7}, "city"),
        ({"person": 0.45, "city": 0.55}, "person"),
    ]
    decisions = DecisionSet.from_items(items, "ranked")
    column, score = decisions.best()
    assert [decisions.labels[c] for c in column] == ["person", "person", "person", "city", "city"]
    result = fit(decisions, ["person", "city"])
    assert 0.6 < result.thresholds["person"] <= 0.8
    # "city" is right at 0.7 and wrong at 0.55 (gold person): best in (0.55, 0.7].
    assert 0.55 < result.thresholds["city"] <= 0.7


def test_calibration_search_ranked_ties_go_to_the_first_option() -> None:
    decisions = DecisionSet.from_items([({"b": 0.5, "a": 0.5}, "b")], "ranked")
    assert decisions.labels[decisions.best()[0][0]] == "b"


def test_calibration_search_coupled_labels_maximise_micro_f1() -> None:
    # A pair takes its best label among those passing. "x" outscores the gold "y" in the first
    # pair and is wrong in the third: the best is to never take "x" (threshold above 0.9).
    items = [({"x": 0.9, "y": 0.8}, "y"), ({"x": 0.6, "y": 0.3}, "x"), ({"x": 0.7, "y": 0.2}, None), ({"x": 0.4, "y": 0.75}, "y")]
    decisions = DecisionSet.from_items(items, "passing")
    assert not decisions.independent
    before = micro(decisions.counts(decisions.thresholds_array({}, 0.5)))["f"]
    result = fit(decisions, ["x", "y"])
    assert result.thresholds["x"] > 0.9
    assert result.thresholds["y"] == 0.5  # already best; ties keep it
    after = micro(decisions.counts(decisions.thresholds_array(result.thresholds, result.threshold)))["f"]
    assert before == pytest.approx(4 / 7)
    assert after == pytest.approx(0.8)


def test_calibration_search_global_scope_fits_one_threshold() -> None:
    # Linker-like: one NIL threshold. Right links at 0.9 and 0.7, wrong ones at 0.6 and 0.5.
    items = [({"Q1": 0.9, "Q2": 0.1}, "Q1"), ({"Q3": 0.7}, "Q3"), ({"Q4": 0.6, "Q5": 0.4}, "Q5"), ({"Q6": 0.5}, None)]
    decisions = DecisionSet.from_items(items, "ranked")
    result = fit(decisions, [], scope="global")
    assert 0.6 < result.threshold <= 0.7
    assert result.thresholds == {}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.sampled_from(["x", "y", None])), min_size=1, max_size=30),
    st.floats(0, 1),
    st.sampled_from(["ranked", "passing"]),
)
def test_calibration_search_never_lowers_dev_f1(rows, start, rule) -> None:
    decisions = DecisionSet.from_items([({"x": a, "y": b}, gold) for a, b, gold in rows], rule, labels=["x", "y"])
    result = fit(decisions, ["x", "y"], threshold=start)
    before = decisions.counts(decisions.thresholds_array({}, start))
    after = decisions.counts(decisions.thresholds_array(result.thresholds, result.threshold))
    if decisions.independent:
        for i in range(2):
            assert f1(*after[i]) >= f1(*before[i]) - 1e-12
    else:
        assert micro(after)["f"] >= micro(before)["f"] - 1e-12
    assert all(0.0 <= t <= 1.0 for t in result.thresholds.values())


def test_calibration_search_decide_matches_component_rule() -> None:
    # The relations rule, written out: best label among those at or above their threshold.
    decisions = DecisionSet.from_items([({"x": 0.9, "y": 0.8}, None), ({"x": 0.2, "y": 0.3}, None)], "passing")
    decided = decisions.decide(np.array([0.95, 0.5]))
    assert [decisions.labels[d] if d >= 0 else None for d in decided] == ["y", None]
