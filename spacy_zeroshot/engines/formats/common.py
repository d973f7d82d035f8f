"""Helpers shared by the formats: which spans and categories a review record shows."""

from typing import Any, Dict, List, Optional, Tuple

from .schema import ENTS, ReviewSchema


def shown_spans(record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The record's spans (all of them: relation ends too, so relation indices stay valid)."""
    return list(record.get("spans") or [])


def decided_categories(record: Dict[str, Any], schema: ReviewSchema) -> List[Tuple[str, List[str]]]:
    """(component, decided labels) per category set of the schema."""
    cats = record.get("cats") or {}
    return [(c.component, c.decided(cats)) for c in schema.categories]


def control_name(source: Optional[str]) -> str:
    """The tool-side name of a span target: "ents", or "spans_<key>"."""
    if source is None or source in (ENTS, "relations"):
        return ENTS
    return "spans_" + source.split(":", 1)[1] if source.startswith("spans:") else source


def source_of(control: Optional[str]) -> Optional[str]:
    """Inverse of `control_name`; None for a name that is neither (the first span target)."""
    if control == ENTS:
        return ENTS
    if control and control.startswith("spans_"):
        return "spans:" + control[len("spans_") :]
    return None


def utf16_to_codepoints(text: str, start: int, end: int) -> Optional[Tuple[int, int]]:
    """Offsets counted in UTF-16 code units (JavaScript string indices) as Python indices;
    None when they do not fall on character boundaries or past the text."""
    position = 0
    found: Dict[int, int] = {}
    for i, char in enumerate(text):
        found[position] = i
        position += 2 if ord(char) > 0xFFFF else 1
    found[position] = len(text)
    if start in found and end in found:
        return found[start], found[end]
    return None


def fix_offsets(text: str, start: int, end: int, shown: Optional[str]) -> Tuple[int, int]:
    """The tool's offsets, or their UTF-16 reading when only that matches the span text the
    tool showed (older web front ends counted surrogate pairs as two characters)."""
    if shown is None or text[start:end] == shown:
        return start, end
    converted = utf16_to_codepoints(text, start, end)
    if converted is not None and text[converted[0] : converted[1]] == shown:
        return converted
    return start, end
