"""HTML rendering of a doc's entities and relations, for notebooks and review.

The output is a self-contained SVG inside a `<div>`: the doc's tokens on one line, entity
mentions boxed with their label, and one arc per relation from head to tail (arrow at the
tail) labelled with the relation and its score. It is well-formed XML, so it can be
embedded in XHTML or post-processed. In a notebook: `IPython.display.HTML(render_relations(doc))`.
"""

import zlib
from html import escape
from typing import Dict, Iterable, List, Optional, Tuple, Union

from spacy.tokens import Doc, Span

from .tasks.relations import relation_spans

CHAR_WIDTH = 8.5
TOKEN_GAP = 8
LEVEL_HEIGHT = 36
MARGIN = 20
TEXT_SIZE = 15
PALETTE = ("#7aecec", "#bfeeb7", "#feca74", "#ff9561", "#aa9cfc", "#c887fb", "#9cc9cc", "#ffeb80", "#e4e7d2", "#ddd")


def _color(label: str) -> str:
    return PALETTE[zlib.crc32(label.encode("utf8")) % len(PALETTE)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _levels(intervals: List[Tuple[float, float]]) -> List[int]:
    """Stack arcs: each arc sits one level above the highest shorter arc it overlaps."""
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][1] - intervals[i][0], intervals[i][0]))
    levels = [0] * len(intervals)
    placed: List[int] = []
    for i in order:
        lo, hi = intervals[i]
        below = [levels[j] for j in placed if intervals[j][0] <= hi and lo <= intervals[j][1]]
        levels[i] = 1 + max(below, default=0)
        placed.append(i)
    return levels


def _render_doc(doc: Doc, extension: str, spans_key: Optional[str], min_score: float) -> str:
    starts: List[float] = []
    ends: List[float] = []
    x = float(MARGIN)
    for token in doc:
        starts.append(x)
        x += max(1, len(token.text)) * CHAR_WIDTH
        ends.append(x)
        x += TOKEN_GAP if token.whitespace_ else 2
    width = x + MARGIN
    mentions: List[Span] = list(doc.ents) if spans_key is None else list(doc.spans[spans_key]) if spans_key in doc.spans else []
    relations = [rel for rel in relation_spans(doc, extension) if rel.score >= min_score]

    def center(span: Span) -> float:
        return (starts[span.start] + ends[span.end - 1]) / 2 if len(span) else MARGIN

    arcs = []
    for rel in relations:
        # Opposite directions between the same mentions start and end at different points.
        x1, x2 = center(rel.head), center(rel.tail)
        shift = 4 if x1 < x2 else -4
        arcs.append((x1 + shift, x2 - shift, rel))
    levels = _levels([(min(a, b), max(a, b)) for a, b, _ in arcs])
    top = MARGIN + LEVEL_HEIGHT * max(levels, default=0) + (12 if arcs else 0)
    baseline = top + TEXT_SIZE + 6
    height = baseline + 30
    parts: List[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spacy-zeroshot-relations-svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'style="font-family: sans-serif; font-size: {TEXT_SIZE}px">',
        "<defs>",
        '<marker id="zs-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker>',
        "</defs>",
    ]
    for span in mentions:
        if not len(span):
            continue
        x0, x1 = starts[span.start] - 3, ends[span.end - 1] + 3
        parts.append(
            f'<g class="entity"><rect x="{x0:.1f}" y="{top - 2:.1f}" width="{x1 - x0:.1f}" height="{TEXT_SIZE + 12}" '
            f'rx="4" fill="{_color(span.label_)}"/>'
            f'<text x="{(x0 + x1) / 2:.1f}" y="{baseline + 18:.1f}" text-anchor="middle" font-size="10" '
            f'font-weight="bold">{escape(span.label_)}</text></g>'
        )
    for token, x0 in zip(doc, starts):
        parts.append(f'<text class="token" x="{x0:.1f}" y="{baseline:.1f}">{escape(token.text)}</text>')
    for (x1, x2, rel), level in zip(arcs, levels):
        lift = level * LEVEL_HEIGHT
        y = top - 4
        caption = f"{rel.label} {rel.score:.2f}"
        title = f"{rel.head.text} -> {rel.tail.text}: {rel.label} ({rel.score:.3f})"
        mid = (x1 + x2) / 2
        box = len(caption) * 6.2 + 8
        parts.append(
            f'<g class="relation" data-label="{_attr(rel.label)}" data-score="{rel.score:.4f}">'
            f"<title>{escape(title)}</title>"
            f'<path d="M {x1:.1f} {y:.1f} C {x1:.1f} {y - lift:.1f} {x2:.1f} {y - lift:.1f} {x2:.1f} {y:.1f}" '
            f'fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#zs-arrow)"/>'
            f'<rect x="{mid - box / 2:.1f}" y="{y - 0.75 * lift - 9:.1f}" width="{box:.1f}" height="14" fill="white" '
            f'opacity="0.85"/>'
            f'<text x="{mid:.1f}" y="{y - 0.75 * lift + 2:.1f}" text-anchor="middle" font-size="11">'
            f"{escape(caption)}</text></g>"
        )
    parts.append("</svg>")
    return '<div class="spacy-zeroshot-relations" style="overflow-x: auto; margin: 1em 0">' + "".join(parts) + "</div>"


def render_relations(
    docs: Union[Doc, Iterable[Doc]],
    *,
    extension: str = "relations",
    spans_key: Optional[str] = None,
    min_score: float = 0.0,
    page: bool = False,
    title: str = "spacy-zeroshot relations",
) -> str:
    """Render entities and relations of one or more docs as HTML with labelled arcs.

    docs (Union[Doc, Iterable[Doc]]): Docs annotated by 'zeroshot_relation_extractor'.
    extension (str): The `doc._` attribute holding the relations.
    spans_key (Optional[str]): Draw `doc.spans[spans_key]` instead of `doc.ents`.
    min_score (float): Leave out relations scoring below this.
    page (bool): Return a full HTML page instead of a fragment.
    title (str): The page title, with `page=True`.
    RETURNS (str): The HTML markup.
    """
    doc_list = [docs] if isinstance(docs, Doc) else list(docs)
    body = "".join(_render_doc(doc, extension, spans_key, min_score) for doc in doc_list)
    if not page:
        return body
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def relation_table(doc: Doc, extension: str = "relations") -> List[Dict[str, object]]:
    """The doc's relations as rows (head text, label, tail text, score), for quick review."""
    return [
        {"head": rel.head.text, "label": rel.label, "tail": rel.tail.text, "score": rel.score}
        for rel in relation_spans(doc, extension)
    ]
