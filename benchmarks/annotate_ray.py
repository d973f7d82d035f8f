"""`spacy-zeroshot annotate --engine ray` against `--engine local`, side by side in one run.

Annotates the first N AG News test texts with a 4-label zero-shot textcat, with the local
engine and with the Ray engine (a private local Ray cluster, --num-actors actors of
--cpus-per-actor CPUs), and prints for each: wall time, the engine's start-up (Ray: starting
the cluster), annotation time (Ray: actors starting and loading the model included), docs/s
and pairs/s; then the Ray engine's fixed cost, measured as the wall time of both engines on
a corpus of one minibatch; and how far the outputs are apart. The full corpus runs each
engine with its default threads (local: torch's default, one per core; an actor: one per
CPU it has), which moves scores in the last digits; the one-minibatch runs pin both to one
torch thread (`--components.zeroshot_nli.num_threads 1`), and their outputs must be
byte-identical.

    python benchmarks/annotate_ray.py --n 400 --model ../shared/models/minilm-nli --num-actors 2

The data and the model are read by path (research licences: never copied into the project);
the script exits cleanly when the data or Ray is absent. Each engine runs in its own
process, as a user would run it.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from annotate_agnews import SHARED, build_pipeline, read_texts


def run_cli(pipeline: Path, source: Path, out: Path, args: List[str]) -> Dict[str, Any]:
    summary = out / "summary.json"
    command = [sys.executable, "-m", "spacy_zeroshot", "annotate", str(pipeline), str(source)]
    command += [str(out / "out.jsonl"), str(out / "out.spacy"), "--quiet", "--summary", str(summary), *args]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    report = json.loads(summary.read_text())
    report["wall"] = wall
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--model", default=str(SHARED / "models" / "minilm-nli"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--num-actors", type=int, default=2)
    parser.add_argument("--cpus-per-actor", type=float, default=1.0)
    options = parser.parse_args()
    data = SHARED / "data" / "ag_news" / "test.csv"
    if not data.exists() or not Path(options.model).exists():
        print(f"skipped: {data} or {options.model} is not available")
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        print('skipped: Ray is not installed (pip install "spacy-zeroshot[ray]")')
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_pipeline(options.model, "cpu", root / "nlp")
        texts = read_texts(data, options.n)
        for name, subset in (("corpus", texts), ("tiny", texts[: options.batch_size])):
            (root / f"{name}.jsonl").write_text(
                "".join(json.dumps({"text": t, "meta": {"id": i}}) + "\n" for i, t in enumerate(subset)), encoding="utf8"
            )
        common = ["--batch-size", str(options.batch_size), "--chunk-size", str(options.chunk_size)]
        ray_args = ["--engine", "ray", "--num-actors", str(options.num_actors)]
        ray_args += ["--cpus-per-actor", str(options.cpus_per_actor)]
        rows = []
        for corpus in ("corpus", "tiny"):
            pinned = ["--components.zeroshot_nli.num_threads", "1"] if corpus == "tiny" else []
            for engine, extra in (("local", []), ("ray", ray_args)):
                out = root / f"{corpus}-{engine}"
                out.mkdir()
                args = common + extra + pinned
                rows.append((corpus, engine, out, run_cli(root / "nlp", root / f"{corpus}.jsonl", out, args)))
        print(f"{options.n} AG News texts x 4 labels, batch size {options.batch_size}, chunk size {options.chunk_size}; "
              f"ray: {options.num_actors} actors x {options.cpus_per_actor:g} CPU")
        print("| corpus | engine | docs | wall s | start-up s | annotation s | docs/s | pairs/s |")
        print("|---|---|---|---|---|---|---|---|")
        for corpus, engine, _, r in rows:
            print(f"| {corpus} | {engine} | {r['docs']} | {r['wall']:.1f} | {r['load_seconds']:.1f} | {r['seconds']:.1f} "
                  f"| {r['docs'] / r['seconds']:.1f} | {r['pairs'] / r['seconds']:.1f} |")
        local, ray_run = rows[0][3], rows[1][3]
        print(f"ray / local throughput (annotation time): {local['seconds'] / ray_run['seconds']:.2f}")
        print(f"ray / local wall time on the full corpus: {ray_run['wall'] / local['wall']:.2f}")
        print(f"ray fixed cost (wall, one minibatch, ray minus local): {rows[3][3]['wall'] - rows[2][3]['wall']:.1f} s")
        for corpus in ("corpus", "tiny"):
            a, b = [out for c, _, out, _ in rows if c == corpus]
            same = all((a / f).read_bytes() == (b / f).read_bytes() for f in ("out.jsonl", "out.spacy"))
            ours, theirs = ([json.loads(line) for line in (o / "out.jsonl").read_text().splitlines()] for o in (a, b))
            gap = max(abs(x["cats"][k] - y["cats"][k]) for x, y in zip(ours, theirs) for k in x["cats"])
            top = sum(max(x["cats"], key=x["cats"].get) == max(y["cats"], key=y["cats"].get) for x, y in zip(ours, theirs))
            print(f"{corpus}: outputs byte-identical: {same}; max score difference {gap:.2g}; same top label {top}/{len(ours)}")


if __name__ == "__main__":
    main()
