"""Where one forward pass spends its time: torch profiler over `NLIBackend.score` of 64 short pairs.

Prints the top operators by self CPU time and the share of matrix products (Linear layers,
attention products) against everything else (the disentangled attention's gathers,
softmax, layer norms, casts), which bounds how close a CPU path can get to the matmul peak.
The model is `bench_zeroshot.py`'s random DeBERTa-v3-base (speed does not depend on the
weights); texts are AG News when ../shared is there, else generated. Time on a quiet
machine only; the load average is printed.

    python benchmarks/profile_forward.py --dtype bfloat16 --pairs 64
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# aten operators that are matrix products (what the bfloat16/AMX peak is about).
MATMUL_OPS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", default="bfloat16", help="zeroshot_nli dtype (default bfloat16)")
    parser.add_argument("--pairs", type=int, default=64, help="pairs in the one batch (default 64)")
    parser.add_argument("--top", type=int, default=10, help="operators listed (default 10)")
    parser.add_argument("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where the random model is built")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoTokenizer
    from zeroshot_bench.models import build_random_deberta
    from zeroshot_bench.peaks import load_average
    from zeroshot_bench.workloads import LABELS, TEMPLATE, load_texts

    from spacy_zeroshot.backend import NLIBackend

    model = str(build_random_deberta(Path(args.work_dir) / "deberta-v3-base-random"))
    texts, source = load_texts(max(1, args.pairs // len(LABELS)), AutoTokenizer.from_pretrained(model))
    pairs = [(text, TEMPLATE.format(label)) for text in texts for label in LABELS][: args.pairs]
    backend = NLIBackend(model, device="cpu", dtype=args.dtype, max_batch_pairs=args.pairs, batch_tokens=1 << 20)
    backend.score(pairs)  # warm-up: one-time kernel selection and caches stay out
    print(f"load average before: {load_average()}")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        backend.score(pairs)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS or "mkldnn" in e.key or "onednn" in e.key)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]
    print(f"{len(pairs)} pairs ({source}), dtype {args.dtype}, torch threads {torch.get_num_threads()}")
    print(f"total self CPU time {total / 1000:.1f} ms; matrix products {matmul / total:.0%}, everything else {1 - matmul / total:.0%}\n")
    print("| operator | self CPU ms | share | calls |\n|---|---|---|---|")
    for e in top:
        print(f"| `{e.key}` | {e.self_cpu_time_total / 1000:.1f} | {e.self_cpu_time_total / total:.1%} | {e.count} |")
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
