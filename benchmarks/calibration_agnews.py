"""Dev-calibrated multi-label thresholds on AG News: held-out F1 before and after.

Each AG News text is judged per label independently (`zeroshot_textcat` with `multi_label:
true`: entailment vs contradiction per label, as transformers' multi-label mode); its gold is
its one category. The test file (read by path; research licence, never copied into the
project) is shuffled with a fixed seed and split into a dev part, on which `calibrate`
chooses one threshold per label (and, with `--wording`, the template and label descriptions
among candidates), and a disjoint held-out part, scored with the default threshold 0.5 and
with the calibrated ones. Reported: spaCy's `cats_micro_f`, `cats_macro_f` and per-label F
on the held-out part.

    python benchmarks/calibration_agnews.py --model ../shared/models/minilm-nli --dev 300 --test 600 --wording
"""

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.training import Example

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "ag_news" / "test.csv"
# Class ids 1-4 of AG News, and the label text put in the hypothesis.
LABELS = {"world": "world", "sports": "sports", "business": "business", "sci/tech": "science and technology"}
TEMPLATE = "This example is about {}."
CANDIDATE_TEMPLATES = ["The topic of this text is {}.", "This news story is about {}."]
CANDIDATE_DESCRIPTIONS = {"world": ["world news", "international politics"], "sci/tech": ["technology", "science"]}


def read_rows(path: Path) -> List[Tuple[str, str]]:
    names = list(LABELS)
    with path.open(encoding="utf8", newline="") as file:
        return [(f"{row[1]}. {row[2]}".replace("\\", " "), names[int(row[0]) - 1]) for row in csv.reader(file)]


def build(model: str, device: str) -> Language:
    nlp = spacy.blank("en")
    # A large pair cache: the held-out set is scored again after calibration with the same pairs.
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device, "cache_size": 1_000_000})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, "hypothesis_template": TEMPLATE, "multi_label": True})
    return nlp


def examples(nlp: Language, rows: Sequence[Tuple[str, str]]) -> List[Example]:
    return [Example.from_dict(nlp.make_doc(text), {"cats": {label: float(label == gold) for label in LABELS}}) for text, gold in rows]


def held_out(nlp: Language, test: List[Example]) -> Dict[str, Any]:
    scores = nlp.evaluate(test)
    return {
        "cats_micro_f": scores["cats_micro_f"],
        "cats_macro_f": scores["cats_macro_f"],
        **{f"f {label}": scores["cats_f_per_type"][label]["f"] for label in LABELS},
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="AG News test.csv")
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dev", type=int, default=300, help="texts to calibrate on")
    parser.add_argument("--test", type=int, default=600, help="held-out texts (disjoint from dev)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-examples", type=int, default=10)
    parser.add_argument("--wording", action="store_true", help="also choose the template and descriptions on dev")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"AG News data not found at {args.data}; skipping.")
        return 0
    rows = read_rows(args.data)
    random.Random(args.seed).shuffle(rows)
    nlp = build(args.model, args.device)
    dev = examples(nlp, rows[: args.dev])
    test = examples(nlp, rows[args.dev : args.dev + args.test])
    print(f"model: {args.model}   dev: {len(dev)} texts   held-out: {len(test)} texts (seed {args.seed})")
    start = time.perf_counter()
    columns = [("default 0.5", held_out(nlp, test))]
    scored_seconds = time.perf_counter() - start
    textcat = nlp.get_pipe("zeroshot_textcat")
    start = time.perf_counter()
    report = textcat.calibrate(dev, min_examples=args.min_examples)
    calibration_seconds = time.perf_counter() - start
    columns.append(("calibrated", held_out(nlp, test)))
    print(f"held-out scoring: {scored_seconds:.1f}s   calibration on dev: {calibration_seconds:.1f}s")
    print()
    print(report.table())
    if args.wording:
        wording = textcat.calibrate(
            dev, templates=CANDIDATE_TEMPLATES, descriptions=CANDIDATE_DESCRIPTIONS, min_examples=args.min_examples
        )
        columns.append(("+ wording", held_out(nlp, test)))
        print()
        print(wording.table())
    print()
    print(f"held-out ({len(test)} texts)".ljust(30) + "".join(f"{name:>14}" for name, _ in columns))
    for key in columns[0][1]:
        print(f"  {key:<28}" + "".join(f"{scores[key]:>14.3f}" for _, scores in columns))
    if args.json:
        payload = {"held_out": dict(columns), "report": report.to_dict(), "dev": len(dev), "test": len(test)}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
