"""Per-text candidate labels in `ZeroShotClassifier`: one pooled call against text by text.

Each of the first N AG News test texts gets its own candidate labels: its gold topic and K
distractors drawn (seeded) from a pool of topics. The same texts and label sets are classified
  loop   - `classifier(text, labels)` once per text, as transformers' pipeline would need,
  pooled - `classifier(texts, label_sets)`: every (text, label) pair in one backend call,
side by side in one run, and the script prints seconds, pairs/s, the largest score difference
between the two, and the accuracy of the top label against the gold topic.

    python benchmarks/per_text_labels.py --n 500 --model ../shared/models/minilm-nli

The data and the model are read by path (research licences: never copied into the project);
the script exits cleanly when the data is absent.
"""

import argparse
import csv
import random
import sys
import time
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED  # noqa: E402

GOLD = {"1": "world politics", "2": "sports", "3": "business", "4": "science and technology"}
DISTRACTORS = ["cooking", "music", "health", "travel", "fashion", "weather", "movies", "education"]


def read_examples(path: Path, n: int) -> List[Tuple[str, str]]:
    examples = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.reader(f):
            if len(examples) >= n:
                break
            examples.append((f"{row[1]}. {row[2]}".replace("\\", " "), GOLD[row[0]]))
    return examples


def label_sets(examples: List[Tuple[str, str]], k: int, seed: int) -> List[List[str]]:
    rng = random.Random(seed)
    pool = sorted(set(GOLD.values()) | set(DISTRACTORS))
    sets = []
    for _, gold in examples:
        labels = [gold] + rng.sample([label for label in pool if label != gold], k)
        rng.shuffle(labels)
        sets.append(labels)
    return sets


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--k", type=int, default=3, help="distractor labels per text")
    parser.add_argument("--model", default=str(SHARED / "models" / "minilm-nli"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=str(SHARED / "data" / "ag_news" / "test.csv"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(args.data).exists():
        print(f"AG News not found at {args.data}: skipped.")
        return 0
    from spacy_zeroshot import ZeroShotClassifier

    examples = read_examples(Path(args.data), args.n)
    texts = [text for text, _ in examples]
    sets = label_sets(examples, args.k, args.seed)
    pairs = sum(len(labels) for labels in sets)
    classifier = ZeroShotClassifier(args.model, device=args.device)
    classifier(texts[0], sets[0])  # load and warm up

    start = time.perf_counter()
    alone = [classifier(text, labels) for text, labels in zip(texts, sets)]
    loop_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pooled = classifier(texts, sets)
    pooled_seconds = time.perf_counter() - start

    diff = max(
        abs(dict(zip(a["labels"], a["scores"]))[label] - score)
        for a, p in zip(alone, pooled)
        for label, score in zip(p["labels"], p["scores"])
    )
    accuracy = sum(p["labels"][0] == gold for p, (_, gold) in zip(pooled, examples)) / len(examples)
    print(f"{len(texts)} AG News texts, {args.k + 1} candidate labels each (gold + {args.k} distractors), {pairs} pairs")
    print(f"{'method':<8} {'seconds':>8} {'pairs/s':>8}")
    print(f"{'loop':<8} {loop_seconds:>8.2f} {pairs / loop_seconds:>8.1f}")
    print(f"{'pooled':<8} {pooled_seconds:>8.2f} {pairs / pooled_seconds:>8.1f}")
    print(f"speed-up pooled / loop: {loop_seconds / pooled_seconds:.2f}x")
    print(f"max |score pooled - score alone|: {diff:.2e}")
    print(f"top-label accuracy (pooled): {accuracy:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
