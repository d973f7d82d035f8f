"""Batch shapes on long premises (400-500 tokens): float32 and bfloat16 at several token budgets.

Each variant is a `zeroshot_textcat` pipeline on the benchmark's random DeBERTa-v3-base; every
chunk of 2 docs (x 8 labels) goes through every variant in turn (a round robin, so that all
variants see the same moments of a drifting machine), and pairs/s are printed beside the
float32 default's. It chose the bfloat16 attention-cell budget (`devices.CPU_BF16_BATCH_CELLS`).

    python benchmarks/long_batching.py --docs 8 --work-dir /tmp/spacy-zeroshot-bench
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = {
    "float32, default batches (2048 tokens)": ("float32", {}),
    "float32, 4096 tokens": ("float32", {"batch_tokens": 4096}),
    "float32, 1024 tokens": ("float32", {"batch_tokens": 1024}),
    "float32, optimize false": ("float32", {"optimize": False}),
    "bfloat16, default batches (64 pairs, 8192 tokens, attention-cell budget)": ("bfloat16", {}),
    "bfloat16, 8192 tokens (no cell budget)": ("bfloat16", {"batch_tokens": 8192}),
    "bfloat16, 4096 tokens": ("bfloat16", {"batch_tokens": 4096}),
    "bfloat16, 2048 tokens": ("bfloat16", {"batch_tokens": 2048}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=8, help="long premises (x 8 labels)")
    parser.add_argument("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where the random model is built")
    args = parser.parse_args()
    from transformers import AutoTokenizer
    from zeroshot_bench.models import build_random_deberta
    from zeroshot_bench.runners import ours_run, round_robin
    from zeroshot_bench.workloads import LABELS, load_long_texts

    model = str(build_random_deberta(Path(args.work_dir) / "deberta-v3-base-random"))
    texts, source = load_long_texts(args.docs, AutoTokenizer.from_pretrained(model))
    runs = {name: ours_run(model, texts, LABELS, "cpu", dtype, **nli) for name, (dtype, nli) in VARIANTS.items()}
    timed = round_robin(runs, texts, 2)
    pairs = len(texts) * len(LABELS)
    base = timed[next(iter(VARIANTS))][0]
    print(f"{args.docs} long premises x {len(LABELS)} labels ({source}); round robin in chunks of 2 docs\n")
    print("| variant | pairs/s | x float32 default |\n|---|---|---|")
    for name, (seconds, _) in timed.items():
        print(f"| {name} | {pairs / seconds:.2f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
