"""The HTTP face of a pipeline: a FastAPI app over a `RequestPool`, served by uvicorn.

FastAPI, pydantic and uvicorn are imported when an app is made, never with the package
(they come with the optional `serve` extra: pip install "spacy-zeroshot[serve]").

Endpoints (JSON in, JSON out):
    POST /annotate        {"text": str, "meta": any}          -> one record
    POST /annotate/batch  {"docs": [{"text": str, "meta": any}, ...]} -> {"docs": [record, ...]}
    GET  /health          -> {"status": "ok", "pipeline": [...], "pooling": {...}, "stats": {...}}
A record is whatever `to_output` makes of the annotated doc (`spacy-zeroshot serve` uses the
review record of `spacy-zeroshot annotate`), with "meta" set to the request's "meta".
"""

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Dict, List, MutableMapping, Optional

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from .pool import PoolClosedError, RequestPool, check_pool_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

Record = Dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 1_000_000


@dataclass
class ServeSettings:
    """How a pipeline is served (`spacy-zeroshot serve` fills it from its options).

    host (str): Interface to listen on; 127.0.0.1 (default) takes local clients only.
    port (int): TCP port.
    max_wait_ms (float): `RequestPool.max_wait_ms`: how long a doc waits for others, in ms.
    max_batch_docs (int): `RequestPool.max_batch_docs`: most docs per batch; 1: no pooling.
    max_body_bytes (int): Largest request body accepted, in bytes; larger ones get HTTP 413.
    warm_up (bool): Run one doc through the pipeline at start-up, so that the model loads
        before the first request instead of during it.
    access_log (bool): Let uvicorn log every request.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_wait_ms: float = 5.0
    max_batch_docs: int = 32
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    warm_up: bool = True
    access_log: bool = False

    def check(self) -> None:
        """Raise `[E601]` for a setting out of range."""
        check_pool_settings(self.max_wait_ms, self.max_batch_docs)
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ValueError(Errors.E601.format(name="max_body_bytes", expected="an integer >= 1", value=self.max_body_bytes))
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(Errors.E601.format(name="port", expected="an integer from 0 to 65535", value=self.port))


def require_server() -> None:
    """Raise `[E604]` (ImportError) unless FastAPI and uvicorn can be imported."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E604) from err


def create_app(nlp: Language, settings: ServeSettings, to_output: Callable[[Doc], Record]) -> "FastAPI":
    """A FastAPI app that annotates the docs of requests with `nlp`, pooled across requests.

    nlp (Language): The pipeline; only the app's `RequestPool` worker thread calls it.
    settings (ServeSettings): Pooling and body-size settings (host and port are uvicorn's).
    to_output (Callable[[Doc], Dict[str, Any]]): Turns an annotated doc into the JSON
        record a client receives (run on the pool's worker thread); its "meta" key is set
        to the request's "meta".
    RETURNS (FastAPI): The app. Its pool starts with the app's lifespan and is closed (queued
        docs finished) when the server stops; while running it is `app.state.pool`.
    RAISES (ImportError): `[E604]` without FastAPI.
    """
    require_server()
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, Field, field_validator

    settings.check()

    class DocIn(BaseModel):
        """One doc to annotate."""

        text: str = Field(description="The text, returned byte-identical in the record.")
        meta: Any = Field(default=None, description="Any JSON value, returned unchanged in the record.")

        @field_validator("text")
        @classmethod
        def _text_encodable(cls, text: str) -> str:
            check_text(text)
            return text

        @field_validator("meta")
        @classmethod
        def _meta_encodable(cls, meta: Any) -> Any:
            check_text(json.dumps(meta, ensure_ascii=False), what="meta")
            return meta

    class BatchIn(BaseModel):
        """Several docs in one request; each is pooled like a single doc."""

        docs: List[DocIn] = Field(min_length=1)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: RequestPool[Record] = RequestPool(
            nlp, max_wait_ms=settings.max_wait_ms, max_batch_docs=settings.max_batch_docs, to_output=to_output
        )
        app.state.pool = pool
        if settings.warm_up:
            await pool.aprocess("Warm-up.")
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="spacy-zeroshot",
        description=f"Pipeline {nlp.pipe_names}, pooled across requests (spacy_zeroshot.serving).",
        lifespan=lifespan,
    )

    async def annotate_docs(pool: RequestPool[Record], docs: List[DocIn]) -> List[Record]:
        try:
            records = await pool.aprocess_many([doc.text for doc in docs])
        except PoolClosedError as err:
            raise HTTPException(status_code=503, detail=str(err)) from err
        except Exception as err:
            logger.exception("Annotating a request failed")
            raise HTTPException(status_code=500, detail=f"{type(err).__name__}: {err}") from err
        for record, doc in zip(records, docs):
            record["meta"] = doc.meta
        return records

    # The records are plain JSON data already: JSONResponse writes them without another
    # validation pass (UTF-8, strings unescaped).
    @app.post("/annotate", response_class=JSONResponse, summary="Annotate one doc; returns its record.")
    async def annotate(doc: DocIn) -> JSONResponse:
        (record,) = await annotate_docs(app.state.pool, [doc])
        return JSONResponse(record)

    @app.post("/annotate/batch", response_class=JSONResponse, summary="Annotate several docs: {'docs': [record, ...]}.")
    async def annotate_batch(batch: BatchIn) -> JSONResponse:
        return JSONResponse({"docs": await annotate_docs(app.state.pool, batch.docs)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> Response:
        # FastAPI's own 422, written as ASCII JSON: the errors quote the input, which may hold
        # the lone surrogate that made it invalid (UTF-8 cannot carry one; a \u escape can).
        body = json.dumps({"detail": jsonable_encoder(err.errors())}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.get("/health", summary="Liveness, the pipeline and the pooling counters.")
    async def health() -> Dict[str, Any]:
        pool: RequestPool[Record] = app.state.pool
        return {
            "status": "closing" if pool.closed else "ok",
            "pipeline": list(nlp.pipe_names),
            "pooling": {"max_wait_ms": pool.max_wait_ms, "max_batch_docs": pool.max_batch_docs},
            "stats": {**pool.stats, "queued": pool.queued},
        }

    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    return app


def run_server(nlp: Language, settings: ServeSettings, to_output: Callable[[Doc], Record]) -> None:
    """Serve `nlp` with uvicorn until interrupted (Ctrl+C or SIGTERM: queued docs finish first).

    RAISES (ImportError): `[E604]` without FastAPI or uvicorn.
    """
    app = create_app(nlp, settings, to_output)
    import uvicorn

    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=settings.access_log)
    uvicorn.Server(config).run()


def check_text(text: str, what: str = "text") -> None:
    """Raise `[E605]` (ValueError) if `text` holds a lone surrogate, which UTF-8 cannot carry.

    what (str): What the message calls `text` ("text", "meta").
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        point = f"U+{ord(text[err.start]):04X}"
        raise ValueError(Errors.E605.format(what=what, index=err.start, point=point)) from None


class BodySizeLimit:
    """ASGI middleware: answer 413 to a request whose body is over `max_body_bytes` bytes.

    A declared Content-Length over the limit is refused before the body is read; a body
    without one (chunked) is read up to the limit and refused as soon as it passes it.
    Accepted bodies are handed on unchanged.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send, f"{declared:,}")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await self._refuse(send, f"more than {self.max_body_bytes:,}")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": bytes(body), "more_body": False}], receive), send)

    async def _refuse(self, send: Send, size: str) -> None:
        from starlette.responses import JSONResponse

        detail = Errors.E603.format(size=size, limit=f"{self.max_body_bytes:,}")
        response = JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})
        await response({"type": "http"}, _nothing, send)


def _content_length(scope: Scope) -> Optional[int]:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: List[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
