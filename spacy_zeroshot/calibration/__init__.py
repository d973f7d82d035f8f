"""Calibration on gold examples: thresholds that maximise F1, and the wording of hypotheses.

`component.calibrate(examples)` (or `nlp.initialize(get_examples)`, `spacy train` and
`spacy assemble` with `[initialize.components.<name>]`) chooses the thresholds of a
zero-shot component on gold examples, and optionally its hypothesis template and label
wording among candidates; the choice is saved with the pipeline. See `driver.calibrate`.
Each task says how its decisions are read and its settings tuned (its calibration adapter,
beside its pair logic in `spacy_zeroshot.tasks`); calibration assigns the new settings.
"""

from ..tasks.decisions import CalibrationTask, DecisionSet
from .driver import DEFAULT_MIN_EXAMPLES, calibrate, calibrate_on_initialize
from .protocol import Calibrated
from .report import CalibrationReport
from .search import Fit, fit_thresholds
from .store import apply_calibration, read_calibration, write_calibration

__all__ = [
    "DEFAULT_MIN_EXAMPLES",
    "Calibrated",
    "CalibrationReport",
    "CalibrationTask",
    "DecisionSet",
    "Fit",
    "apply_calibration",
    "calibrate",
    "calibrate_on_initialize",
    "fit_thresholds",
    "read_calibration",
    "write_calibration",
]
