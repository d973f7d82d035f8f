"""Engines: how docs reach a loaded pipeline (the local `nlp.pipe`, or Ray Data across a cluster).

Engines know spaCy pipelines by path; they never reach into the tasks or the backend, and
nothing here imports the command line (`cli/` calls these). What lives here:

- `run`, `settings`: a whole annotation run (`AnnotateSettings`, `annotate`), as `spacy-zeroshot annotate`
  starts it; `finetune`: a few-shot fine-tuning run, as `spacy-zeroshot finetune` starts it;
- `local`, `ray_run`: the two engines of a run; `ray_data`: `annotate_dataset` and the one Ray Data
  step both Ray paths build; `worker`: the pipeline-holding Ray actors; `budget`: will a pool fit;
- `readers`, `plan`, `chunks`, `review`: input records, chunk cuts, the crash-safe chunk store and
  the review record; `loading`: pipelines from a path; `progress`: pair counts, progress, summary.

`annotate_dataset` needs the optional extra `spacy-zeroshot[ray]`; importing this package
does not import Ray.
"""

from typing import Any

__all__ = ["annotate", "AnnotateSettings", "annotate_dataset"]


def __getattr__(name: str) -> Any:
    if name == "annotate_dataset":
        from .ray_data import annotate_dataset

        return annotate_dataset
    if name in ("annotate", "AnnotateSettings"):
        from . import run

        return getattr(run, name)
    raise AttributeError(name)
