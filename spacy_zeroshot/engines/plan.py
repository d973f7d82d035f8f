"""Where the chunks of a run start and end, decided from the input alone (for the Ray engine).

The local engine cuts chunks as it goes: a chunk closes after `chunk_size` docs, and the
malformed records between two chunks belong to the later one. `plan_chunks` computes the
same cuts in one pass over the input, before anything runs, together with the position each
chunk starts at, so that any worker can read any chunk without reading what comes before it,
chunks can finish in any order, and a resumed run reads only the chunks that are missing.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Tuple

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..errors import Errors
from .readers import Position, Record, ensure_meta_extension, read_from, read_records


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk of a run: its number, where its first record starts, and what it covers.

    number (int): The chunk's number (its parts are `chunk-<number>.*`).
    start (Position): The position of its first record (`start.index` is that record's index).
    records (int): Input records it covers, malformed ones included.
    docs (int): Docs it holds (its records less the malformed ones).
    """

    number: int
    start: Position
    records: int
    docs: int


def plan_chunks(files: List[Path], text_key: str, chunk_size: int) -> Tuple[int, List[Record], List[ChunkPlan]]:
    """Count the records, find the malformed ones and cut the input into chunks, reading
    every file once and loading no model.

    files (List[Path]): Input files (see `readers.input_files`).
    text_key (str): The key of the text in .jsonl records.
    chunk_size (int): Docs per chunk (the last chunk may hold fewer).
    RETURNS (Tuple[int, List[Record], List[ChunkPlan]]): The number of records, the malformed
        records (in order, with their global index), and the chunks, exactly as the local
        engine would cut them.
    """
    chunks: List[ChunkPlan] = []
    malformed: List[Record] = []
    start = Position()
    index = docs = 0

    def close(after: Position) -> None:
        nonlocal start, docs
        chunks.append(ChunkPlan(len(chunks), start, index - start.index, docs))
        start, docs = after, 0

    for number, path in enumerate(files):
        if path.suffix == ".spacy":
            for i in range(len(DocBin().from_disk(path))):
                index += 1
                docs += 1
                if docs == chunk_size:
                    close(Position(number, i + 1, i + 2, index))
            continue
        for record in read_records([path], Vocab(), text_key=text_key):
            record.index = index  # read_records numbers each file from 0 here
            index += 1
            if record.error is not None:
                malformed.append(record)
                continue
            docs += 1
            if docs == chunk_size:
                close(Position(number, record.end, record.line + 1, index))
    if index > start.index:
        close(start)
    return index, malformed, chunks


def pending_chunks(plan: List[ChunkPlan], complete: Collection[int]) -> List[ChunkPlan]:
    """The chunks of `plan` that are not complete yet (the resume filter), in order."""
    return [chunk for chunk in plan if chunk.number not in complete]


def read_chunk(files: List[Path], text_key: str, chunk: ChunkPlan, on_error: str) -> Dict[str, Any]:
    """Read the records of one chunk, as the driver hands them to a worker.

    files (List[Path]): Input files, as planned.
    text_key (str): The key of the text in .jsonl records.
    chunk (ChunkPlan): The chunk to read.
    on_error (str): "fail" raises `[E208]` on a malformed record, "skip" lists it.
    RETURNS (Dict[str, Any]): {"number", "records", "items", "skipped"}: items are
        (text, doc bytes, meta) with one of text and doc bytes None (docs from .spacy input
        travel as `Doc.to_bytes()`); skipped are {"file", "line", "reason"} records.
    """
    ensure_meta_extension()
    items: List[Tuple[Optional[str], Optional[bytes], Any]] = []
    skipped: List[Dict[str, Any]] = []
    for record in read_from(files, Vocab(), chunk.start, chunk.records, text_key=text_key):
        if record.error is not None:
            if on_error == "fail":
                raise ValueError(Errors.E208.format(where=record.where, reason=record.error, n=1))
            skipped.append({"file": record.source, "line": record.line, "reason": record.error})
        elif record.doc is not None:
            items.append((None, record.doc.to_bytes(), record.meta))
        else:
            items.append((record.text or "", None, record.meta))
    if len(items) != chunk.docs or len(items) + len(skipped) != chunk.records:
        raise ValueError(Errors.E503.format(number=chunk.number, expected=chunk.docs, found=len(items)))
    return {"number": chunk.number, "records": chunk.records, "items": items, "skipped": skipped}
