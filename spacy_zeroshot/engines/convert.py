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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors, Warnings
from ..tasks.entities import ANY_LABEL
from .convert_read import Row, read_rows, row_problem

ALIGNMENTS = ("strict", "contract", "expand")
RELATIONS_EXTENSION = "relations"
MAX_SHOWN = 20


class ConvertError(ValueError):
    """Bad input rows; `problems` lists them as `file:line: [E###] ...`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:MAX_SHOWN])
        more = f"\n  ... and {len(self.problems) - MAX_SHOWN} more" if len(self.problems) > MAX_SHOWN else ""
        super().__init__(Errors.E650.format(n=len(self.problems)) + "\n" + shown + more)


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
            raise row_problem(f"characters {given['start']}-{given['end']} ({row.text[given['start']:given['end']]!r}) do not "
                           f"fall on token boundaries ({[t.text for t in doc]}); fix the offsets, or map them to the "
                           f"tokens they touch with `--alignment expand` or to the tokens inside with `--alignment contract`")
        key = (span.start, span.end)
        known = spans.get(key)
        if known is None:
            spans[key] = span
        elif given["label"] and known.label_ and known.label_ != given["label"]:
            raise row_problem(f"the span {span.text!r} has two labels, {known.label_!r} and {given['label']!r}")
        elif given["label"] and not known.label_:
            spans[key] = span
    ordered = sorted(spans.values(), key=lambda s: (s.start, s.end))
    if spans_key is not None:
        doc.spans[spans_key] = ordered
    elif ordered:
        unlabelled = [s.text for s in ordered if not s.label_]
        if unlabelled:
            raise row_problem(f"the spans {unlabelled} have no label: doc.ents cannot hold them (give a \"label\")")
        for a, b in zip(ordered, ordered[1:]):
            if b.start < a.end:
                raise row_problem(f"the spans {a.text!r} and {b.text!r} overlap: doc.ents cannot hold both (use a spans key)")
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
    `allowed_pairs`), since it pairs every span. Text categories are not checked when a text
    classifier has no labels yet (spaCy's `textcat` takes them from the data).

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
            labels = tuple(getattr(pipe, "labels", ()))
            if not labels:  # spaCy's textcat before `initialize`: its labels come from the data
                unchecked.add(kind)
            known.setdefault(kind, {}).update(dict.fromkeys(labels))
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
