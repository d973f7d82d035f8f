"""Parity and speed of spacy-zeroshot against transformers' ZeroShotClassificationPipeline.

Scores the same texts, labels and template with both, in exclusive and multi-label mode, and
prints the largest absolute score difference and each one's time:

    python benchmarks/parity.py --model ../shared/models/minilm-nli --n 100
    python benchmarks/parity.py --model knowledgator/comprehend_it-base --device cuda

Texts are AG News test texts when ../shared/data/ag_news/test.csv is present (read by path,
never copied), else generated sentences. Without --model a tiny random DeBERTa-v2 is built.
"""

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402

AG_NEWS = SHARED_DATA / "ag_news" / "test.csv"
LABELS = ["world", "sports", "business", "science and technology"]
TEMPLATE = "This example is about {}."


def load_texts(n: int) -> List[str]:
    if AG_NEWS.exists():
        with AG_NEWS.open(encoding="utf8", newline="") as f:
            rows = [f"{row[1]}. {row[2]}".replace("\\", " ") for _, row in zip(range(n), csv.reader(f))]
        return rows
    rng = random.Random(0)
    words = "the team won match company shares fell scientists found new species president met leaders".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="hub id or local folder (default: a tiny random DeBERTa-v2)")
    parser.add_argument("--n", type=int, default=50, help="number of texts")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import spacy
    import torch
    from transformers import pipeline

    model = args.model
    if model is None:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from tiny_models import build_deberta

        model = str(build_deberta(Path(tempfile.mkdtemp()) / "deberta"))
    texts = load_texts(args.n)
    hf_device = -1 if args.device == "cpu" else 0
    # float32 on both sides: a pipeline otherwise follows the checkpoint's stored dtype
    # (e.g. float16 for ../shared/models/minilm-nli), which alone moves scores by ~5e-4.
    hf = pipeline("zero-shot-classification", model=model, device=hf_device, torch_dtype=torch.float32)
    print(f"model={model} texts={len(texts)} labels={len(LABELS)} template={TEMPLATE!r}")
    for multi_label in (False, True):
        nlp = spacy.blank("en")
        nlp.add_pipe("zeroshot_nli", config={"model": model, "device": args.device, "dtype": "float32"})
        nlp.add_pipe(
            "zeroshot_textcat",
            config={"labels": LABELS, "hypothesis_template": TEMPLATE, "multi_label": multi_label},
        )
        nlp.initialize()
        start = time.perf_counter()
        docs = list(nlp.pipe(texts, batch_size=64))
        ours = time.perf_counter() - start
        start = time.perf_counter()
        results = [hf(text, LABELS, multi_label=multi_label, hypothesis_template=TEMPLATE) for text in texts]
        theirs = time.perf_counter() - start
        diff = max(
            abs(doc.cats[label] - score)
            for doc, result in zip(docs, results)
            for label, score in zip(result["labels"], result["scores"])
        )
        agree = sum(max(doc.cats, key=doc.cats.get) == r["labels"][0] for doc, r in zip(docs, results))
        mode = "multi-label" if multi_label else "exclusive"
        print(
            f"{mode:12s} max_abs_diff={diff:.2e} top_label_agreement={agree}/{len(texts)} "
            f"spacy-zeroshot={ours:.2f}s transformers-per-doc={theirs:.2f}s speedup={theirs / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
