"""AG News for the annotation and serving benchmarks: its texts (read by path, never copied)
and a 4-label zero-shot textcat pipeline over them."""

import csv
from pathlib import Path
from typing import List

LABELS = ["world", "sports", "business", "science and technology"]


def read_texts(path: Path, n: int) -> List[str]:
    """The first `n` texts of an AG News CSV (class, title, description) as "title. description"."""
    texts = []
    with path.open(encoding="utf8", newline="") as f:
        for row in csv.reader(f):
            if len(texts) >= n:
                break
            texts.append(f"{row[1]}. {row[2]}".replace("\\", " "))
    return texts


def build_pipeline(model: str, device: str, path: Path) -> None:
    """zeroshot_nli on `model` + zeroshot_textcat over `LABELS`, saved to `path`."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, "hypothesis_template": "This example is about {}."})
    nlp.initialize()
    nlp.to_disk(path)
