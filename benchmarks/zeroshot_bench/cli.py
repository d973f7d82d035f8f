"""Benchmark: spacy-zeroshot against transformers' zero-shot pipeline (and ONNX Runtime), in one run.

Runs N docs x L labels through
  (a) transformers' pipeline("zero-shot-classification") called per doc, with defaults,
  (b) the same pipeline over the list of docs with batch_size=32,
  (c) our 'zeroshot_textcat' via nlp.pipe (float32, exact), also with `optimize` off,
  (d) each of our precision/runtime modes (bfloat16, int8 on CPU; float16, bfloat16 on GPU),
  (e) with optimum and onnxruntime installed: the same model exported to ONNX Runtime, float32
      and dynamic int8, as a zero-shot classifier over the same docs and labels,
and prints pairs/s, speed-ups over (a) and (b), useful GFLOP/s as a share of a measured
matmul peak, the process's peak RSS so far, and for every mode the top-label agreement and
score differences against (c). Speed-ups are also measured side by side (round robin: each
chunk of docs through every run in turn), for the short texts, for long premises (400-500
tokens) and for a label sweep (2, 8, 32, 64 labels on the same docs).

Lossy modes are measured again on a model whose logits are spread like a trained one's
(larger `initializer_range`), on ../shared/models/minilm-nli when it is there (a small
trained NLI model; read by path, never copied), and on that model fine-tuned on other AG
News texts (built once in --work-dir; see trained_like.py), whose logits are spread like a
production model's. With --recheck-margin, each lossy mode also runs with `recheck_margin`.

By default the model is a randomly initialised DeBERTa-v3-base (the default model's exact
shape; speed does not depend on weight values), built offline with a WordPiece tokenizer
from ../shared/data/tokenizer/bert-base-uncased-vocab.txt (or a generated vocabulary).
Texts come from ../shared/data/ag_news/test.csv when present, else generated text.

    python benchmarks/bench_zeroshot.py              # the full run (64 docs x 8 labels, ...)
    python benchmarks/bench_zeroshot.py --short      # 12 docs x 8 labels: the quick version
    python benchmarks/bench_zeroshot.py --model knowledgator/comprehend_it-base --device cuda
"""

import argparse
import os
import platform
import time
from pathlib import Path
from typing import List, Optional, Sequence

from .models import build_random_deberta
from .peaks import PeakMeter, peak_rss_mb, useful_flops
from .sections import Bench, agreement, onnx_peers, round_robins, speed, workloads
from .workloads import LABELS, SWEEP_SIZES, TEMPLATE, load_texts

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SECTIONS = ("speed", "round-robin", "workloads", "onnx", "agreement")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--docs", type=int, default=64, help="number of docs (default 64)")
    add("--labels", type=int, default=8, help=f"number of labels, at most {len(LABELS)} (default 8)")
    add("--model", default=None, help="hub id or local path (default: random DeBERTa-v3-base)")
    add("--device", default="cpu", help='"cpu" or "cuda" (default cpu)')
    add("--dtypes", default=None, help="comma-separated lossy modes to run (default per device)")
    add("--spread-init", type=float, default=0.06, help="initializer_range of the spread-logits model (0: skip it)")
    add("--agreement-docs", type=int, default=None, help="docs for the agreement runs (default: the --docs texts)")
    add("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    add("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where random models and exports are built")
    add("--skip-hf", action="store_true", help="skip the transformers pipeline runs")
    add("--skip-agreement", action="store_true", help="skip the agreement runs on other models")
    add("--peak-seconds", type=float, default=1.5, help="time spent on each matmul peak sample")
    add("--interleave-docs", type=int, default=8, help="docs per chunk of the interleaved float32 run (0: skip it)")
    add(
        "--round-robin-docs", type=int, default=8,
        help="docs per chunk of the round-robin runs of (a), (b), (c), then (c) and the first lossy mode (0: skip)",
    )  # fmt: skip
    add("--long-docs", type=int, default=8, help="premises of 400-500 tokens in the long-text workload (0: skip)")
    add("--sweep-docs", type=int, default=16, help="docs of the label sweep (0: skip)")
    add("--sweep-sizes", default=",".join(map(str, SWEEP_SIZES)), help="label counts of the sweep (default 2,8,32,64)")
    add("--workload-chunk-docs", type=int, default=4, help="docs per round-robin chunk of the workloads")
    add("--ort", action=argparse.BooleanOptionalAction, default=True, help="ONNX Runtime rows when optimum is installed")
    add("--ort-batch-pairs", type=int, default=16, help="pairs per ONNX Runtime batch (length-sorted)")
    add("--finetune-docs", type=int, default=400, help="AG News texts for the decisive model (built once, cached; 0: skip it)")
    add("--recheck-margin", type=float, default=0.1, help="recheck_margin of the extra lossy runs (0: skip them)")
    add("--short", action="store_true", help="12 docs (96 pairs with 8 labels), no workloads or peers: the quick version")
    add(
        "--sections", default=",".join(SECTIONS),
        help=f"comma-separated tables to run, in their order (default all: {','.join(SECTIONS)})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.sections = [name for name in str(args.sections).split(",") if name]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.sweep_sizes = [int(size) for size in str(args.sweep_sizes).split(",") if size]
    if args.short:  # the quick version: fewer docs, shorter peak samples, fewer side runs
        args.docs = min(args.docs, 12)
        args.peak_seconds = min(args.peak_seconds, 0.6)
        args.interleave_docs = 0
        args.round_robin_docs = 0
        args.long_docs = 0  # the workloads and peers add minutes: run them without --short
        args.sweep_docs = 0
        args.ort = False
    return args


def modes_for(device: str, dtypes: Optional[List[str]]) -> List[str]:
    if dtypes:
        return dtypes
    return ["bfloat16", "int8"] if device == "cpu" else ["float16", "bfloat16"]


def cpu_flags() -> str:
    """The CPU's matrix-engine and vector flags that the lossy modes depend on."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")
    try:
        with open("/proc/cpuinfo", encoding="utf8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return platform.processor() or "unknown"
    return " ".join(flag for flag in wanted if flag in flags) or "none of " + ", ".join(wanted)


def setup(args: argparse.Namespace) -> Bench:
    """Load what the run measures (building the random model if needed) and print its header."""
    import torch

    import spacy_zeroshot  # noqa: F401  (registers the factories when not installed)

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    model_path = args.model or str(build_random_deberta(work / "deberta-v3-base-random"))
    from transformers import AutoTokenizer

    texts, source = load_texts(args.docs, AutoTokenizer.from_pretrained(model_path))
    labels = LABELS[: args.labels]
    flops, n_pairs = useful_flops(model_path, texts, [TEMPLATE.format(label) for label in labels])
    lossy = modes_for(args.device, args.dtypes.split(",") if args.dtypes else None)
    bench = Bench(args, model_path, texts, labels, args.device, lossy, PeakMeter(args.device, args.peak_seconds), work)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# spacy-zeroshot benchmark: {args.docs} docs x {len(labels)} labels = {n_pairs} pairs")
    print(f"model: {args.model or 'random DeBERTa-v3-base (' + model_path + ')'}; texts: {source}")
    print(f"device: {args.device}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average {load:.2f}")
    print(f"CPU flags: {cpu_flags()}")
    print(f"useful work: {flops / n_pairs / 1e9:.2f} GFLOP per pair (mean)", flush=True)
    return bench


def main(argv: Optional[Sequence[str]] = None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    bench = setup(args)
    run = set(args.sections)
    if "speed" in run:
        speed(bench)
    if "round-robin" in run and args.round_robin_docs and not args.skip_hf:
        round_robins(bench)
    if "workloads" in run and not args.skip_hf and (args.long_docs or args.sweep_docs):
        workloads(bench)
    if "onnx" in run and args.ort:
        onnx_peers(bench)
    if "agreement" in run:
        agreement(bench)
    print(f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mb():.0f} MB")
