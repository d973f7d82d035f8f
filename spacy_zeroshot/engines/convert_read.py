"""Reading plain labelled data (CSV, TSV, JSON lines) into rows, for `engines.convert`.

See `engines.convert` for the formats. Files are read as UTF-8 (a byte order mark opening the
file is dropped); every bad row is a problem `file:line: [E###] ...`, all of them at once.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..encodings import error_position
from ..errors import Errors

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass
class Row:
    """One parsed input row: where it came from, and its annotation in plain values."""

    where: str
    text: str
    labels: Optional[Dict[str, float]] = None  # textcat: label -> value
    spans: List[Dict[str, Any]] = field(default_factory=list)
    relations: Optional[List[Dict[str, Any]]] = None


def read_rows(path: Path) -> Tuple[List[Row], List[str]]:
    """The rows of one input file, and its problems (`file:line: [E###] ...`).

    RAISES ValueError: [E651] an unknown file type, [E656] a missing file.
    """
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES and suffix not in JSONL_SUFFIXES:
        raise ValueError(Errors.E651.format(path=path, suffixes=", ".join([*TABLE_SUFFIXES, *JSONL_SUFFIXES])))
    if not path.is_file():
        raise ValueError(Errors.E656.format(path=path))
    text, problem = _decode(path)
    if text is None:
        return [], [problem]
    if suffix in TABLE_SUFFIXES:
        return _read_table(path, text, TABLE_SUFFIXES[suffix])
    return _read_jsonl(path, text)


def _decode(path: Path) -> Tuple[Optional[str], str]:
    """The file's text (UTF-8, a byte order mark opening it dropped), or None and the
    problem `file:line: [E655] ...` at the first bytes that are not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as error:
        line, column = error_position(data, error)
        bad = " ".join(f"0x{b:02x}" for b in data[error.start : error.end])
        return None, f"{path}:{line}: {Errors.E655.format(data=bad, column=column)}"


def _read_table(path: Path, text: str, delimiter: str) -> Tuple[List[Row], List[str]]:
    rows: List[Row] = []
    problems: List[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            where = f"{path}:{start}"
            if not cells or (len(cells) == 1 and not cells[0]):
                continue  # an empty line
            if start == 1 and cells[0].strip().lower() == "text" and all(
                c.strip().lower().startswith("label") for c in cells[1:]
            ):
                continue  # the header
            labels = [c for c in cells[1:] if c]
            if not labels:
                problem = "a row needs a text and at least one label" + _quote_hint(cells, start, reader.line_num)
                problems.append(f"{where}: {Errors.E652.format(problem=problem)}")
                continue
            rows.append(Row(where, cells[0], labels=dict.fromkeys(labels, 1.0)))
    except csv.Error as error:
        problems.append(f"{path}:{reader.line_num}: {Errors.E652.format(problem=f'not valid CSV: {error}')}")
    return rows, problems


def _quote_hint(cells: Sequence[str], start: int, end: int) -> str:
    """For a bad row with a line break in a cell: where a quote may be left unclosed."""
    if not any("\n" in cell or "\r" in cell for cell in cells):
        return ""
    lines = f"lines {start}-{end}" if end > start else f"line {start} to the end of the file"
    return f" (a cell holds a line break: it covers {lines}; a quote may be unclosed)"


def _read_jsonl(path: Path, text: str) -> Tuple[List[Row], List[str]]:
    rows: List[Row] = []
    problems: List[str] = []
    for number, line in enumerate(_lines(io.StringIO(text, newline="")), start=1):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: {Errors.E652.format(problem=f'not valid JSON: {error}')}")
            continue
        try:
            rows.append(_record_row(record, where))
        except ValueError as error:
            problems.append(f"{where}: {error}")
    return rows, problems


def _lines(file: Any) -> Iterator[str]:
    """Lines split at LF (CRLF included), never at a lone CR (which JSON allows between
    tokens), so that line numbers match what editors show."""
    pending = ""
    for chunk in iter(lambda: file.read(1 << 16), ""):
        parts = (pending + chunk).split("\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def row_problem(message: str) -> ValueError:
    """The error of a bad row: `[E652] message` (its `file:line` is added by the caller)."""
    return ValueError(Errors.E652.format(problem=message))


def _record_row(record: Any, where: str) -> Row:
    if not isinstance(record, dict):
        raise row_problem(f"a row must be a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        raise row_problem(f"\"text\" must be a string, got {text!r}")
    row = Row(where, text)
    given = [key for key in ("label", "labels", "cats") if key in record]
    if len(given) > 1:
        raise row_problem(f"give one of \"label\", \"labels\" or \"cats\", not {given}")
    if "label" in record:
        row.labels = {_name(record["label"], "label"): 1.0}
    elif "labels" in record:
        values = record["labels"]
        if not isinstance(values, list):
            raise row_problem(f"\"labels\" must be a list of strings, got {values!r}")
        row.labels = dict.fromkeys((_name(v, "label") for v in values), 1.0)
    elif "cats" in record:
        cats = record["cats"]
        if not isinstance(cats, dict) or not all(_is_score(v) for v in cats.values()):
            raise row_problem(f"\"cats\" must map labels to numbers in [0, 1], got {cats!r}")
        row.labels = {str(k): float(v) for k, v in cats.items()}
    spans = record.get("spans", [])
    if not isinstance(spans, list):
        raise row_problem(f"\"spans\" must be a list, got {spans!r}")
    row.spans = [_span(s, text, f"spans[{i}]") for i, s in enumerate(spans)]
    if "relations" in record:
        relations = record["relations"]
        if not isinstance(relations, list):
            raise row_problem(f"\"relations\" must be a list (empty: no relation holds), got {relations!r}")
        row.relations = [_relation(rel, row, f"relations[{i}]") for i, rel in enumerate(relations)]
    if row.labels is None and not row.spans and row.relations is None:
        raise row_problem("the row has no annotation (\"label\", \"labels\", \"cats\", \"spans\" or \"relations\")")
    return row


def _is_score(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def _is_offset(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise row_problem(f"a {what} must be a non-empty string, got {value!r}")
    return value


def _span(value: Any, text: str, what: str, needs_label: bool = True) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise row_problem(f"{what} must be an object with \"start\", \"end\" and \"label\", got {value!r}")
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and _is_offset(start) and _is_offset(end)) or not (
        0 <= start < end <= len(text)
    ):
        raise row_problem(f"{what}: \"start\" and \"end\" must be character offsets with 0 <= start < end <= {len(text)}, got {start!r}, {end!r}")
    label = value.get("label")
    if label is not None or needs_label:
        label = _name(label, f"{what} label")
    kb_id = value.get("kb_id")
    if kb_id is not None:
        kb_id = _name(kb_id, f"{what} kb_id")
    return {"start": start, "end": end, "label": label, "kb_id": kb_id}


def _relation(value: Any, row: Row, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise row_problem(f"{what} must be an object with \"head\", \"tail\" and \"label\", got {value!r}")
    ends = []
    for end in ("head", "tail"):
        given = value.get(end)
        if isinstance(given, int) and not isinstance(given, bool):
            if not 0 <= given < len(row.spans):
                raise row_problem(f"{what}.{end}: {given} is not an index into \"spans\" ({len(row.spans)} spans)")
            ends.append(row.spans[given])
        else:
            ends.append(_span(given, row.text, f"{what}.{end}", needs_label=False))
    return {"head": ends[0], "tail": ends[1], "label": _name(value.get("label"), f"{what} label")}
