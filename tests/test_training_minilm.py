"""Slow: few-shot fine-tuning on a real NLI model and real data beats zero-shot (AG News).

Reads ../shared/models/minilm-nli and ../shared/data/ag_news by path (research licences, never
copied); skips when either is absent. Trains through spaCy's own training loop with
configs/fewshot_textcat.cfg, 8 examples per label, and tests on 200 held-out texts.
"""

import csv
import random
from pathlib import Path
from typing import List, Tuple

import pytest
import spacy
from shared_paths import SHARED_DATA
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_loop
from spacy.util import load_config

ROOT = Path(__file__).resolve().parents[1]
AG_NEWS = SHARED_DATA / "ag_news" / "test.csv"
LABELS = ["world", "sports", "business", "science and technology"]


def read_ag_news() -> List[Tuple[str, str]]:
    with AG_NEWS.open(encoding="utf8", newline="") as f:
        return [(f"{title}. {body}".replace("\\", " "), LABELS[int(c) - 1]) for c, title, body in csv.reader(f)]


def write(path: Path, rows: List[Tuple[str, str]]) -> Path:
    nlp = spacy.blank("en")
    db = DocBin()
    for text, gold in rows:
        doc = nlp.make_doc(text)
        doc.cats = {label: float(label == gold) for label in LABELS}
        db.add(doc)
    db.to_disk(path)
    return path


def accuracy(nlp: spacy.language.Language, rows: List[Tuple[str, str]]) -> float:
    docs = nlp.pipe([text for text, _ in rows], batch_size=64)
    return sum(max(doc.cats, key=doc.cats.__getitem__) == gold for doc, (_, gold) in zip(docs, rows)) / len(rows)


@pytest.mark.slow
def test_eight_shot_beats_zero_shot_on_ag_news(shared_minilm: str, tmp_path: Path) -> None:
    if not AG_NEWS.exists():
        pytest.skip("../shared/data/ag_news is not available")
    rows = read_ag_news()
    test, pool = rows[:200], rows[2000:]
    random.Random(0).shuffle(pool)
    train = [row for label in LABELS for row in [r for r in pool if r[1] == label][:8]]
    dev = [row for label in LABELS for row in [r for r in pool if r[1] == label][8:16]]
    overrides = {
        "paths.train": str(write(tmp_path / "train.spacy", train)),
        "paths.dev": str(write(tmp_path / "dev.spacy", dev)),
        "components.zeroshot_nli.model": shared_minilm,
        "components.zeroshot_nli.device": "cpu",
    }
    config = load_config(ROOT / "configs" / "fewshot_textcat.cfg", overrides=overrides, interpolate=False)
    nlp = init_nlp(config)
    zero_shot = accuracy(nlp, test)
    (tmp_path / "out").mkdir()
    train_loop(nlp, tmp_path / "out")
    tuned = accuracy(spacy.load(tmp_path / "out" / "model-best"), test)
    assert tuned > zero_shot, (zero_shot, tuned)
