"""Throughput of `spacy-zeroshot annotate` against a plain `nlp(text)` loop and `nlp.pipe`.

Annotates the first N AG News test texts (title and description) with a zero-shot textcat
(world / sports / business / science and technology) and reports docs/s and NLI pairs/s for:
  loop  - `[nlp(text) for text in texts]` (one forward pass per doc),
  pipe  - `list(nlp.pipe(texts, batch_size=B))`,
  cli   - `python -m spacy_zeroshot annotate` writing .spacy and .jsonl (annotation time from
          its summary, which covers reading, annotating, writing chunks and joining them;
          the wall time with interpreter start-up and model loading is shown too).

    python benchmarks/annotate_agnews.py --n 2000 --model ../shared/models/minilm-nli

The AG News data and the model are read by path (research licences: never copied into the
project); the script exits cleanly when the data is absent.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.agnews import LABELS, build_pipeline, read_texts  # noqa: E402
from zeroshot_bench.shared import SHARED  # noqa: E402


def measure(name: str, seconds: float, docs: int, pairs: int, **extra: Any) -> Dict[str, Any]:
    result = {"method": name, "docs": docs, "pairs": pairs, "seconds": round(seconds, 3)}
    result["docs_per_s"] = round(docs / seconds, 2)
    result["pairs_per_s"] = round(pairs / seconds, 2)
    result.update(extra)
    return result


def run_in_process(pipeline: Path, texts: List[str], batch_size: int, methods: List[str]) -> List[Dict[str, Any]]:
    import spacy

    from spacy_zeroshot.engines.progress import PairCounter

    nlp = spacy.load(pipeline)
    counter = PairCounter(nlp)
    nlp("warm up")
    results = []
    for method in methods:
        before = counter.total
        start = time.perf_counter()
        if method == "loop":
            docs = [nlp(text) for text in texts]
        else:
            docs = list(nlp.pipe(texts, batch_size=batch_size))
        seconds = time.perf_counter() - start
        results.append(measure(method, seconds, len(docs), counter.total - before))
    return results


def run_cli(pipeline: Path, texts: List[str], batch_size: int, work: Path, extra: List[str]) -> Dict[str, Any]:
    source = work / "agnews.jsonl"
    source.write_text("".join(json.dumps({"text": t, "meta": {"row": i}}) + "\n" for i, t in enumerate(texts)))
    summary = work / "summary.json"
    outputs = [str(work / "out.spacy"), str(work / "out.jsonl")]
    command = [sys.executable, "-m", "spacy_zeroshot", "annotate", str(pipeline), str(source), *outputs]
    command += ["--batch-size", str(batch_size), "--summary", str(summary), "--quiet", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    report = json.loads(summary.read_text())
    return measure("cli", report["seconds"], report["docs"], report["pairs"], wall_seconds=round(wall, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="Number of AG News test texts (default 2000).")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "ag_news" / "test.csv")
    parser.add_argument("--model", default=str(SHARED / "models" / "minilm-nli"), help="NLI model (hub id or folder).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--methods", default="loop,pipe,cli", help="Comma-separated: loop, pipe, cli.")
    parser.add_argument("--repeat", type=int, default=1, help="Runs of pipe and cli, alternated; the best is kept.")
    parser.add_argument("--cli-args", default="", help="Extra arguments for the CLI, e.g. '--n-process 2'.")
    parser.add_argument("--output", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"AG News test data not found at {args.data}; nothing to measure.")
        return
    if args.model.startswith((".", "/")) and not Path(args.model).exists():
        print(f"Model folder {args.model} not found; nothing to measure.")
        return
    texts = read_texts(args.data, args.n)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pipeline = work / "pipeline"
        build_pipeline(args.model, args.device, pipeline)
        runs: List[Dict[str, Any]] = []
        if "loop" in methods:
            runs += run_in_process(pipeline, texts, args.batch_size, ["loop"])
        for _ in range(args.repeat):  # alternate, so that a busy moment does not favour one method
            if "pipe" in methods:
                runs += run_in_process(pipeline, texts, args.batch_size, ["pipe"])
            if "cli" in methods:
                runs.append(run_cli(pipeline, texts, args.batch_size, work, args.cli_args.split()))
    results = [min((r for r in runs if r["method"] == m), key=lambda r: r["seconds"]) for m in methods]
    print(f"{len(texts)} AG News texts x {len(LABELS)} labels, model {args.model}, batch size {args.batch_size}, best of {args.repeat}")
    print(f"{'method':<8}{'seconds':>10}{'docs/s':>10}{'pairs/s':>11}{'pairs':>8}")
    for r in results:
        print(f"{r['method']:<8}{r['seconds']:>10.2f}{r['docs_per_s']:>10.1f}{r['pairs_per_s']:>11.1f}{r['pairs']:>8}")
    by_method = {r["method"]: r for r in results}
    if "cli" in by_method and "pipe" in by_method:
        ratio = by_method["cli"]["docs_per_s"] / by_method["pipe"]["docs_per_s"]
        print(f"cli / pipe throughput: {ratio:.3f} (cli wall time with start-up: {by_method['cli']['wall_seconds']}s)")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
