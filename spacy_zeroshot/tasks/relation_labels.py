"""Relation labels: their verbalizations (templates) and the entity types they may connect.

The user's settings are validated and normalized once (`normalize_relation_labels`) into
plain, config-safe dicts; `RelationLabel` is their frozen form used while scoring.
"""

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import Errors
from ..validation import template_fields

DEFAULT_TEMPLATE = "{subj} {label} {obj}."
TEMPLATE_FIELDS = frozenset({"subj", "obj", "label"})
LABEL_KEYS = ("templates", "allowed_head", "allowed_tail", "allowed_pairs")


@dataclass(frozen=True)
class RelationLabel:
    """A relation label, its verbalizations and the entity types it may connect."""

    name: str
    templates: Tuple[str, ...]
    allowed_head: Optional[FrozenSet[str]] = None
    allowed_tail: Optional[FrozenSet[str]] = None
    allowed_pairs: Optional[FrozenSet[Tuple[str, str]]] = None

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any]) -> "RelationLabel":
        """Build from the plain dict that `normalize_relation_labels` returns."""
        pairs = settings.get("allowed_pairs")
        return cls(
            name=name,
            templates=tuple(settings["templates"]),
            allowed_head=_frozen(settings.get("allowed_head")),
            allowed_tail=_frozen(settings.get("allowed_tail")),
            allowed_pairs=None if pairs is None else frozenset(_split_pair(p) for p in pairs),
        )

    def allows(self, head_type: str, tail_type: str) -> bool:
        """Whether a head of `head_type` and a tail of `tail_type` may hold this relation."""
        if self.allowed_head is not None and head_type not in self.allowed_head:
            return False
        if self.allowed_tail is not None and tail_type not in self.allowed_tail:
            return False
        return self.allowed_pairs is None or (head_type, tail_type) in self.allowed_pairs

    def hypotheses(self, subj: str, obj: str) -> List[str]:
        return [template.format(subj=subj, obj=obj, label=self.name) for template in self.templates]


def _frozen(values: Optional[Sequence[str]]) -> Optional[FrozenSet[str]]:
    return None if values is None else frozenset(values)


def _split_pair(pair: str) -> Tuple[str, str]:
    head, _, tail = pair.partition(":")
    return head, tail


# Settings ------------------------------------------------------------------------------


def check_relation_template(template: Any, label: str, name: str, needs_label: bool = False) -> str:
    """A relation template: '{subj}' and '{obj}' (and '{label}' for plain label lists)."""
    fields = template_fields(template) if isinstance(template, str) else ["<not a string>"]
    required = {"subj", "obj", "label"} if needs_label else {"subj", "obj"}
    if not required <= set(fields) or not set(fields) <= TEMPLATE_FIELDS:
        raise ValueError(Errors.E150.format(template=template, label=label, name=name, fields=fields))
    return template


def _type_list(value: Any, key: str, label: str, name: str) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        problem = f"`{key}` must be a non-empty list of non-empty strings, got {value!r}"
        raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    if key == "allowed_pairs":
        for pair in value:
            head, sep, tail = pair.partition(":")
            if not sep or not head or not tail or ":" in tail:
                problem = f"{pair!r} in `allowed_pairs` is not of the form \"HEADTYPE:TAILTYPE\""
                raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    return list(value)


def _label_settings(label: str, spec: Any, name: str) -> Dict[str, Any]:
    if isinstance(spec, str) or (isinstance(spec, (list, tuple)) and spec):
        spec = {"templates": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(Errors.E151.format(label=label, name=name, problem=f"got {spec!r}"))
    unknown = [key for key in spec if key not in LABEL_KEYS]
    if unknown:
        raise ValueError(Errors.E151.format(label=label, name=name, problem=f"unknown key(s) {unknown}"))
    templates = spec.get("templates")
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, (list, tuple)) or not templates:
        problem = f"`templates` must be a template or a non-empty list of templates, got {templates!r}"
        raise ValueError(Errors.E151.format(label=label, name=name, problem=problem))
    settings: Dict[str, Any] = {"templates": [check_relation_template(t, label, name) for t in templates]}
    for key in LABEL_KEYS[1:]:
        settings[key] = _type_list(spec.get(key), key, label, name)
    return settings


def normalize_relation_labels(
    labels: Union[Sequence[str], Mapping[str, Any]], template: str, name: str
) -> Dict[str, Dict[str, Any]]:
    """Turn the user's relation labels into label -> plain settings (msgpack/config safe).

    labels (Union[Sequence[str], Mapping[str, Any]]): A list of labels (each verbalized with
        `template`), or a mapping label -> template, list of templates, or a dict with
        "templates", "allowed_head", "allowed_tail" and "allowed_pairs" ("HEAD:TAIL").
    template (str): The template for labels given without one; needs '{subj}', '{label}'
        and '{obj}'.
    name (str): The component name, for error messages.
    RETURNS (Dict[str, Dict[str, Any]]): Label -> {"templates": [...], "allowed_head": ...}.
    """
    if isinstance(labels, str) and labels.strip():
        labels = [labels]
    if isinstance(labels, str) or not labels:
        raise ValueError(Errors.E052.format(name=name))
    if not isinstance(labels, Mapping):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(Errors.E052.format(name=name))
        duplicates = sorted({label for label in labels if list(labels).count(label) > 1}, key=str)
        if duplicates:
            raise ValueError(Errors.E053.format(labels=duplicates, name=name))
        for label in labels:
            if isinstance(label, str) and label.strip():
                check_relation_template(template, label, name, needs_label=True)
        labels = {label: template for label in labels}
    result: Dict[str, Dict[str, Any]] = {}
    for label, spec in labels.items():
        if not isinstance(label, str) or not label.strip():
            raise ValueError(Errors.E054.format(label=label, name=name))
        result[label] = _label_settings(label, spec, name)
    return result
