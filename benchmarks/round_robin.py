"""The yardstick of the performance rounds: our `nlp.pipe` against transformers' zero-shot
pipeline called per doc, for two versions of the code (commits) or two settings, in rounds.

Each round runs one fresh worker process per variant, alternating which variant goes first;
a worker builds (or reuses) the random DeBERTa-v3-base-shaped model of `bench_zeroshot.py`,
warms both sides up, then times the per-doc pipeline and one `nlp.pipe` call over `--docs`
docs x `--labels` labels for each dtype, alternating them `--repeats` times, and reports the
speed-ups (median of its repeats). The table gives each variant's median over the rounds and
the range, with the load average read before and after: time on a quiet machine only
(`uptime` < 0.5, nothing else running).

    python benchmarks/round_robin.py --docs 32 --rounds 3                      # working tree vs HEAD
    python benchmarks/round_robin.py --a main --b f440922 --docs 16 --rounds 3
    python benchmarks/round_robin.py --a . --b . --b-set max_batch_pairs=16 --dtypes bfloat16
    python benchmarks/round_robin.py --a HEAD --b none --docs 16,32,64 --repeats 1   # one variant, three sizes
    python benchmarks/round_robin.py --a HEAD --b 7fe6bf0 --docs 4 --labels 64 --dtypes float32   # the label sweep
    python benchmarks/round_robin.py --a HEAD --b 7fe6bf0 --docs 4 --long --dtypes float32        # long premises

A ref is a git commit, branch or tag of this repository (its `spacy_zeroshot/` is exported to
`--work-dir`), or "." for the working tree; `--b none` times variant A alone. Several `--docs`
sizes (comma-separated) are timed in one worker, on the first N texts of the same list. `--a-set`/`--b-set` take `zeroshot_nli` settings
(`key=value`, value parsed as JSON when it parses).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (HERE, ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from zeroshot_bench.peaks import load_average  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--a", default=".", help='code of variant A: a git ref or "." (default: the working tree)')
    add("--b", default="HEAD", help='code of variant B: a git ref, "." or "none" (default: HEAD)')
    add("--a-set", action="append", default=[], help="a zeroshot_nli setting of variant A, key=value (repeatable)")
    add("--b-set", action="append", default=[], help="a zeroshot_nli setting of variant B, key=value (repeatable)")
    add("--docs", default="32", help="docs in the one nlp.pipe call; several sizes comma-separated (default 32)")
    add("--labels", type=int, default=8, help="labels per doc (default 8)")
    add("--long", action="store_true", help="premises of 400-500 tokens (AG News texts joined) instead of 30-120")
    add("--rounds", type=int, default=3, help="rounds, each a fresh process per variant (default 3)")
    add("--repeats", type=int, default=3, help="timed repeats inside each worker (default 3)")
    add("--dtypes", default="float32,bfloat16", help="comma-separated dtypes (default float32,bfloat16)")
    add("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where the model and exported code go")
    add("--worker", action="store_true", help=argparse.SUPPRESS)
    add("--settings", default="{}", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def parse_settings(items: List[str]) -> Dict[str, Any]:
    settings: Dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def export_code(ref: str, work_dir: Path) -> Path:
    """A folder whose `spacy_zeroshot/` is the package at `ref` ("." = the working tree)."""
    if ref == ".":
        return ROOT
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    target = work_dir / "code" / sha[:12]
    if not (target / "spacy_zeroshot").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "spacy_zeroshot"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def doc_sizes(args: argparse.Namespace) -> List[int]:
    return [int(n) for n in str(args.docs).split(",")]


def worker(args: argparse.Namespace) -> Dict[str, float]:
    """One round of one variant: speed-ups over the per-doc pipeline, per dtype and doc count
    (keys "dtype@docs")."""
    from transformers import AutoTokenizer
    from zeroshot_bench.models import build_random_deberta
    from zeroshot_bench.runners import hf_pipeline, hf_runners, ours_run
    from zeroshot_bench.workloads import LABELS, load_long_texts, load_texts

    model = str(build_random_deberta(Path(args.work_dir) / "deberta-v3-base-random"))
    sizes = doc_sizes(args)
    texts, _ = (load_long_texts if args.long else load_texts)(max(sizes), AutoTokenizer.from_pretrained(model))
    labels = LABELS[: args.labels]
    settings = json.loads(args.settings)
    per_doc = hf_runners(hf_pipeline(model, "cpu"), labels)["(a) HF pipeline, per doc"]
    ours = {dtype: ours_run(model, texts, labels, "cpu", **{"dtype": dtype, **settings}) for dtype in args.dtypes.split(",")}
    ratios: Dict[str, List[float]] = {f"{dtype}@{n}": [] for dtype in ours for n in sizes}
    for repeat in range(args.repeats):
        for n in sizes:
            base = timed(per_doc, texts[:n])
            names = list(ours)
            for dtype in names[repeat % len(names) :] + names[: repeat % len(names)]:
                ratios[f"{dtype}@{n}"].append(base / timed(ours[dtype], texts[:n]))
    return {key: statistics.median(values) for key, values in ratios.items()}


def timed(run: Any, texts: List[str]) -> float:
    start = time.perf_counter()
    run(texts)
    return time.perf_counter() - start


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    work_dir = Path(args.work_dir)
    variants = {
        f"A: {args.a} {' '.join(args.a_set)}".strip(): (export_code(args.a, work_dir), parse_settings(args.a_set)),
    }
    if args.b != "none":
        variants[f"B: {args.b} {' '.join(args.b_set)}".strip()] = (export_code(args.b, work_dir), parse_settings(args.b_set))
    dtypes = args.dtypes.split(",")
    sizes = doc_sizes(args)
    keys = [f"{d}@{n}" for n in sizes for d in dtypes]
    results: Dict[str, Dict[str, List[float]]] = {name: {key: [] for key in keys} for name in variants}
    print(f"load average before: {load_average()}", flush=True)
    names = list(variants)
    for round_index in range(args.rounds):
        for name in names[round_index % 2 :] + names[: round_index % 2]:
            code, settings = variants[name]
            command = [sys.executable, __file__, "--worker", "--settings", json.dumps(settings)]
            command += ["--docs", str(args.docs), "--labels", str(args.labels), "--repeats", str(args.repeats)]
            command += ["--dtypes", args.dtypes, "--work-dir", args.work_dir] + (["--long"] if args.long else [])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), str(HERE)])}
            output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            ratios = json.loads(output.strip().splitlines()[-1])
            for key in keys:
                results[name][key].append(ratios[key])
            print(f"round {round_index + 1} {name}: {ratios} (load {load_average()})", flush=True)
    print(f"load average after: {load_average()}\n")
    print(f"| code | docs | {' | '.join(f'{d} x per-doc pipeline' for d in dtypes)} |")
    print(f"|---|---|{'---|' * len(dtypes)}")
    for n in sizes:
        for name in names:
            cells = [cell(results[name][f"{d}@{n}"]) for d in dtypes]
            print(f"| {name} | {n} | {' | '.join(cells)} |")
    premises = "premises of 400-500 tokens" if args.long else "premises of 30-120 tokens"
    print(f"\n{args.labels} labels, {premises}, medians of {args.rounds} rounds [range]; each round the median of {args.repeats} repeats")


def cell(values: List[float]) -> str:
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


if __name__ == "__main__":
    main()
