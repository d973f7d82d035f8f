"""Calibration as component data: written by `to_disk` as JSON, applied again by `from_disk`.

Labels are JSON keys and the chosen wording JSON strings, so they come back byte for byte
(spaCy's config layer never sees them: `$` and `${...}` are safe). Python's own `json` writes
floats as their shortest exact repr, so thresholds come back exactly (srsly's ujson rounds
them to 10 digits).
"""

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Union

from ..errors import Errors, Warnings
from ..validation import check_threshold

if TYPE_CHECKING:  # pragma: no cover
    from .protocol import Calibrated

VERSION = 1


def write_calibration(path: Union[str, Path], state: Dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf8")


def read_calibration(path: Union[str, Path]) -> Dict[str, Any]:
    """The saved calibration; E438 for a file that is not one."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf8"))
    except ValueError as err:
        raise ValueError(Errors.E438.format(path=path, problem=f"not JSON: {err}")) from err
    if not isinstance(state, dict) or state.get("version") != VERSION:
        version = state.get("version") if isinstance(state, dict) else None
        raise ValueError(Errors.E438.format(path=path, problem=f"version {version!r}, expected {VERSION}"))
    return state


def apply_calibration(component: "Calibrated", state: Dict[str, Any]) -> None:
    """Give `component` the saved thresholds and wording: new settings from its task's
    calibration adapter, assigned to `component.settings` (labels it lacks: warning W431)."""
    task = component.calibration_task()
    if task is None:
        return
    known = set(task.labels())
    unknown: List[str] = []
    wording = state.get("wording") or {}
    settings = component.settings
    if wording.get("template") is not None:
        settings = task.with_template(settings, task.check_template(wording["template"]))
    for label, value in (wording.get("labels") or {}).items():
        if label in known:
            settings = task.with_label_wording(settings, label, task.check_label_wording(label, value))
        else:
            unknown.append(label)
    threshold, thresholds = task.get_thresholds(settings)
    if state.get("threshold") is not None:
        threshold = check_threshold(state["threshold"])
    for label, value in (state.get("thresholds") or {}).items():
        if label in known:
            thresholds[label] = check_threshold(value)
        else:
            unknown.append(label)
    component.settings = task.with_thresholds(settings, threshold, thresholds)
    if unknown:
        warnings.warn(Warnings.W431.format(name=component.name, labels=sorted(set(unknown))), stacklevel=2)
    component.calibration = state
