"""Calibration of a component on gold examples: thresholds, and optionally the wording.

The component predicts on the examples exactly as in a pipeline (the components before it
run first, on copies of the predicted docs), with its thresholds opened to 0 so that every
option's score is seen; `search.fit_thresholds` then picks the thresholds. Given candidate
templates or label wordings, each slot (the template, then each label in turn) takes the
candidate with the best dev micro F1 (after fitting the thresholds for it, when they are
fitted); the current wording is always a candidate and wins ties, so dev F1 never drops.
While candidates are tried, the backend keeps every scored pair, so a premise and
hypothesis are scored once however many candidates share them.
"""

import warnings
from contextlib import nullcontext
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import logger

from ..errors import Errors, Warnings
from ..tasks.decisions import CalibrationTask, DecisionSet
from .protocol import Calibrated
from .report import CalibrationReport
from .search import fit_thresholds, micro, prf
from .store import VERSION

DEFAULT_MIN_EXAMPLES = 10
MEMO_PAIRS = 10_000_000
Slot = Tuple[str, Optional[str]]  # ("template", None) or ("label", label)


def calibrate(
    component: Calibrated,
    examples: Iterable[Example],
    *,
    templates: Optional[Sequence[str]] = None,
    descriptions: Optional[Mapping[str, Sequence[Any]]] = None,
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    thresholds: bool = True,
) -> CalibrationReport:
    """Choose a component's thresholds (and wording) that maximise F1 on gold examples.

    Multi-label textcat and relations get one threshold per label, the entity typer one per
    type (its keep/drop decision), the entity linker its NIL threshold. Labels with fewer
    than `min_examples` gold positives use the global threshold, itself fitted on all
    examples (warning W430), or keep theirs if the examples hold fewer than `min_examples`
    gold positives in all (W432). The choice is stored in `component.calibration`, saved by
    `to_disk` and reused by `spacy.load`.

    component (ZeroShotTask): A task component in its pipeline.
    examples (Iterable[Example]): Gold examples (the reference docs hold `cats`, entity
        spans, `kb_id_` or relations); examples without gold for this component are skipped.
    templates (Optional[Sequence[str]]): Candidate hypothesis templates (relations: for the
        labels that use the component's `template`).
    descriptions (Optional[Mapping[str, Sequence[Any]]]): Per label, candidate wordings: a
        description (textcat, typer) or a template / list of templates (relations).
    min_examples (int): Gold positives needed for a threshold of its own.
    thresholds (bool): False: choose the wording only.
    RETURNS (CalibrationReport): Per label, threshold and dev P/R/F before -> after, and the
        wording tried and chosen (`report.table()` prints it).
    RAISES ValueError: E430 (nothing to calibrate), E431 (not Examples), E432 (no gold),
        E433/E434/E436/E437 (bad candidates), E435 (bad `min_examples`).
    """
    task = _task(component)
    if isinstance(min_examples, bool) or not isinstance(min_examples, int) or min_examples < 1:
        raise ValueError(Errors.E435.format(value=min_examples))
    examples = list(examples)
    for example in examples:
        if not isinstance(example, Example):
            raise ValueError(Errors.E431.format(name=component.name, value=type(example).__name__))
    gold = [example for example in examples if task.has_gold(example)]
    if not gold:
        raise ValueError(Errors.E432.format(n=len(examples), name=component.name, what=task.gold_name))
    slots = _wording_slots(task, component.settings, templates, descriptions)
    docs = _upstream_docs(component, gold)
    start = task.get_thresholds(component.settings)
    fitting = thresholds and task.scope != "none"

    def objective(decisions: DecisionSet) -> float:
        chosen = _fit(task, decisions, start, min_examples) if fitting else start
        return micro(decisions.counts(_array(task, decisions, chosen)), decisions.missed_other)["f"]

    with component.remembering_pairs(MEMO_PAIRS) if slots else nullcontext():
        before = _collect(task, component, docs, gold)
        current = before
        wording: List[Dict[str, Any]] = []
        for slot, candidates in slots:
            tried, best = [], (-1.0, 0, current)
            for i, value in enumerate(candidates):
                component.settings = _with_wording(task, component.settings, slot, value)
                decisions = current if i == 0 else _collect(task, component, docs, gold)
                f = objective(decisions)
                tried.append({"value": value, "f": f})
                if f > best[0] + 1e-12:
                    best = (f, i, decisions)
            component.settings = _with_wording(task, component.settings, slot, candidates[best[1]])
            current = best[2]
            wording.append({"slot": slot[1] or "template", "before": candidates[0], "chosen": candidates[best[1]], "candidates": tried})
    after = current
    chosen = start
    notes: Dict[str, str] = {}
    if fitting:
        fit = fit_thresholds(
            after, threshold=start[0], thresholds=start[1], labels=task.labels(), scope=task.scope, min_examples=min_examples
        )
        chosen, notes = (fit.threshold, fit.thresholds), dict(fit.notes)
        notes[""] = fit.global_note
        component.settings = task.with_thresholds(component.settings, *chosen)
        _warn(component.name, after, fit.notes, fit.threshold, min_examples)
    report = _report(component.name, task, len(gold), min_examples, before, start, after, chosen, notes, wording)
    # What an earlier calibration chose and this one did not revisit stays part of the state.
    previous = component.calibration or {}
    component.calibration = {
        "version": VERSION,
        "threshold": chosen[0] if fitting else previous.get("threshold"),
        "thresholds": dict(chosen[1]) if fitting else dict(previous.get("thresholds") or {}),
        "wording": _wording_state(wording, previous.get("wording") or {}),
        "report": report.to_dict(),
    }
    return report


def calibrate_on_initialize(
    component: Calibrated,
    get_examples: Optional[Callable[[], Iterable[Example]]],
    *,
    templates: Optional[Sequence[str]],
    descriptions: Optional[Mapping[str, Sequence[Any]]],
    min_examples: int,
) -> Optional[CalibrationReport]:
    """`initialize`'s calibration: only when the examples hold gold for the component (spaCy's
    dummy examples do not), so `nlp.initialize()` alone changes nothing. Given candidate
    wordings, gold is required (E432). The report is logged (spaCy's logger, INFO)."""
    task = component.calibration_task()
    wants_wording = bool(templates) or bool(descriptions)
    if task is None:
        if wants_wording:
            raise ValueError(Errors.E430.format(name=component.name))
        return None
    examples = [example for example in (get_examples() if get_examples is not None else []) if isinstance(example, Example)]
    if not any(task.has_gold(example) for example in examples):
        if wants_wording:
            raise ValueError(Errors.E432.format(n=len(examples), name=component.name, what=task.gold_name))
        logger.debug("'%s': no gold examples for it, nothing calibrated", component.name)
        return None
    report = calibrate(component, examples, templates=templates, descriptions=descriptions, min_examples=min_examples)
    logger.info("%s", report.table())
    return report


def _task(component: Calibrated) -> CalibrationTask:
    task = component.calibration_task() if hasattr(component, "calibration_task") else None
    if task is None:
        raise ValueError(Errors.E430.format(name=getattr(component, "name", component)))
    return task


def _upstream_docs(component: Calibrated, examples: Sequence[Example]) -> List[Doc]:
    """Copies of the predicted docs, annotated by the components before `component`."""
    return component.upstream_docs(examples)


def _collect(task: CalibrationTask, component: Calibrated, docs: List[Doc], examples: Sequence[Example]) -> DecisionSet:
    """The component's decisions on the examples, predicted with every threshold at 0 (so that
    every option's score is reported); its settings are restored afterwards."""
    settings = component.settings
    component.settings = task.open_thresholds(settings)
    try:
        predictions = component.predict(docs)
    finally:
        component.settings = settings
    return task.decisions(docs, predictions, examples)


Thresholds = Tuple[float, Dict[str, float]]


def _fit(task: CalibrationTask, decisions: DecisionSet, start: Thresholds, min_examples: int) -> Thresholds:
    fit = fit_thresholds(
        decisions, threshold=start[0], thresholds=start[1], labels=task.labels(), scope=task.scope, min_examples=min_examples
    )
    return fit.threshold, fit.thresholds


def _array(task: CalibrationTask, decisions: DecisionSet, thresholds: Thresholds) -> np.ndarray:
    if task.scope == "none":  # the best option always wins (exclusive textcat)
        return np.zeros(len(decisions.labels))
    return decisions.thresholds_array(thresholds[1], thresholds[0])


# Wording ----------------------------------------------------------------------------------


def _wording_slots(
    task: CalibrationTask,
    settings: Any,
    templates: Optional[Sequence[str]],
    descriptions: Optional[Mapping[str, Sequence[Any]]],
) -> List[Tuple[Slot, List[Any]]]:
    """The slots to search, each with its candidates (the current value first, no repeats)."""
    slots: List[Tuple[Slot, List[Any]]] = []
    if templates is not None:
        if isinstance(templates, str) or not isinstance(templates, (list, tuple)) or not templates:
            raise ValueError(Errors.E437.format(name=task.name, value=templates))
        if task.template_key is None:
            raise ValueError(Errors.E434.format(name=task.name, what="hypothesis template"))
        slots.append((("template", None), _unique([task.get_template(settings)] + [task.check_template(t) for t in templates])))
    if descriptions is not None:
        if not task.label_wording:
            raise ValueError(Errors.E434.format(name=task.name, what="label descriptions"))
        known = task.labels()
        if not isinstance(descriptions, Mapping):
            raise ValueError(Errors.E436.format(name=task.name, problem=f"got {descriptions!r}", known=known))
        for label, values in descriptions.items():
            if label not in known:
                raise ValueError(Errors.E436.format(name=task.name, problem=f"unknown label {label!r}", known=known))
            if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
                problem = f"the candidates of {label!r} are not a non-empty list ({values!r})"
                raise ValueError(Errors.E436.format(name=task.name, problem=problem, known=known))
            checked = [task.check_label_wording(label, value) for value in values]
            slots.append((("label", label), _unique([task.get_label_wording(settings, label)] + checked)))
    return slots


def _unique(values: List[Any]) -> List[Any]:
    result: List[Any] = []
    for value in values:
        if value not in result:
            result.append(value)
    return result


def _with_wording(task: CalibrationTask, settings: Any, slot: Slot, value: Any) -> Any:
    """`settings` with the wording of `slot` replaced by `value`."""
    if slot[0] == "template":
        return task.with_template(settings, value)
    assert slot[1] is not None
    return task.with_label_wording(settings, slot[1], value)


def _wording_state(wording: List[Dict[str, Any]], previous: Mapping[str, Any]) -> Dict[str, Any]:
    state: Dict[str, Any] = {"template": previous.get("template"), "labels": dict(previous.get("labels") or {})}
    for slot in wording:
        if slot["slot"] == "template":
            state["template"] = slot["chosen"]
        else:
            state["labels"][slot["slot"]] = slot["chosen"]
    return state


# Report -----------------------------------------------------------------------------------


def _warn(name: str, decisions: DecisionSet, notes: Dict[str, str], threshold: float, min_examples: int) -> None:
    fallback = [label for label, note in notes.items() if note.startswith("global")]
    if fallback:
        warnings.warn(
            Warnings.W430.format(name=name, n=len(fallback), min_examples=min_examples, threshold=threshold, labels=fallback),
            stacklevel=3,
        )
    total = int(decisions.support.sum())
    if total < min_examples:
        warnings.warn(Warnings.W432.format(name=name, n=total, min_examples=min_examples), stacklevel=3)


def _report(
    name: str,
    task: CalibrationTask,
    n_examples: int,
    min_examples: int,
    before: DecisionSet,
    start: Thresholds,
    after: DecisionSet,
    chosen: Thresholds,
    notes: Dict[str, str],
    wording: List[Dict[str, Any]],
) -> CalibrationReport:
    counts_before = before.counts(_array(task, before, start))
    counts_after = after.counts(_array(task, after, chosen))
    support = after.support
    rows = []
    for label in task.labels():
        i, j = before.labels.index(label), after.labels.index(label)
        b, a = prf(*counts_before[i]), prf(*counts_after[j])
        limits = None
        if task.scope != "none":
            limits = [start[1].get(label, start[0]), chosen[1].get(label, chosen[0])]
        row = {"label": label, "gold": int(support[j]), "threshold": limits, "note": notes.get(label, "")}
        row.update({key: [b[key], a[key]] for key in ("p", "r", "f")})
        rows.append(row)
    b, a = micro(counts_before, before.missed_other), micro(counts_after, after.missed_other)
    total = {"gold": int(support.sum()) + after.missed_other, "note": notes.get("", "")}
    total["threshold"] = None if task.scope == "none" else [start[0], chosen[0]]
    total.update({key: [b[key], a[key]] for key in ("p", "r", "f")})
    return CalibrationReport(name, n_examples, min_examples, rows, total, wording)
