"""Serving a pipeline to many concurrent clients: cross-request pooling, and an HTTP app.

`RequestPool` (stdlib and spaCy only) runs the docs of concurrent callers through `nlp.pipe`
in pooled batches on one worker thread. `create_app` / `run_server` put it behind FastAPI
and uvicorn (the optional `serve` extra), as `spacy-zeroshot serve` does.
"""

from .app import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimit,
    ServeSettings,
    check_text,
    create_app,
    require_server,
    run_server,
)
from .pool import PoolClosedError, RequestPool, check_pool_settings

__all__ = [
    "RequestPool",
    "PoolClosedError",
    "check_pool_settings",
    "ServeSettings",
    "DEFAULT_MAX_BODY_BYTES",
    "BodySizeLimit",
    "create_app",
    "run_server",
    "require_server",
    "check_text",
]
