"""Serving a pipeline over HTTP, as `spacy-zeroshot serve` starts it: load it, then `spacy_zeroshot.serving`."""

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Dict, Optional

from ..serving import ServeSettings, require_server, run_server
from .loading import enable_audit_trail, import_code, load_pipeline, move_to_device
from .review import DEFAULT_RELATIONS_ATTR, review_record


@dataclass
class ServeCommand:
    """Everything `serve` needs; the command line fills it from its arguments."""

    pipeline: str
    server: ServeSettings
    overrides: Dict[str, Any] = field(default_factory=dict)
    gpu_id: Optional[int] = None
    relations_attr: str = DEFAULT_RELATIONS_ATTR
    explain: bool = False
    code: Optional[str] = None


def serve(command: ServeCommand) -> None:
    """Load `command.pipeline` and answer requests until interrupted.

    Each request's docs get the review record of `spacy-zeroshot annotate` (`review.review_record`).
    RAISES (ImportError): `[E604]` without FastAPI or uvicorn (checked before the model loads).
    RAISES (ValueError): `[E601]` for a bad setting; the pipeline's own errors when it cannot load.
    """
    require_server()
    command.server.check()
    import_code(command.code)
    nlp = load_pipeline(command.pipeline, command.overrides)
    move_to_device(nlp, command.gpu_id)
    if command.explain:
        enable_audit_trail(nlp)
    to_record = partial(review_record, relations_attr=command.relations_attr, explain=command.explain)
    run_server(nlp, command.server, to_record)
