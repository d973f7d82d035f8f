"""Plain labelled data (CSV, TSV, JSON lines) -> gold docs for `spacy train` / `finetune`.

What the trainer reads, and nothing else: `doc.cats` (text categories: every label of the
corpus, 1.0 for the row's labels and 0.0 for the others), `doc.ents` or
`doc.spans[spans_key]` with `label_` and `kb_id_` (entity typing, linking) and
`doc._.relations` (relations: plain dicts {"head": [start, end], "tail": [start, end],
"label"} in token offsets, as the relation extractor writes them).

Input, one doc per row:
- `.csv` / `.tsv`: `text,label[,label...]` (a first row `text,label...` is a header and
  skipped); empty label cells are ignored.
- `.jsonl`: {"text": ..., optional "label": str | "labels": [str] | "cats": {label: float},
  "spans": [{"start", "end", "label", optional "kb_id"}], "relations": [{"head", "tail",
  "label"}]} where head and tail are spans ({"start", "end", optional "label"}) or indices
  into "spans". Offsets count characters (Python string indices), end exclusive.

Files are read as UTF-8; a byte order mark opening the file is an encoding mark and dropped,
everything else (CRLF inside a quoted cell, a BOM inside a text, `$`) is kept byte for byte;
a file that is not UTF-8 is reported at the line of its first bad bytes.
Every bad row is reported by `file:line` with a numbered error, all of them at once.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors, Warnings
from ..tasks.entities import ANY_LABEL

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
ALIGNMENTS = ("strict", "contract", "expand")
RELATIONS_EXTENSION = "relations"
MAX_SHOWN = 20


@dataclass
class Row:
    """One parsed input row: where it came from, and its annotation in plain values."""

    where: str
    text: str
    labels: Optional[Dict[str, float]] = None  # textcat: label -> value
    spans: List[Dict[str, Any]] = field(default_factory=list)
    relations: Optional[List[Dict[str, Any]]] = None


class ConvertError(ValueError):
    """Bad input rows; `problems` lists them as `file:line: [E###] ...`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:MAX_SHOWN])
        more = f"\n  ... and {len(self.problems) - MAX_SHOWN} more" if len(self.problems) > MAX_SHOWN else ""
        super().__init__(Errors.E650.format(n=len(self.problems)) + "\n" + shown + more)


# Reading ---------------------------------------------------------------------------------


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
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
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


def _problem(message: str) -> ValueError:
    return ValueError(Errors.E652.format(problem=message))


def _record_row(record: Any, where: str) -> Row:
    if not isinstance(record, dict):
        raise _problem(f"a row must be a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        raise _problem(f"\"text\" must be a string, got {text!r}")
    row = Row(where, text)
    given = [key for key in ("label", "labels", "cats") if key in record]
    if len(given) > 1:
        raise _problem(f"give one of \"label\", \"labels\" or \"cats\", not {given}")
    if "label" in record:
        row.labels = {_name(record["label"], "label"): 1.0}
    elif "labels" in record:
        values = record["labels"]
        if not isinstance(values, list):
            raise _problem(f"\"labels\" must be a list of strings, got {values!r}")
        row.labels = dict.fromkeys((_name(v, "label") for v in values), 1.0)
    elif "cats" in record:
        cats = record["cats"]
        if not isinstance(cats, dict) or not all(_is_score(v) for v in cats.values()):
            raise _problem(f"\"cats\" must map labels to numbers in [0, 1], got {cats!r}")
        row.labels = {str(k): float(v) for k, v in cats.items()}
    spans = record.get("spans", [])
    if not isinstance(spans, list):
        raise _problem(f"\"spans\" must be a list, got {spans!r}")
    row.spans = [_span(s, text, f"spans[{i}]") for i, s in enumerate(spans)]
    if "relations" in record:
        relations = record["relations"]
        if not isinstance(relations, list):
            raise _problem(f"\"relations\" must be a list (empty: no relation holds), got {relations!r}")
        row.relations = [_relation(rel, row, f"relations[{i}]") for i, rel in enumerate(relations)]
    if row.labels is None and not row.spans and row.relations is None:
        raise _problem("the row has no annotation (\"label\", \"labels\", \"cats\", \"spans\" or \"relations\")")
    return row


def _is_score(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def _is_offset(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _problem(f"a {what} must be a non-empty string, got {value!r}")
    return value


def _span(value: Any, text: str, what: str, needs_label: bool = True) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(f"{what} must be an object with \"start\", \"end\" and \"label\", got {value!r}")
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and _is_offset(start) and _is_offset(end)) or not (
        0 <= start < end <= len(text)
    ):
        raise _problem(f"{what}: \"start\" and \"end\" must be character offsets with 0 <= start < end <= {len(text)}, got {start!r}, {end!r}")
    label = value.get("label")
    if label is not None or needs_label:
        label = _name(label, f"{what} label")
    kb_id = value.get("kb_id")
    if kb_id is not None:
        kb_id = _name(kb_id, f"{what} kb_id")
    return {"start": start, "end": end, "label": label, "kb_id": kb_id}


def _relation(value: Any, row: Row, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(f"{what} must be an object with \"head\", \"tail\" and \"label\", got {value!r}")
    ends = []
    for end in ("head", "tail"):
        given = value.get(end)
        if isinstance(given, int) and not isinstance(given, bool):
            if not 0 <= given < len(row.spans):
                raise _problem(f"{what}.{end}: {given} is not an index into \"spans\" ({len(row.spans)} spans)")
            ends.append(row.spans[given])
        else:
            ends.append(_span(given, row.text, f"{what}.{end}", needs_label=False))
    return {"head": ends[0], "tail": ends[1], "label": _name(value.get("label"), f"{what} label")}


# Building docs -----------------------------------------------------------------------------


def rows_to_docs(
    nlp: Language,
    rows: Sequence[Row],
    *,
    spans_key: Optional[str] = None,
    alignment_mode: str = "strict",
    cat_labels: Sequence[str] = (),
) -> Tuple[List[Doc], List[str]]:
    """Gold docs for `rows`, tokenized by `nlp`, and the rows' problems.

    cat_labels (Sequence[str]): Text category labels every doc's `cats` holds (0.0 unless
        the row names it), besides those the rows name.
    RETURNS (Tuple[List[Doc], List[str]]): The docs of the good rows, and the problems.
    """
    if alignment_mode not in ALIGNMENTS:
        raise ValueError(Errors.E652.format(problem=f"alignment mode must be one of {ALIGNMENTS}, got {alignment_mode!r}"))
    if not Doc.has_extension(RELATIONS_EXTENSION):
        Doc.set_extension(RELATIONS_EXTENSION, default=None)
    labels = dict.fromkeys(cat_labels)
    for row in rows:
        labels.update(dict.fromkeys(row.labels or {}))
    docs, problems = [], []
    for row in rows:
        try:
            docs.append(_row_doc(nlp, row, list(labels), spans_key, alignment_mode))
        except ValueError as error:
            problems.append(f"{row.where}: {error}")
    return docs, problems


def _row_doc(nlp: Language, row: Row, labels: List[str], spans_key: Optional[str], mode: str) -> Doc:
    doc = nlp.make_doc(row.text)
    if row.labels is not None:
        doc.cats = {label: row.labels.get(label, 0.0) for label in labels}
    spans: Dict[Tuple[int, int], Span] = {}
    ends = [rel[end] for rel in row.relations or [] for end in ("head", "tail")]
    for given in [*row.spans, *ends]:
        span = doc.char_span(given["start"], given["end"], label=given["label"] or "", kb_id=given["kb_id"] or "",
                             alignment_mode=mode)  # type: ignore[arg-type]
        if span is None or not len(span):
            raise _problem(f"characters {given['start']}-{given['end']} ({row.text[given['start']:given['end']]!r}) do not "
                           f"fall on token boundaries ({[t.text for t in doc]}); fix the offsets, or map them to the "
                           f"tokens they touch with `--alignment expand` or to the tokens inside with `--alignment contract`")
        key = (span.start, span.end)
        known = spans.get(key)
        if known is None:
            spans[key] = span
        elif given["label"] and known.label_ and known.label_ != given["label"]:
            raise _problem(f"the span {span.text!r} has two labels, {known.label_!r} and {given['label']!r}")
        elif given["label"] and not known.label_:
            spans[key] = span
    ordered = sorted(spans.values(), key=lambda s: (s.start, s.end))
    if spans_key is not None:
        doc.spans[spans_key] = ordered
    elif ordered:
        unlabelled = [s.text for s in ordered if not s.label_]
        if unlabelled:
            raise _problem(f"the spans {unlabelled} have no label: doc.ents cannot hold them (give a \"label\")")
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.end:
                raise _problem(f"the spans {a.text!r} and {b.text!r} overlap: doc.ents cannot hold both (use a spans key)")
        doc.ents = ordered
    if row.relations is not None:
        doc._.set(RELATIONS_EXTENSION, [_token_relation(doc, rel, mode) for rel in row.relations])
    return doc


def _token_relation(doc: Doc, rel: Mapping[str, Any], mode: str) -> Dict[str, Any]:
    ends = [doc.char_span(rel[e]["start"], rel[e]["end"], alignment_mode=mode) for e in ("head", "tail")]  # type: ignore[arg-type]
    head, tail = [[span.start, span.end] for span in ends if span is not None]
    return {"head": head, "tail": tail, "label": rel["label"]}


def unknown_labels(rows: Sequence[Row], known: Mapping[str, Sequence[str]]) -> List[str]:
    """Problems for labels a pipeline does not know, each named with its first `file:line`.

    known (Mapping[str, Sequence[str]]): Per kind ("cats", "spans", "relations"), the labels
        the pipeline's components know; a kind that is absent is not checked.
    """
    first: Dict[Tuple[str, str], str] = {}
    for row in rows:
        for kind, label in _row_labels(row):
            if kind in known and label not in known[kind]:
                first.setdefault((kind, label), row.where)
    return [f"{where}: {Errors.E653.format(kind=kind, label=label, known=_names(known[kind]))}"
            for (kind, label), where in first.items()]


def _names(labels: Sequence[str]) -> str:
    """Labels as a readable list, each quoted exactly (`'PER', 'a "b"', '$x'`)."""
    return ", ".join(repr(label) for label in labels) if labels else "(none)"


# The whole conversion ---------------------------------------------------------------------

# Per factory, which annotation its labels name.
LABEL_KINDS = {
    "zeroshot_textcat": "cats",
    "textcat": "cats",
    "textcat_multilabel": "cats",
    "zeroshot_entity_typer": "spans",
    "zeroshot_relation_extractor": "relations",
}


def pipeline_labels(nlp: Language) -> Dict[str, List[str]]:
    """Per kind of annotation ("cats", "spans", "relations"), the labels the pipeline's
    components know; a kind that is absent is not checked.

    Span labels are the typer's types and the source span labels it types, the linker's
    `ent_labels` and the head and tail types the relation extractor's labels allow. Span
    labels are not checked when a component reads every span whatever its label: a typer
    typing every span ("*"), a linker without `ent_labels`, or a relation extractor with a
    label that leaves its head or tail type open (no `allowed_head` / `allowed_tail` /
    `allowed_pairs`), since it pairs every span.

    nlp (Language): The pipeline (it need not be initialized: only its settings are read).
    RETURNS (Dict[str, List[str]]): Kind -> the known labels, in pipeline order.
    """
    known: Dict[str, Dict[str, None]] = {}
    unchecked = set()
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        pipe = nlp.get_pipe(name)
        kind = LABEL_KINDS.get(factory)
        if kind is not None:
            known.setdefault(kind, {}).update(dict.fromkeys(getattr(pipe, "labels", ())))
        settings = getattr(pipe, "settings", None)
        if factory == "zeroshot_entity_typer" and settings is not None:
            if ANY_LABEL in settings.types:
                unchecked.add("spans")
            known.setdefault("spans", {}).update(dict.fromkeys(k for k in settings.types if k != ANY_LABEL))
        elif factory == "zeroshot_entity_linker" and settings is not None:
            if settings.ent_labels:
                known.setdefault("spans", {}).update(dict.fromkeys(settings.ent_labels))
            else:
                unchecked.add("spans")
        elif factory == "zeroshot_relation_extractor" and settings is not None:
            types = relation_span_types(settings.labels)
            if types is None:
                unchecked.add("spans")
            else:
                known.setdefault("spans", {}).update(dict.fromkeys(types))
    return {kind: list(labels) for kind, labels in known.items() if kind not in unchecked}


def relation_span_types(labels: Mapping[str, Mapping[str, Any]]) -> Optional[List[str]]:
    """The span types a relation extractor's labels (`normalize_relation_labels`) may
    connect, or None when some label leaves its head or tail type open (any span)."""
    types: Dict[str, None] = {}
    for settings in labels.values():
        pairs = [pair.partition(":")[::2] for pair in settings.get("allowed_pairs") or ()]
        heads = settings.get("allowed_head") if settings.get("allowed_pairs") is None else [h for h, _ in pairs]
        tails = settings.get("allowed_tail") if settings.get("allowed_pairs") is None else [t for _, t in pairs]
        if heads is None or tails is None:
            return None
        types.update(dict.fromkeys([*heads, *tails]))
    return list(types)


@dataclass
class ConvertSummary:
    """What `convert` wrote: docs, per kind of annotation the label counts, and warnings
    (`file:line: [W###] ...`) about rows it wrote but that look wrong."""

    docs: int
    output: str
    labels: Dict[str, Dict[str, int]]
    warnings: List[str] = field(default_factory=list)

    def lines(self) -> List[str]:
        out = [f"wrote {self.docs} doc(s) to {self.output}"]
        for kind, counts in self.labels.items():
            if counts:
                out.append(f"  {kind}: " + ", ".join(f"{label!r} x{n}" for label, n in counts.items()))
        return out


def convert(
    inputs: Sequence[Path],
    output: Path,
    *,
    nlp: Language,
    known: Optional[Mapping[str, Sequence[str]]] = None,
    spans_key: Optional[str] = None,
    alignment_mode: str = "strict",
) -> ConvertSummary:
    """Read `inputs`, check every row (and, given `known`, every label), write one DocBin.

    nlp (Language): Its tokenizer makes the docs (a pipeline's own, or `spacy.blank(lang)`).
    known (Optional[Mapping[str, Sequence[str]]]): `pipeline_labels` of the pipeline to train.
    RETURNS (ConvertSummary): The docs written, the labels they hold, and warnings ([W650]
        labels with leading or trailing whitespace, kept as they are).
    RAISES ConvertError: [E650] listing every bad row and unknown label as `file:line`;
        nothing is written then. ValueError: [E651] an unknown file type, [E656] a missing
        file, [E654] no rows.
    """
    from spacy.tokens import DocBin

    rows: List[Row] = []
    problems: List[str] = []
    for path in inputs:
        found, bad = read_rows(Path(path))
        rows.extend(found)
        problems.extend(bad)
    if not rows and not problems:
        raise ValueError(Errors.E654.format(paths=[str(p) for p in inputs]))
    if known:
        problems.extend(unknown_labels(rows, known))
    cat_labels = list((known or {}).get("cats", ()))
    docs, bad = rows_to_docs(nlp, rows, spans_key=spans_key, alignment_mode=alignment_mode, cat_labels=cat_labels)
    problems.extend(bad)
    if problems:
        raise ConvertError(_in_file_order(problems, [str(path) for path in inputs]))
    output.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(output)
    return ConvertSummary(len(docs), str(output), _label_counts(rows), padded_labels(rows))


def padded_labels(rows: Sequence[Row]) -> List[str]:
    """Warnings [W650] for labels with leading or trailing whitespace (kept as they are),
    each named with its first `file:line` and its number of rows."""
    first: Dict[Tuple[str, str], List[Any]] = {}
    for row in rows:
        for kind, label in dict.fromkeys(_row_labels(row)):
            if label != label.strip():
                first.setdefault((kind, label), [row.where, 0])[1] += 1
    return [f"{where}: {Warnings.W650.format(kind=kind, label=label, rows=n)}" for (kind, label), (where, n) in first.items()]


def _row_labels(row: Row) -> List[Tuple[str, str]]:
    found = [("cats", label) for label in row.labels or {}]
    found += [("spans", s["label"]) for s in row.spans if s["label"]]
    return found + [("relations", r["label"]) for r in row.relations or []]


def _in_file_order(problems: Sequence[str], paths: Sequence[str]) -> List[str]:
    """`file:line: ...` problems sorted by file (in input order), then line."""

    def key(problem: str) -> Tuple[int, int]:
        for index, path in sorted(enumerate(paths), key=lambda item: -len(item[1])):
            number, sep, _ = problem[len(path) + 1 :].partition(":")
            if problem.startswith(path + ":") and sep and number.isdigit():
                return index, int(number)
        return len(paths), 0

    return sorted(problems, key=key)


def _label_counts(rows: Sequence[Row]) -> Dict[str, Dict[str, int]]:
    counts: Dict[str, Dict[str, int]] = {"cats": {}, "spans": {}, "relations": {}}
    for row in rows:
        names = [("cats", k) for k, v in (row.labels or {}).items() if v >= 0.5]
        names += [("spans", s["label"]) for s in row.spans if s["label"]]
        names += [("relations", r["label"]) for r in row.relations or []]
        for kind, label in names:
            counts[kind][label] = counts[kind].get(label, 0) + 1
    return counts
