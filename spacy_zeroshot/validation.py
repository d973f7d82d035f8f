"""Validation of user settings shared by all tasks: labels, templates, thresholds, choices."""

import string
from typing import Collection, Dict, List, Mapping, Sequence, Union

from .errors import Errors

Labels = Union[Sequence[str], Mapping[str, str]]


def normalize_labels(labels: Labels, name: str) -> Dict[str, str]:
    """Turn a list of labels, or a mapping label -> description, into label -> hypothesis text.

    labels (Union[Sequence[str], Mapping[str, str]]): The user's labels.
    name (str): The component name, for error messages.
    RETURNS (Dict[str, str]): Label -> text used in the hypothesis, in the given order.
    """
    if isinstance(labels, str) or not labels:
        if isinstance(labels, str) and labels.strip():
            labels = [labels]
        else:
            raise ValueError(Errors.E052.format(name=name))
    if isinstance(labels, Mapping):
        pairs = list(labels.items())
    else:
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise ValueError(Errors.E054.format(label=label, name=name))
        pairs = [(label, label) for label in labels]
        counts: Dict[str, int] = {}
        for label, _ in pairs:
            counts[label] = counts.get(label, 0) + 1
        duplicates = [label for label, n in counts.items() if n > 1]
        if duplicates:
            raise ValueError(Errors.E053.format(labels=duplicates, name=name))
    result: Dict[str, str] = {}
    for label, description in pairs:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(Errors.E054.format(label=label, name=name))
        if not isinstance(description, str) or not description.strip():
            raise ValueError(Errors.E056.format(label=label))
        result[label] = description
    return result


def template_fields(template: str) -> List[str]:
    """The replacement fields of a format string, e.g. ["", "label"] for "{} is {label}"."""
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError:
        return ["<malformed>"]


def check_positional_template(template: str) -> str:
    """A hypothesis template with exactly one "{}" (the zero-shot pipeline's rule).

    RAISES ValueError: [E055] saying what is wrong: not a string, unmatched braces, no
        placeholder, several, or a positional index / named field instead of "{}".
    """
    if not isinstance(template, str):
        raise ValueError(Errors.E055.format(template=template, problem=f"it is a {type(template).__name__}, not a string"))
    fields = template_fields(template)
    if fields == [""]:
        return template
    if fields == ["<malformed>"]:
        problem = "its braces do not match (a '{' or '}' without its partner)"
    elif not fields:
        problem = "it has no placeholder"
    else:
        problem = "it has " + ", ".join(_describe_field(field) for field in fields)
    raise ValueError(Errors.E055.format(template=template, problem=problem))


def _describe_field(field: str) -> str:
    if not field:
        return "'{}'"
    if field.isdigit():
        return f"'{{{field}}}' (a positional index)"
    return f"'{{{field}}}' (a named field)"


def check_threshold(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(Errors.E058.format(value=value))
    return float(value)


def check_choice(key: str, value: str, options: Collection[str], name: str) -> str:
    if value not in options:
        raise ValueError(Errors.E057.format(key=key, value=value, name=name, options=", ".join(options)))
    return value
