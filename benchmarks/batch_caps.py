"""Pairs per forward pass, measured on the workload at hand: one `nlp.pipe` call of N docs
x 8 labels through `zeroshot_textcat`, with batches of up to P pairs (and 128 x P tokens),
for several P side by side.

Every variant is its own pipeline over the benchmark's random DeBERTa-v3-base (loaded and
warmed up once); each round times every (docs, P) cell once, the variants of a size back to
back, each round starting with the next variant in turn. It prints, per call size, each P's
median pairs/s over the rounds with the range, and its median ratio to the first P (paired
by round). Time on a quiet machine only (`uptime` < 0.5, nothing else running): the load
average is printed before and after.

    python benchmarks/batch_caps.py --pairs 16,32,64 --docs 16,64 --rounds 5
    python benchmarks/batch_caps.py --long --pairs 16,32 --docs 4 --rounds 5             # 400-500-token premises
    python benchmarks/batch_caps.py --dtype bfloat16 --pairs 16,64 --docs 16,32,64   # on a CPU with AMX/AVX512-BF16
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="16,32,64", help="pair caps P to compare, the first the reference")
    parser.add_argument("--docs", default="16,64", help="docs per nlp.pipe call (x --labels pairs)")
    parser.add_argument("--labels", type=int, default=8, help="labels per doc (default 8)")
    parser.add_argument("--long", action="store_true", help="premises of 400-500 tokens (AG News texts joined)")
    parser.add_argument("--dtype", default="float32", help="zeroshot_nli dtype (default float32)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where the random model is built")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from transformers import AutoTokenizer
    from zeroshot_bench.models import build_random_deberta
    from zeroshot_bench.peaks import load_average
    from zeroshot_bench.runners import ours_run
    from zeroshot_bench.workloads import LABELS, load_long_texts, load_texts

    caps = [int(p) for p in args.pairs.split(",")]
    sizes = [int(n) for n in args.docs.split(",")]
    model = str(build_random_deberta(Path(args.work_dir) / "deberta-v3-base-random"))
    texts, source = (load_long_texts if args.long else load_texts)(max(sizes), AutoTokenizer.from_pretrained(model))
    labels = LABELS[: args.labels]
    runs = {
        cap: ours_run(model, texts, labels, "cpu", args.dtype, max_batch_pairs=cap, batch_tokens=128 * cap)
        for cap in caps
    }
    print(f"{source}; {args.dtype}; load average before: {load_average()}", flush=True)
    seconds: Dict[Tuple[int, int], List[float]] = {(n, cap): [] for n in sizes for cap in caps}
    for round_index in range(args.rounds):
        for n in sizes:
            order = caps[round_index % len(caps) :] + caps[: round_index % len(caps)]
            for cap in order:
                start = time.perf_counter()
                runs[cap](texts[:n])
                seconds[(n, cap)].append(time.perf_counter() - start)
        print(f"round {round_index + 1} done (load {load_average()})", flush=True)
    print(f"load average after: {load_average()}\n")
    print("| docs x labels = pairs | pairs per batch | pairs/s, median [range] | x the first, median [range] |")
    print("|---|---|---|---|")
    for n in sizes:
        pairs = n * args.labels
        reference = seconds[(n, caps[0])]
        for cap in caps:
            rates = [pairs / s for s in seconds[(n, cap)]]
            ratios = [r / s for r, s in zip(reference, seconds[(n, cap)])]
            print(
                f"| {n} x {args.labels} = {pairs} | {cap} | {statistics.median(rates):.2f} [{min(rates):.2f}-{max(rates):.2f}]"
                f" | {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] |"
            )
    print(f"\n{args.rounds} rounds; batches of up to P pairs and 128 x P tokens")


if __name__ == "__main__":
    main()
