"""Which output class of an NLI model means entailment, and which contradiction."""

import warnings
from typing import Callable, Dict, Mapping, Optional, Tuple

from ..errors import Errors, Warnings

_NOT_ENTAILMENT_PREFIXES = ("not_entail", "not entail", "non_entail", "non-entail", "not-entail")


def _class_names(id2label: Mapping[int, str]) -> Dict[int, str]:
    return {int(i): str(name) for i, name in id2label.items()}


def _check_index(name: str, index: int, names: Dict[int, str]) -> None:
    if not 0 <= index < len(names):
        raise ValueError(
            Errors.E003.format(name=name, index=index, num_labels=len(names), labels=list(names.values()))
        )


def resolve_nli_indices(
    id2label: Mapping[int, str],
    entailment_index: Optional[int] = None,
    contradiction_index: Optional[int] = None,
    *,
    setting: Callable[[str], str] = "`{}`".format,
) -> Tuple[int, int]:
    """Find the entailment and contradiction classes from the model's label names.

    Names match case-insensitively by prefix ("entail...", "contradict..."). A two-class
    model whose other class is "not_entailment" uses it as the contradiction class. Explicit
    indices override the names. Anything else is a numbered error naming the labels found.

    id2label (Mapping[int, str]): The model config's `id2label`.
    entailment_index (Optional[int]): Explicit entailment class.
    contradiction_index (Optional[int]): Explicit contradiction class.
    setting (Callable[[str], str]): How the caller sets a key, for the error messages
        (e.g. `NLIBackend.setting`).
    RETURNS (Tuple[int, int]): (entailment, contradiction) class indices.
    """
    names = _class_names(id2label)
    found = list(names.values())
    if entailment_index is None:
        matches = [i for i, n in names.items() if n.lower().startswith("entail")]
        if len(matches) != 1:
            raise ValueError(Errors.E001.format(labels=found, setting=setting("entailment_index")))
        entailment_index = matches[0]
    _check_index("entailment_index", entailment_index, names)
    if contradiction_index is None:
        matches = [i for i, n in names.items() if n.lower().startswith("contradict")]
        if not matches:
            matches = [i for i, n in names.items() if n.lower().startswith(_NOT_ENTAILMENT_PREFIXES)]
        if not matches and len(names) == 2:
            other = 1 - entailment_index
            warnings.warn(Warnings.W002.format(labels=found, index=other, label=names[other]), stacklevel=2)
            matches = [other]
        if len(matches) != 1:
            raise ValueError(Errors.E002.format(labels=found, setting=setting("contradiction_index")))
        contradiction_index = matches[0]
    _check_index("contradiction_index", contradiction_index, names)
    if entailment_index == contradiction_index:
        raise ValueError(Errors.E004.format(index=entailment_index))
    return entailment_index, contradiction_index
