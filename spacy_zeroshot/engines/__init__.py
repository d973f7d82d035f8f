"""Engines: how docs reach a loaded pipeline (the local `nlp.pipe`, or Ray Data across a cluster).

Engines know spaCy pipelines by path; they never reach into the tasks or the backend.
`annotate_dataset` needs the optional extra `spacy-zeroshot[ray]`; importing this package
does not import Ray.
"""

from typing import Any

__all__ = ["annotate_dataset"]


def __getattr__(name: str) -> Any:
    if name == "annotate_dataset":
        from .ray_data import annotate_dataset

        return annotate_dataset
    raise AttributeError(name)
