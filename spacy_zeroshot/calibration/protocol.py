"""What calibration needs of a component, as a protocol of its own (calibration imports no
component): its settings and labels, its predictions on docs as the pipeline would see them,
a memory of scored pairs while wordings are tried, and a place for the calibration state."""

from typing import TYPE_CHECKING, Any, ContextManager, Dict, List, Optional, Protocol, Sequence, Tuple

from spacy.tokens import Doc
from spacy.training import Example

if TYPE_CHECKING:  # pragma: no cover
    from .tasks import CalibrationTask


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
