"""Input records of an annotation run: .txt, .jsonl and .spacy files, or folders of them.

Every record carries where it came from (file and line), so that a malformed one can be
reported precisely and counted; nothing is dropped without a trace. Text files are read as
UTF-8 with an optional byte-order mark (Python's "utf-8-sig", what many Windows tools write):
the mark is not part of the first record. A file in UTF-16 or UTF-32 is refused (`E210`), not
read as garbage; invalid UTF-8 makes its line a malformed record.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..encodings import check_utf8_file, decode_line, strip_bom
from ..errors import Errors

SUFFIXES = (".txt", ".jsonl", ".spacy")
META_ATTR = "meta"


@dataclass
class Record:
    """One input item: a text or a Doc to annotate, or the reason it cannot be read."""

    index: int
    source: str
    line: int
    text: Optional[str] = None
    doc: Optional[Doc] = None
    meta: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    end: int = 0  # where the next record starts: a byte offset in text files, a doc index in DocBins

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def ensure_meta_extension() -> None:
    """`doc._.meta` holds the input record's meta, so it survives in .spacy output."""
    if not Doc.has_extension(META_ATTR):
        Doc.set_extension(META_ATTR, default=None)


def input_files(path: Union[str, Path]) -> List[Path]:
    """The files to read, in order: the file itself, or a folder's supported files sorted by name.

    path (Union[str, Path]): A .txt, .jsonl or .spacy file, or a folder holding such files.
    RETURNS (List[Path]): The files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise ValueError(Errors.E201.format(path=path, suffixes=", ".join(SUFFIXES)))
        return files
    if not path.exists():
        raise ValueError(Errors.E200.format(what="input", path=path))
    if path.suffix not in SUFFIXES:
        raise ValueError(Errors.E202.format(path=path, suffixes=", ".join(SUFFIXES)))
    return [path]


def count_records(files: List[Path]) -> int:
    """How many records the files hold (lines for text formats, docs for DocBins); for progress."""
    total = 0
    for path in files:
        if path.suffix == ".spacy":
            total += len(DocBin().from_disk(path))
            continue
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                if path.suffix == ".txt" or (strip_bom(raw) if number == 1 else raw).strip():
                    total += 1
    return total


@dataclass(frozen=True)
class Position:
    """Where reading starts: a file of the list, an offset in it (a byte offset in text
    files, a doc index in DocBins), the number of the line there, and the index of the record.
    """

    file: int = 0
    offset: int = 0
    line: int = 1
    index: int = 0


def read_records(files: List[Path], vocab: Vocab, *, text_key: str = "text", skip: int = 0) -> Iterator[Record]:
    """Yield the records of `files` in order, numbered from 0; malformed ones carry an `error`.

    files (List[Path]): Input files (see `input_files`).
    vocab (Vocab): The pipeline's vocab, for docs read from .spacy files.
    text_key (str): The key of the text in .jsonl records.
    skip (int): Number of leading records to pass over without yielding (for --resume).
    RETURNS (Iterator[Record]): The records.
    """
    index = 0
    for path in files:
        if path.suffix == ".spacy":
            reader: Iterator[Record] = _read_docbin(path, vocab, index)
        else:
            reader = _read_lines(path, text_key, index)
        for record in reader:
            index += 1
            if record.index >= skip:
                yield record


def read_from(files: List[Path], vocab: Vocab, start: Position, count: int, *, text_key: str = "text") -> Iterator[Record]:
    """Yield `count` records from `start` on (a position `Record.end` gave), numbered as
    `read_records` numbers them, without reading what comes before `start` in its file.

    files (List[Path]): Input files (see `input_files`).
    vocab (Vocab): The vocab for docs read from .spacy files.
    start (Position): Where the first record to read starts.
    count (int): How many records to yield at most.
    RETURNS (Iterator[Record]): The records.
    """
    if count <= 0:
        return
    index = start.index
    for number in range(start.file, len(files)):
        path = files[number]
        first = start if number == start.file else Position(number, 0, 1, index)
        if path.suffix == ".spacy":
            reader: Iterator[Record] = _read_docbin(path, vocab, index, first=first.offset)
        else:
            reader = _read_lines(path, text_key, index, offset=first.offset, first_line=first.line)
        for record in reader:
            yield record
            index += 1
            if index - start.index == count:
                return


def _read_docbin(path: Path, vocab: Vocab, start: int, first: int = 0) -> Iterator[Record]:
    docs = DocBin().from_disk(path).get_docs(vocab)
    for i, doc in enumerate(docs):
        if i < first:
            continue
        meta = doc._.get(META_ATTR) if Doc.has_extension(META_ATTR) else None
        yield Record(start + i - first, str(path), i + 1, doc=doc, meta=meta, end=i + 1)


def _read_lines(path: Path, text_key: str, start: int, offset: int = 0, first_line: int = 1) -> Iterator[Record]:
    is_txt = path.suffix == ".txt"
    index = start
    check_utf8_file(path, "input file")
    with path.open("rb") as f:
        f.seek(offset)
        for number, raw in enumerate(f, first_line):
            offset += len(raw)
            if number == 1:
                raw = strip_bom(raw)
            if not is_txt and not raw.strip():
                continue  # blank lines separate nothing in JSONL: they are not records
            record = Record(index, str(path), number, end=offset)
            index += 1
            line, record.error = decode_line(raw)
            if line is None:
                yield record
                continue
            if is_txt:
                record.text = line.rstrip("\r\n")
            else:
                _parse_json_line(record, line, text_key)
            yield record


def _parse_json_line(record: Record, line: str, text_key: str) -> None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        record.error = f"invalid JSON ({err.msg} at column {err.colno})"
        return
    if not isinstance(value, dict):
        record.error = f"expected a JSON object, got {type(value).__name__}"
    elif text_key not in value:
        record.error = f"no {text_key!r} key (keys: {sorted(value)[:8]})"
    elif not isinstance(value[text_key], str):
        record.error = f"{text_key!r} is {type(value[text_key]).__name__}, not a string"
    else:
        record.text = value[text_key]
        record.meta = value.get("meta")
