"""What calibration needs of a component: `Calibrated`, a protocol (calibration imports no
component). The task-specific part, how a task's decisions and settings are read, is the
task's calibration adapter (`tasks.decisions.CalibrationTask`, returned by
`component.calibration_task()`)."""

from typing import Any, ContextManager, Dict, List, Optional, Protocol, Sequence

from spacy.tokens import Doc
from spacy.training import Example

from ..tasks.decisions import CalibrationTask


class Calibrated(Protocol):
    """A component that calibration can tune (`components.base.ZeroShotTask` is one).

    name (str): The component name, for messages.
    settings (Any): Its task's frozen settings; calibration assigns the new settings its task's
        adapter returns (thresholds, wording), never changing a settings object in place.
    calibration (Optional[Dict[str, Any]]): The calibration state, saved with the pipeline.
    """

    name: str
    settings: Any
    calibration: Optional[Dict[str, Any]]

    def calibration_task(self) -> Optional[CalibrationTask]: ...

    def predict(self, docs: List[Doc]) -> Any: ...

    def upstream_docs(self, examples: Sequence[Example]) -> List[Doc]:
        """Copies of the examples' predicted docs, annotated by the components before it."""
        ...

    def remembering_pairs(self, pairs: int) -> ContextManager[None]:
        """While open, every scored pair (up to `pairs`) is kept, so that wordings that share
        a premise and hypothesis score it once."""
        ...
