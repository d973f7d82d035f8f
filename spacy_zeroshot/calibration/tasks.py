"""What calibration needs to know of each component: its gold, its decisions, its knobs.

A `CalibrationTask` turns a component's predictions on gold examples into a `DecisionSet`
(scores per option, gold option), and reads and writes the settings calibration may change:
the global threshold, per-label thresholds, the hypothesis template and each label's
wording. A new thresholded component adopts calibration with a subclass of a few methods
and a one-line `calibration_task()` on the component. Calibration knows components only
through the `Calibrated` protocol (it imports none).
"""

from collections import Counter
from contextlib import contextmanager
from typing import Any, ContextManager, Dict, Iterator, List, Optional, Protocol, Sequence, Set, Tuple

from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors
from ..tasks.entities import TYPER_FIELDS, target_spans
from ..tasks.entities import check_template as check_span_template
from ..tasks.linking import CANDIDATE_FIELDS, LINKER_FIELDS
from ..tasks.relations import check_relation_template
from ..validation import check_positional_template
from .search import DecisionSet, Item

CharSpan = Tuple[int, int]


class Calibrated(Protocol):
    """A component that calibration can tune (`components.base.ZeroShotTask` is one).

    name (str): The component name, for messages.
    cfg (Dict[str, Any]): Its settings; its `CalibrationTask` reads and sets the thresholds
        and wording there.
    calibration (Optional[Dict[str, Any]]): The calibration state, saved with the pipeline.
    """

    name: str
    cfg: Dict[str, Any]
    calibration: Optional[Dict[str, Any]]

    @property
    def labels(self) -> Tuple[str, ...]: ...

    def calibration_task(self) -> Optional["CalibrationTask"]: ...

    def predict(self, docs: List[Doc]) -> Any: ...

    def upstream_docs(self, examples: Sequence[Example]) -> List[Doc]:
        """Copies of the examples' predicted docs, annotated by the components before it."""
        ...

    def remembering_pairs(self, pairs: int) -> ContextManager[None]:
        """While open, every scored pair (up to `pairs`) is kept, so that wordings that share
        a premise and hypothesis score it once."""
        ...


class CalibrationTask:
    """Base adapter: thresholds in `cfg["threshold"]` (and `cfg["thresholds"]` per label).

    rule (str): "ranked" or "passing" (see `search`).
    scope (str): "per_label", "global" or "none" (no thresholds to choose).
    template_key (Optional[str]): The `cfg` key of the hypothesis template, if it has one.
    label_wording (bool): Whether each label has a wording to choose (a description).
    gold_name (str): Where the gold annotation is read from, for error messages.
    """

    rule = "ranked"
    scope = "per_label"
    template_key: Optional[str] = "hypothesis_template"
    label_wording = True
    gold_name = "annotation"

    def __init__(self, component: "Calibrated") -> None:
        self.component = component
        self.cfg = component.cfg
        self.name = component.name

    # Gold and decisions (per component) ------------------------------------------------

    def has_gold(self, example: Example) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:  # pragma: no cover
        raise NotImplementedError

    def labels(self) -> List[str]:
        """The labels that may get a threshold (and a wording) of their own."""
        return list(self.component.labels)

    # Thresholds ------------------------------------------------------------------------

    def get_thresholds(self) -> Tuple[float, Dict[str, float]]:
        return float(self.cfg["threshold"]), dict(self.cfg.get("thresholds") or {})

    def set_thresholds(self, threshold: float, thresholds: Dict[str, float]) -> None:
        self.cfg["threshold"] = float(threshold)
        if "thresholds" in self.cfg:
            self.cfg["thresholds"] = {label: float(t) for label, t in thresholds.items()}

    @contextmanager
    def open_thresholds(self) -> Iterator[None]:
        """Thresholds at 0 while predicting, so that every option's score is reported."""
        saved = self.get_thresholds()
        self.set_thresholds(0.0, {})
        try:
            yield
        finally:
            self.set_thresholds(*saved)

    # Wording -----------------------------------------------------------------------------

    def check_template(self, value: Any) -> str:  # pragma: no cover - per component
        raise NotImplementedError

    def get_template(self) -> Optional[str]:
        return None if self.template_key is None else self.cfg[self.template_key]

    def set_template(self, value: str) -> None:
        if self.template_key is not None:
            self.cfg[self.template_key] = value

    def check_label_wording(self, label: str, value: Any) -> Any:  # pragma: no cover - per component
        raise NotImplementedError

    def get_label_wording(self, label: str) -> Any:  # pragma: no cover - per component
        raise NotImplementedError

    def set_label_wording(self, label: str, value: Any) -> None:  # pragma: no cover - per component
        raise NotImplementedError


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_description(name: str, label: str, value: Any) -> str:
    if not _is_text(value):
        raise ValueError(Errors.E433.format(name=name, label=label, value=value, expected="a non-empty string"))
    return value


# zeroshot_textcat -------------------------------------------------------------------------


class TextcatCalibration(CalibrationTask):
    """Multi-label: one threshold per label, items (doc, label). Exclusive: no thresholds (the
    best label wins), only the wording is chosen."""

    gold_name = "doc.cats"

    def __init__(self, component: "Calibrated") -> None:
        super().__init__(component)
        multi = bool(self.cfg["multi_label"])
        self.rule = "passing" if multi else "ranked"
        self.scope = "per_label" if multi else "none"

    def has_gold(self, example: Example) -> bool:
        return any(label in example.reference.cats for label in self.labels())

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        labels = self.labels()
        items: List[Item] = []
        for prediction, example in zip(predictions, examples):
            cats = prediction["cats"]
            gold = {label: example.reference.cats[label] for label in labels if label in example.reference.cats}
            if self.scope == "per_label":
                items.extend(({label: cats[label]}, label if value >= 0.5 else None) for label, value in gold.items())
            elif gold:
                best = max(gold, key=lambda label: gold[label])
                items.append((cats, best if gold[best] > 0 else None))
        return DecisionSet.from_items(items, self.rule, labels=labels)

    def check_template(self, value: Any) -> str:
        return check_positional_template(value)

    def check_label_wording(self, label: str, value: Any) -> str:
        return _check_description(self.name, label, value)

    def get_label_wording(self, label: str) -> str:
        return self.cfg["descriptions"][label]

    def set_label_wording(self, label: str, value: str) -> None:
        self.cfg["descriptions"][label] = value


# zeroshot_entity_typer ---------------------------------------------------------------------


def _gold_spans(example: Example, spans_key: Optional[str]) -> Dict[CharSpan, Any]:
    return {(span.start_char, span.end_char): span for span in target_spans(example.reference, spans_key)}


def _has_spans(example: Example, spans_key: Optional[str]) -> bool:
    if spans_key is None:
        return example.reference.has_annotation("ENT_IOB")
    return spans_key in example.reference.spans


class TyperCalibration(CalibrationTask):
    """One threshold per type: a span takes its best type if that reaches the type's threshold."""

    gold_name = "entity spans"

    def has_gold(self, example: Example) -> bool:
        return _has_spans(example, self.cfg["spans_key"])

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        types = set(self.labels())
        items: List[Item] = []
        missed: Counter = Counter()
        for doc, entries, example in zip(docs, predictions, examples):
            gold = {key: span.label_ for key, span in _gold_spans(example, self.cfg["spans_key"]).items()}
            seen: Set[CharSpan] = set()
            for entry in entries:
                span = doc[entry["start"] : entry["end"]]
                key = (span.start_char, span.end_char)
                seen.add(key)
                label = gold.get(key)
                options = entry["scores"]
                if label in options:
                    items.append((options, label))
                else:
                    items.append((options, None))
                    if label in types:
                        missed[label] += 1
            missed.update(label for key, label in gold.items() if key not in seen and label in types)
        return DecisionSet.from_items(items, self.rule, labels=self.labels(), missed=missed)

    def check_template(self, value: Any) -> str:
        return check_span_template(value, TYPER_FIELDS, [["mention"], ["label"]], self.name)

    def check_label_wording(self, label: str, value: Any) -> str:
        return _check_description(self.name, label, value)

    def get_label_wording(self, label: str) -> str:
        return next(types[label] for types in self.cfg["types"].values() if label in types)

    def set_label_wording(self, label: str, value: str) -> None:
        for types in self.cfg["types"].values():
            if label in types:
                types[label] = value


# zeroshot_entity_linker --------------------------------------------------------------------


class LinkerCalibration(CalibrationTask):
    """One threshold (NIL below it) for every mention; gold ids from the reference's `kb_id_`."""

    scope = "global"
    label_wording = False
    gold_name = "`kb_id_` on entity spans"

    def has_gold(self, example: Example) -> bool:
        return any(span.kb_id_ for span in target_spans(example.reference, self.cfg["spans_key"]))

    def labels(self) -> List[str]:
        return []

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        nil = self.cfg["nil"]
        items: List[Item] = []
        missed: Counter = Counter()
        for doc, entries, example in zip(docs, predictions, examples):
            gold = _gold_spans(example, self.cfg["spans_key"])
            for entry in entries:
                span = doc[entry["start"] : entry["end"]]
                reference = gold.get((span.start_char, span.end_char))
                if reference is None:  # as spaCy's link scorer: only mentions found in both
                    continue
                kb_id = reference.kb_id_ if reference.kb_id_ and reference.kb_id_ != nil else None
                options = entry["scores"]
                if kb_id is not None and kb_id not in options:
                    missed[kb_id] += 1
                    kb_id = None
                items.append((options, kb_id))
        return DecisionSet.from_items(items, self.rule, missed=missed)

    def check_template(self, value: Any) -> str:
        return check_span_template(value, LINKER_FIELDS, [CANDIDATE_FIELDS], self.name)


# zeroshot_relation_extractor ---------------------------------------------------------------


class RelationCalibration(CalibrationTask):
    """One threshold per relation label: a pair takes its best label among those reaching
    their thresholds. `template` candidates replace the template of the labels that use the
    component's `template`; a label's wording is its list of templates."""

    rule = "passing"
    template_key = "template"
    gold_name = "relations in the component's `doc._` extension"

    def has_gold(self, example: Example) -> bool:
        extension = self.cfg["extension"]
        return Doc.has_extension(extension) and example.reference._.get(extension) is not None

    def decisions(self, docs: Sequence[Doc], predictions: Any, examples: Sequence[Example]) -> DecisionSet:
        labels = set(self.labels())
        items: List[Item] = []
        missed: Counter = Counter()
        missed_other = 0
        for doc, relations, example in zip(docs, predictions, examples):
            gold: Dict[Tuple[int, int, int, int], str] = {}
            unreachable: List[str] = []
            for rel in example.reference._.get(self.cfg["extension"]) or []:
                key = _relation_chars(example.reference, rel)
                if key in gold:  # a second gold label for one pair can never be predicted
                    unreachable.append(rel["label"])
                else:
                    gold[key] = rel["label"]
            for rel in relations:
                label = gold.pop(_relation_chars(doc, rel), None)
                scores = rel["scores"]
                if label is None or label in scores:
                    items.append((scores, label))
                else:  # the pair's entity types do not allow the gold label
                    items.append((scores, None))
                    unreachable.append(label)
            unreachable.extend(gold.values())  # gold pairs that were never candidates
            missed.update(label for label in unreachable if label in labels)
            missed_other += sum(label not in labels for label in unreachable)
        return DecisionSet.from_items(items, self.rule, labels=self.labels(), missed=missed, missed_other=missed_other)

    def check_template(self, value: Any) -> str:
        return check_relation_template(value, "<every label with the default template>", self.name, needs_label=True)

    def set_template(self, value: str) -> None:
        old = self.cfg["template"]
        for settings in self.cfg["labels"].values():
            if list(settings["templates"]) == [old]:
                settings["templates"] = [value]
        self.cfg["template"] = value

    def check_label_wording(self, label: str, value: Any) -> List[str]:
        templates = [value] if isinstance(value, str) else value
        if not isinstance(templates, (list, tuple)) or not templates:
            expected = "a template or a non-empty list of templates"
            raise ValueError(Errors.E433.format(name=self.name, label=label, value=value, expected=expected))
        return [check_relation_template(t, label, self.name) for t in templates]

    def get_label_wording(self, label: str) -> List[str]:
        return list(self.cfg["labels"][label]["templates"])

    def set_label_wording(self, label: str, value: List[str]) -> None:
        self.cfg["labels"][label]["templates"] = list(value)


def _relation_chars(doc: Doc, relation: Dict[str, Any]) -> Tuple[int, int, int, int]:
    head = doc[relation["head"][0] : relation["head"][1]]
    tail = doc[relation["tail"][0] : relation["tail"][1]]
    return (head.start_char, head.end_char, tail.start_char, tail.end_char)
