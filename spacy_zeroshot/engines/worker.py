"""The workers of the Ray engine: a pipeline loaded from a path inside each worker process.

Nothing here imports Ray: Ray Data constructs these classes inside its actors
(`map_batches(Worker, compute=ActorPoolStrategy(...))`), and tests call them directly.
Each worker loads the pipeline itself, from a path every node can read, so the weights
never travel through Ray's object store, and puts its NLI models on the device its
resources give it: a GPU actor on the one GPU Ray made visible to it ("cuda:0"), any
other on the CPU, even on a machine with GPUs.
"""

import json
import os
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc

from ..errors import Errors
from .chunks import chunk_files
from .loading import device_overrides, import_code, load_pipeline, nli_components
from .progress import PairCounter
from .readers import META_ATTR, ensure_meta_extension
from .review import DEFAULT_RELATIONS_ATTR, count_labels, review_record

# Columns that `DatasetWorker` adds to each row.
REVIEW_COLUMN = "review"
DOC_COLUMN = "doc"
ERROR_COLUMN = "error"


class PipelineWorker:
    """One loaded pipeline in one worker process.

    pipeline (str): A pipeline folder, installed package or .cfg file, readable by the worker.
    overrides (Optional[Dict[str, Any]]): Config overrides (e.g. {"components.zeroshot_nli.dtype": "bfloat16"}).
    num_gpus (float): GPUs Ray gave the worker; > 0 puts the NLI models on "cuda:0" (the
        first GPU visible to it), 0 on the CPU.
    num_cpus (float): CPUs Ray gave the worker: torch uses that many threads (at least one).
    code (Optional[str]): A Python file to import first (custom components), as `--code`.
    """

    # How Ray Data hands a batch to `__call__` (`map_batches(batch_format=...)`).
    BATCH_FORMAT = "default"

    def __init__(
        self,
        pipeline: str,
        *,
        overrides: Optional[Dict[str, Any]] = None,
        num_gpus: float = 0,
        num_cpus: float = 1,
        code: Optional[str] = None,
    ) -> None:
        import torch

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        torch.set_num_threads(max(1, int(num_cpus)))
        import_code(code)
        settings = dict(overrides or {})
        settings.update(device_overrides(pipeline, settings, 0 if num_gpus > 0 else -1))
        self.nlp = load_pipeline(pipeline, settings)
        ensure_meta_extension()
        self.counter = PairCounter(self.nlp)

    @property
    def devices(self) -> List[str]:
        """The device of each NLI model of the pipeline, e.g. ["cuda:0"] or ["cpu"]."""
        return [str(component.backend.device) for component in nli_components(self.nlp)]

    def annotate(self, items: Sequence[Tuple[Union[str, Doc], Any]], batch_size: int) -> Tuple[List[Doc], int]:
        """Run the pipeline over (text or Doc, meta) items in minibatches of `batch_size`.

        RETURNS (Tuple[List[Doc], int]): The annotated docs, in order, with `doc._.meta` set
            from each non-None meta, and the number of NLI pairs scored.
        """
        before = self.counter.total
        docs: List[Doc] = []
        for doc, meta in self.nlp.pipe(items, as_tuples=True, batch_size=batch_size):
            if meta is not None:
                doc._.set(META_ATTR, meta)
            docs.append(doc)
        return docs, self.counter.total - before


class DatasetWorker(PipelineWorker):
    """Annotates the rows of a Ray Dataset (`annotate_dataset`), one Arrow batch per call.

    Each output row keeps the input's columns except the text column, and gets "review" (the
    review record as one JSON line, as `spacy-zeroshot annotate` writes it), "doc" (the
    annotated doc, `Doc.to_bytes()`, user data included) and "error" (None, or why the row was
    skipped). A "meta" column, when present, becomes the review record's and `doc._.meta`.
    """

    BATCH_FORMAT = "pyarrow"

    def __init__(
        self,
        pipeline: str,
        *,
        batch_size: int = 64,
        text_column: str = "text",
        id_column: str = "id",
        on_error: str = "fail",
        relations_attr: str = DEFAULT_RELATIONS_ATTR,
        **kwargs: Any,
    ) -> None:
        super().__init__(pipeline, **kwargs)
        self.batch_size = batch_size
        self.text_column = text_column
        self.id_column = id_column
        self.on_error = on_error
        self.relations_attr = relations_attr

    def __call__(self, batch: Any) -> Any:
        """Annotate one batch: a `pyarrow.Table` in, a `pyarrow.Table` out, rows in order."""
        import pyarrow as pa

        for column, what in ((self.text_column, "text"), (self.id_column, "id")):
            if column not in batch.column_names:
                raise ValueError(Errors.E505.format(column=column, what=what, columns=batch.column_names))
        texts = batch.column(self.text_column).to_pylist()
        ids = batch.column(self.id_column).to_pylist()
        metas = batch.column("meta").to_pylist() if "meta" in batch.column_names else [None] * len(texts)
        errors: List[Optional[str]] = [None] * len(texts)
        valid: List[int] = []
        for i, text in enumerate(texts):
            if isinstance(text, str):
                valid.append(i)
                continue
            kind = "null" if text is None else type(text).__name__
            if self.on_error == "fail":
                raise ValueError(Errors.E506.format(row_id=ids[i], column=self.text_column, kind=kind))
            errors[i] = f"the text column {self.text_column!r} holds {kind}, not a string"
        docs, _ = self.annotate([(texts[i], metas[i]) for i in valid], self.batch_size)
        reviews: List[Optional[str]] = [None] * len(texts)
        serialized: List[Optional[bytes]] = [None] * len(texts)
        for i, doc in zip(valid, docs):
            record = review_record(doc, metas[i], relations_attr=self.relations_attr)
            reviews[i] = json.dumps(record, ensure_ascii=False)
            serialized[i] = doc.to_bytes()
        added = {REVIEW_COLUMN: pa.array(reviews, pa.string()), DOC_COLUMN: pa.array(serialized, pa.binary())}
        added[ERROR_COLUMN] = pa.array(errors, pa.string())
        kept = [c for c in batch.column_names if c != self.text_column and c not in added]
        table = batch.select(kept)
        for name, column in added.items():
            table = table.append_column(name, column)
        return table


class ChunkWorker(PipelineWorker):
    """Annotates whole chunks of `spacy-zeroshot annotate --engine ray`, one row per chunk.

    A row in is {"chunk": number, "payload": pickled `plan.read_chunk` result}; a row out is
    {"chunk": number, "files": pickled {suffix: bytes} (the chunk's data files), "info": the
    chunk's JSON record}. The chunk's docs run through `nlp.pipe` in minibatches of
    `batch_size`, exactly as the local engine batches them, so the output is the same.
    """

    def __init__(
        self,
        pipeline: str,
        *,
        batch_size: int,
        suffixes: Sequence[str],
        relations_attr: str = DEFAULT_RELATIONS_ATTR,
        **kwargs: Any,
    ) -> None:
        super().__init__(pipeline, **kwargs)
        self.batch_size = batch_size
        self.suffixes = list(suffixes)
        self.relations_attr = relations_attr

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        out: Dict[str, List[Any]] = {"chunk": [], "files": [], "info": []}
        for number, payload in zip(batch["chunk"], batch["payload"]):
            files, info = self.annotate_chunk(pickle.loads(payload))
            out["chunk"].append(int(number))
            out["files"].append(pickle.dumps(files))
            out["info"].append(json.dumps(info))
        return out

    def annotate_chunk(self, chunk: Dict[str, Any]) -> Tuple[Dict[str, bytes], Dict[str, Any]]:
        """Annotate one chunk read by `plan.read_chunk`.

        RETURNS (Tuple[Dict[str, bytes], Dict[str, Any]]): Its data files ({suffix: bytes})
            and its record ("records", "docs", "skipped", "pairs", "labels"), as the local
            engine writes them.
        """
        items: List[Tuple[Union[str, Doc], Any]] = []
        for text, doc_bytes, meta in chunk["items"]:
            items.append((Doc(self.nlp.vocab).from_bytes(doc_bytes) if doc_bytes is not None else text, meta))
        docs, pairs = self.annotate(items, self.batch_size)
        rows: List[Dict[str, Any]] = []
        labels: Dict[str, Dict[str, int]] = {}
        for doc, (_, _, meta) in zip(docs, chunk["items"]):
            row = review_record(doc, meta, relations_attr=self.relations_attr)
            count_labels(row, labels)
            rows.append(row)
        info = {"records": chunk["records"], "docs": len(docs), "skipped": chunk["skipped"], "pairs": pairs, "labels": labels}
        return chunk_files(self.suffixes, docs, rows), info
