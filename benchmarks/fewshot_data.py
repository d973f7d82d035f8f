"""Data for the few-shot benchmarks: readers, fixed splits, stratified draws, DocBins.

The sets live in ../shared/data (research licences): they are read by path and never
copied into the project. Each text task gets a fixed test split (`SPLIT_SEED`), a small
dev split for `spacy train` (never tested on), and a pool that the N-per-label draws come
from; the three never share a row (a text repeated in the data is kept in one of them only).

The shared data holds evaluation splits only, so "training data" is the part of a set that
is not tested on: AG News and SST-5 draw from their test files minus the held-out test
split; Emotion draws from its validation file and tests on its test file.
"""

import csv
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import DocBin

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402, F401  (the scripts' default --data)

SPLIT_SEED = 12345  # the test/dev/pool split; the draws use the run's seeds

Row = Tuple[str, str]  # (text, label)


@dataclass
class TextTask:
    """One text classification set, its label wording and its split.

    labels: label -> the words the hypothesis uses for it (the keys are `doc.cats` keys).
    template: the hypothesis template, with one `{}`.
    pool, dev, tune, test: disjoint (text, label) rows: draws come from `pool`, `dev` is
        spaCy's dev corpus while training, `tune` is for choosing settings (never `test`).
    """

    name: str
    labels: Dict[str, str]
    template: str
    pool: List[Row] = field(default_factory=list)
    dev: List[Row] = field(default_factory=list)
    tune: List[Row] = field(default_factory=list)
    test: List[Row] = field(default_factory=list)


AG_LABELS = {"World": "world", "Sports": "sports", "Business": "business", "Sci/Tech": "science and technology"}
AG_IDS = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
EMOTION_LABELS = {name: name for name in ("sadness", "joy", "love", "anger", "fear", "surprise")}
SST5_LABELS = {"very negative": "very negative", "negative": "negative", "neutral": "neutral",
               "positive": "positive", "very positive": "very positive"}
SST5_IDS = dict(zip("01234", SST5_LABELS))
TREC_IDS = {"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"}
TREC_LABELS = {"DESC": "a description", "ENTY": "an entity", "ABBR": "an abbreviation",
               "HUM": "a person", "LOC": "a location", "NUM": "a number"}
TEMPLATES = {
    "ag_news": "This example is about {}.",
    "emotion": "This person feels {}.",
    "sst5": "This review is {}.",
    "trec": "This question asks for {}.",
}
TEXT_TASKS = ("ag_news", "emotion", "sst5")


def read_ag_news(data: Path) -> List[Row]:
    with (data / "ag_news" / "test.csv").open(encoding="utf8", newline="") as file:
        rows = [(f"{r[1]}. {r[2]}".replace("\\", " "), AG_IDS[r[0]]) for r in csv.reader(file)]
    return [(" ".join(text.split()), label) for text, label in rows]


def read_emotion(data: Path, part: str) -> List[Row]:
    lines = (data / "emotion" / f"{part}.txt").read_text(encoding="utf8").splitlines()[1:]
    return [(text, label) for text, _, label in (line.rpartition(";") for line in lines if line.strip())]


def read_labelled_lines(path: Path, ids: Dict[str, str]) -> List[Row]:
    """`<label id> <text>` per line (SST-5, TREC)."""
    rows = []
    for line in path.read_text(encoding="utf8").splitlines():
        if line.strip():
            label, _, text = line.partition(" ")
            rows.append((text.strip(), ids[label]))
    return rows


def read_sick(data: Path) -> List[Tuple[str, str, str]]:
    """(premise, hypothesis, gold class name in lower case) from the SICK test set."""
    rows = []
    for line in (data / "sick" / "SICK_test_annotated.txt").read_text(encoding="utf8").splitlines():
        cols = line.split("\t")
        if len(cols) == 5 and cols[4] in ("ENTAILMENT", "NEUTRAL", "CONTRADICTION"):
            rows.append((cols[1], cols[2], cols[4].lower()))
    return rows


def unique(rows: Sequence[Row]) -> List[Row]:
    """Rows with distinct texts (the first of each), so no text is both drawn and tested."""
    seen: Dict[str, None] = {}
    kept = []
    for text, label in rows:
        if text not in seen:
            seen[text] = None
            kept.append((text, label))
    return kept


def draw(rows: Sequence[Row], per_label: int, labels: Sequence[str], rng: random.Random) -> List[Row]:
    """`per_label` rows of every label, in a random order (fewer where a label has fewer)."""
    chosen: List[Row] = []
    for label in labels:
        of_label = [row for row in rows if row[1] == label]
        chosen.extend(rng.sample(of_label, min(per_label, len(of_label))))
    rng.shuffle(chosen)
    return chosen


def draw_shots(task: TextTask, shots: int, seed: int) -> List[Row]:
    """The training draw of one run: `shots` rows per label from `task.pool`, seeded by the
    run's seed, the set and N, so every benchmark (fewshot_table.py, fewshot_peers.py) trains
    its methods on the very same rows."""
    return draw(task.pool, shots, list(task.labels), random.Random(f"{seed}-{task.name}-{shots}"))


def remove(rows: Sequence[Row], taken: Sequence[Row]) -> List[Row]:
    texts = {text for text, _ in taken}
    return [row for row in rows if row[0] not in texts]


def split(
    name: str, rows: Sequence[Row], test_rows: Optional[Sequence[Row]], labels: Dict[str, str],
    test_size: int, dev_per_label: int, tune_size: int,
) -> TextTask:
    """Test: `test_size` rows at random (the set's own label distribution) from `test_rows`,
    or from `rows` when the set has no separate test file; dev: `dev_per_label` per label
    from the rest; tune: `tune_size` rows at random from the rest; pool: what is left. The
    split does not depend on the sizes asked for the other parts, except through removal."""
    rows = unique(rows)
    source = unique(test_rows) if test_rows is not None else rows
    test = random.Random(f"{SPLIT_SEED}-{name}-test").sample(source, min(test_size, len(source)))
    rest = remove(rows, test)
    dev = draw(rest, dev_per_label, list(labels), random.Random(f"{SPLIT_SEED}-{name}-dev"))
    rest = remove(rest, dev)
    tune = random.Random(f"{SPLIT_SEED}-{name}-tune").sample(rest, min(tune_size, len(rest)))
    return TextTask(name, labels, TEMPLATES[name], pool=remove(rest, tune), dev=dev, tune=tune, test=test)


def load_text_task(name: str, data: Path, test_size: int, dev_per_label: int, tune_size: int = 0) -> TextTask:
    """One of `TEXT_TASKS` (or "trec", a probe: test rows only)."""
    sizes = (test_size, dev_per_label, tune_size)
    if name == "ag_news":
        return split(name, read_ag_news(data), None, AG_LABELS, *sizes)
    if name == "emotion":
        return split(name, read_emotion(data, "validation"), read_emotion(data, "test"), EMOTION_LABELS, *sizes)
    if name == "sst5":
        return split(name, read_labelled_lines(data / "sst5" / "stsa.fine.test", SST5_IDS), None, SST5_LABELS, *sizes)
    if name == "trec":
        rows = read_labelled_lines(data / "trec" / "TREC.test.all", TREC_IDS)
        return split(name, [], rows, TREC_LABELS, test_size, 0, 0)
    raise ValueError(f"unknown data set {name!r}; choose from {(*TEXT_TASKS, 'trec')}")


def sample_sick(data: Path, n: int) -> List[Tuple[str, str, str]]:
    rows = read_sick(data)
    return random.Random(SPLIT_SEED).sample(rows, min(n, len(rows)))


def write_textcat_docbin(nlp: Language, rows: Sequence[Row], labels: Sequence[str], path: Path) -> Path:
    """Docs with exclusive gold `cats` (1.0 for the row's label, 0.0 for the others)."""
    docbin = DocBin()
    for text, label in rows:
        doc = nlp.make_doc(text)
        doc.cats = {name: float(name == label) for name in labels}
        docbin.add(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    docbin.to_disk(path)
    return path


def read_jsonl(path: Path) -> List[dict]:
    with path.open(encoding="utf8") as file:
        return [json.loads(line) for line in file if line.strip()]
