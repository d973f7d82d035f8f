"""spacy-zeroshot: zero-shot information extraction in spaCy with one NLI cross-encoder.

Importing the package is cheap: it registers the spaCy factories but imports neither torch
nor transformers; those load with the first model.
"""

from typing import Any

from . import factories  # noqa: F401  (registers the components)
from .backend import NLIBackend
from .errors import Errors, Warnings

__version__ = "0.1.0"
__all__ = ["NLIBackend", "ZeroShotClassifier", "pipeline", "Errors", "Warnings", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("ZeroShotClassifier", "pipeline"):
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(name)
