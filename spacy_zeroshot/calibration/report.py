"""The calibration report: per label, threshold and dev P/R/F before -> after; the wording chosen."""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence


@dataclass
class CalibrationReport:
    """What calibration chose and what it did on the dev examples.

    component (str): The component's name.
    n_examples (int): Examples with gold annotation for it.
    min_examples (int): Gold positives a label needed for a threshold of its own.
    rows (List[Dict[str, Any]]): Per label {"label", "gold" (gold positives), "threshold":
        [before, after] (None without thresholds), "p", "r", "f": [before, after], "note"}.
    micro (Dict[str, Any]): The same over all labels (micro P/R/F), with the global threshold.
    wording (List[Dict[str, Any]]): Per searched slot {"slot" ("template" or a label),
        "before", "chosen", "candidates": [{"value", "f"} (dev micro F1 with that wording)]}.
    """

    component: str
    n_examples: int
    min_examples: int
    rows: List[Dict[str, Any]] = field(default_factory=list)
    micro: Dict[str, Any] = field(default_factory=dict)
    wording: List[Dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "CalibrationReport":
        return cls(**{key: data[key] for key in ("component", "n_examples", "min_examples", "rows", "micro", "wording")})

    def table(self) -> str:
        """The report as a plain-text table (what `initialize` logs)."""
        lines = [f"Calibration of '{self.component}' on {self.n_examples} example(s) (min_examples={self.min_examples})"]
        header = ["label", "gold", "threshold", "P", "R", "F", "note"]
        body = [_row(row) for row in self.rows]
        if self.micro:
            body.append(_row({"label": "(all, micro)", **self.micro}))
        widths = [max(len(header[i]), *(len(r[i]) for r in body)) for i in range(len(header))]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body)
        for slot in self.wording:
            tried = ", ".join(f"{_short(c['value'])} F {c['f']:.3f}" for c in slot["candidates"])
            lines.append(f"wording {slot['slot']}: {_short(slot['before'])} -> {_short(slot['chosen'])}  (dev: {tried})")
        return "\n".join(lines)


def _pair(values: Optional[Sequence[Optional[float]]]) -> str:
    if values is None or values[0] is None:
        return "-"
    return f"{values[0]:.3f} -> {values[1]:.3f}"


def _row(row: Dict[str, Any]) -> List[str]:
    return [
        str(row["label"]),
        str(row.get("gold", "")),
        _pair(row.get("threshold")),
        _pair(row["p"]),
        _pair(row["r"]),
        _pair(row["f"]),
        str(row.get("note", "")),
    ]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
