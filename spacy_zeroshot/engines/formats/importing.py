"""Reviewed annotations back to gold `Doc`s: what `spacy train`, `finetune`, `calibrate` and
`spacy evaluate` read.

Docs are tokenized by the pipeline and split into sentences by its sentencizer (senter, parser)
if it has one. Categories go to `doc.cats` (1.0 for every chosen label, 0.0 for the other labels of the
pipeline), spans to `doc.ents` or `doc.spans[key]` with `kb_id_`, relations to
`doc._.<relations extension>` as {"head": [start, end], "tail": [start, end], "label"} in token
offsets. Only accepted (or submitted) records become docs; the others are counted.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import filter_spans

from ...components.relations import ensure_extension
from ...encodings import read_utf8
from ...errors import Errors, Warnings
from . import doccano, label_studio, prodigy, review
from .reviewed import ACCEPTED, STATUSES, Reviewed, ReviewedSpan
from .schema import ENTS, ReviewSchema

IMPORT_FORMATS = ("label-studio", "prodigy", "doccano", "review")
# Components whose sentence boundaries the gold docs keep: the task components build their
# training premises from sentences (context "sentence", relations within a sentence).
SEGMENTERS = ("Sentencizer", "SentenceRecognizer", "DependencyParser")
ALIGNMENTS = ("strict", "contract", "expand")
META_ATTR = "meta"


@dataclass
class ImportReport:
    """What an import read: records per status, docs written, warnings, unknown labels."""

    records: int = 0
    statuses: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    docs: int = 0
    warnings: List[str] = field(default_factory=list)
    unknown: Dict[str, Dict[str, int]] = field(default_factory=dict)
    snapped: int = 0
    dropped_spans: int = 0

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def unknown_label(self, what: str, label: str) -> None:
        group = self.unknown.setdefault(what, {})
        group[label] = group.get(label, 0) + 1

    def as_dict(self) -> Dict[str, Any]:
        return {
            "records": self.records,
            **self.statuses,
            "docs": self.docs,
            "warnings": len(self.warnings),
            "snapped_spans": self.snapped,
            "dropped_spans": self.dropped_spans,
            "unknown_labels": self.unknown,
        }


def read_reviewed(path: Path, fmt: str, schema: ReviewSchema, *, use_predictions: bool = False) -> Iterator[Reviewed]:
    """The records of an export file, in file order.

    path (Path): A Label Studio JSON export (a list of tasks; JSON lines work too), or a
        Prodigy / doccano / review JSONL file.
    fmt (str): One of IMPORT_FORMATS.
    use_predictions (bool): Read records nobody reviewed as accepted (their predictions).
    RAISES ValueError: [E621] unknown format, [E622] a file or record that is not the format.
    """
    if fmt not in IMPORT_FORMATS:
        raise ValueError(Errors.E621.format(value=fmt, options=", ".join(IMPORT_FORMATS)))
    text = read_utf8(path, f"{fmt} export")
    readers: Dict[str, Callable[[Dict[str, Any], str], Reviewed]] = {
        "label-studio": lambda r, w: label_studio.from_task(r, w, use_predictions=use_predictions),
        "prodigy": lambda r, w: prodigy.from_task(r, w, use_predictions=use_predictions),
        "doccano": lambda r, w: doccano.from_task(r, w, use_predictions=use_predictions),
        "review": lambda r, w: review.from_record(r, w, schema, use_predictions=use_predictions),
    }
    for number, record in _records(path, fmt, text):
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            raise ValueError(Errors.E622.format(path=where, fmt=fmt, reason="a record is not a JSON object"))
        try:
            yield readers[fmt](record, where)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ValueError(Errors.E622.format(path=where, fmt=fmt, reason=f"{type(err).__name__}: {err}")) from None


def _records(path: Path, fmt: str, text: str) -> Iterator[Tuple[int, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(Errors.E622.format(path=path, fmt=fmt, reason=str(err))) from None
        yield from enumerate(data, start=1)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(Errors.E622.format(path=f"{path}:{number}", fmt=fmt, reason=str(err))) from None


def import_reviewed(
    path: Path,
    fmt: str,
    nlp: Language,
    schema: ReviewSchema,
    *,
    alignment: str = "strict",
    use_predictions: bool = False,
) -> Tuple[List[Doc], ImportReport]:
    """Gold docs from the accepted records of an export, and a report of everything read.

    nlp (Language): The pipeline whose tokenizer makes the docs.
    schema (ReviewSchema): The pipeline's layers (where spans go, known labels).
    alignment (str): Spans that do not fall on token boundaries: "strict" skips them,
        "contract" keeps the tokens inside, "expand" the tokens they touch; each gets [W620].
    RETURNS (Tuple[List[Doc], ImportReport]): The docs, in file order, and the report.
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(Errors.E623.format(value=alignment))
    if not Doc.has_extension(META_ATTR):
        Doc.set_extension(META_ATTR, default=None)
    report = ImportReport()
    docs = []
    for reviewed in read_reviewed(path, fmt, schema, use_predictions=use_predictions):
        report.records += 1
        report.statuses[reviewed.status] += 1
        if reviewed.status != ACCEPTED:
            continue
        docs.append(reviewed_doc(nlp, reviewed, schema, alignment, report))
    report.docs = len(docs)
    for what, labels in sorted(report.unknown.items()):
        known = _known(schema, what)
        report.warn(Warnings.W622.format(n=len(labels), what=what, labels=sorted(labels), known=known))
    return docs, report


def _known(schema: ReviewSchema, what: str) -> List[str]:
    if what == "category":
        return [label for c in schema.categories for label in c.labels]
    if what == "relation":
        return list(schema.relation_labels)
    return list(schema.span_target(what).labels)


def reviewed_doc(nlp: Language, reviewed: Reviewed, schema: ReviewSchema, alignment: str, report: ImportReport) -> Doc:
    """One accepted record as a gold doc (see the module's docstring), with the sentence
    boundaries of the pipeline's sentencizer, senter or parser when it has one."""
    doc = nlp.make_doc(reviewed.text)
    for _, pipe in nlp.pipeline:
        if type(pipe).__name__ in SEGMENTERS:
            doc = pipe(doc)
    doc._.set(META_ATTR, reviewed.meta)
    if reviewed.categories is not None and schema.categories:
        known = [label for c in schema.categories for label in c.labels]
        cats = dict.fromkeys(known, 0.0)
        for label in reviewed.categories:
            if label not in cats:
                report.unknown_label("category", label)
            cats[label] = 1.0
        doc.cats = cats
    placed: Dict[int, Optional[Span]] = {}
    by_target: Dict[str, List[Tuple[int, Span]]] = {target.source: [] for target in schema.spans}
    for i, item in enumerate(reviewed.spans):
        target = schema.span_target(item.source)
        span = _aligned(doc, item, alignment, reviewed.where, report)
        placed[i] = span
        if span is None:
            report.dropped_spans += 1
            continue
        if target.labels and item.label is not None and item.label not in target.labels:
            report.unknown_label(target.source, item.label)
        by_target.setdefault(target.source, []).append((i, span))
    for source, indexed in by_target.items():
        spans = [span for _, span in indexed]
        if source == ENTS:
            kept = filter_spans(spans)
            if len(kept) < len(spans):
                report.warn(
                    Warnings.W621.format(
                        where=reviewed.where, spans=[(s.start_char, s.end_char, s.label_) for s in spans],
                        kept=[(s.start_char, s.end_char, s.label_) for s in kept],
                    )
                )
                keep = {id(s) for s in kept}
                for i, span in indexed:
                    if id(span) not in keep:
                        placed[i] = None
                        report.dropped_spans += 1
            doc.ents = sorted(kept, key=lambda s: (s.start, s.end))
        else:
            key = source.split(":", 1)[1]
            doc.spans[key] = SpanGroup(doc, name=key, spans=spans)
    if schema.relation_labels or reviewed.relations:
        attr = schema.relations_attr or "relations"
        ensure_extension(attr)
        doc._.set(attr, _relations(reviewed, placed, schema, report))
    return doc


def _aligned(doc: Doc, item: ReviewedSpan, alignment: str, where: str, report: ImportReport) -> Optional[Span]:
    label = item.label or ""
    kb_id = item.kb_id or ""
    if not (0 <= item.start <= item.end <= len(doc.text)):
        report.warn(Warnings.W624.format(where=where, start=item.start, end=item.end, length=len(doc.text)))
        return None
    span = doc.char_span(item.start, item.end, label=label, kb_id=kb_id)
    if span is not None and len(span):
        return span
    snapped = None if alignment == "strict" else doc.char_span(item.start, item.end, label=label, kb_id=kb_id, alignment_mode=alignment)
    if snapped is not None and len(snapped):
        action = f"{alignment}ed to [{snapped.start_char}, {snapped.end_char}) {snapped.text!r}"
        report.snapped += 1
    else:
        snapped = None
        action = "skipped" if alignment == "strict" else f"skipped (no token lies inside it to {alignment} to)"
    report.warn(
        Warnings.W620.format(
            where=where, start=item.start, end=item.end, text=doc.text[item.start : item.end], label=label, action=action
        )
    )
    return snapped


def _relations(reviewed: Reviewed, placed: Dict[int, Optional[Span]], schema: ReviewSchema, report: ImportReport) -> List[Dict[str, Any]]:
    relations: List[Dict[str, Any]] = []
    for head, tail, label in reviewed.relations:
        reason = None
        if label is None:
            reason = "it has no label"
        elif placed.get(head) is None or placed.get(tail) is None:
            reason = "one of its spans was not imported"
        if reason is not None:
            report.warn(Warnings.W623.format(where=reviewed.where, head=head, tail=tail, label=label, reason=reason))
            continue
        if schema.relation_labels and label not in schema.relation_labels:
            report.unknown_label("relation", str(label))
        h, t = placed[head], placed[tail]
        assert h is not None and t is not None
        relations.append({"head": [h.start, h.end], "tail": [t.start, t.end], "label": label})
    return relations
