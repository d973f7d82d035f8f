"""The review loop, measured: does reviewing the closest calls first reach a given accuracy
with fewer reviewed docs than reviewing at random?

For each order (uncertainty, random) and seed: a zero-shot AG News pipeline annotates a pool;
the loop's own code ranks the pool (`engines.formats.select`), writes Label Studio tasks, a
simulated reviewer answers them with the gold labels (examples/project/scripts/simulate_review.py),
`import_reviewed` turns the export into gold docs, `finetune` trains on every doc reviewed so
far, and accuracy on held-out test texts is measured after each round.

    python benchmarks/review_loop.py --output benchmarks/results/review_loop.json --plot docs/review_loop.png
    python benchmarks/review_loop.py --smoke          # tiny sizes, a minute: checks the plumbing only

The data (../shared/data/ag_news) and model (../shared/models/minilm-nli) are read by path.
"""

import argparse
import importlib.util
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.tokens import DocBin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, load_text_task, write_textcat_docbin  # noqa: E402
from fewshot_table import score_pipeline  # noqa: E402

from spacy_zeroshot.engines.finetune import FinetuneSettings, finetune  # noqa: E402
from spacy_zeroshot.engines.formats import convert, import_reviewed, schema_from_pipeline, select  # noqa: E402
from spacy_zeroshot.engines.review import review_record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT.parent / "shared" / "models" / "minilm-nli"


def _simulator() -> Any:
    path = ROOT / "examples" / "project" / "scripts" / "simulate_review.py"
    spec = importlib.util.spec_from_file_location("simulate_review", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_pipeline(model: str, labels: Dict[str, str], template: str, path: Path) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": labels, "hypothesis_template": template})
    nlp.initialize()
    nlp.to_disk(path)
    return path


def run_order(args: argparse.Namespace, task: Any, order: str, seed: int, folder: Path) -> List[Dict[str, Any]]:
    simulate = _simulator().simulate
    labels = list(task.labels)
    gold = dict(random.Random(f"{seed}-pool").sample(task.pool, min(args.pool_size, len(task.pool))))
    pool = list(gold)
    dev = write_textcat_docbin(spacy.blank("en"), task.dev, labels, folder / "dev.spacy")
    current = build_pipeline(args.model, task.labels, task.template, folder / "round0")
    reviewed = DocBin(store_user_data=True)
    seen: set = set()
    points = []
    nlp = spacy.load(current)
    points.append({"order": order, "seed": seed, "reviewed": 0, **score_pipeline(nlp, task.test, labels, args.batch_size)})
    for round_number in range(1, args.rounds + 1):
        started = time.perf_counter()
        rows = [review_record(doc) for doc in nlp.pipe(pool, batch_size=args.batch_size)]
        schema = schema_from_pipeline(nlp, str(current))
        chosen, _ = select(rows, schema, order=order, limit=args.per_round, seed=seed * 1000 + round_number, reviewed_texts=seen)
        tasks = []
        for task_id, (i, entry) in enumerate(chosen):
            tasks.append(convert("label-studio", {**rows[i], "ranking": entry}, schema, task_id=task_id))
        golds = [{"text": rows[i]["text"], "cats": {gold[rows[i]["text"]]: 1.0}} for i, _ in chosen]
        export = folder / f"export{round_number}.json"
        export.write_text(json.dumps(simulate(tasks, golds), ensure_ascii=False), encoding="utf8")
        docs, report = import_reviewed(export, "label-studio", nlp, schema)
        for doc in docs:
            reviewed.add(doc)
            seen.add(doc.text)
        reviewed.to_disk(folder / "reviewed.spacy")
        out = folder / f"round{round_number}"
        overrides = {"training.max_steps": args.max_steps} if args.max_steps else {}
        finetune(FinetuneSettings(pipeline=str(current), train=folder / "reviewed.spacy", dev=dev, output=out, overrides=overrides))
        current = out / "model-best"
        nlp = spacy.load(current)
        scores = score_pipeline(nlp, task.test, labels, args.batch_size)
        points.append(
            {"order": order, "seed": seed, "reviewed": len(seen), "imported": report.docs, **scores,
             "seconds": round(time.perf_counter() - started, 1)}
        )
        print(json.dumps(points[-1]), flush=True)
    return points


def table(points: Sequence[Dict[str, Any]]) -> str:
    """Mean accuracy (over seeds) per order and number of reviewed docs."""
    by: Dict[Any, List[float]] = {}
    for p in points:
        by.setdefault((p["order"], p["reviewed"]), []).append(p["accuracy"])
    reviewed = sorted({key[1] for key in by})
    orders = sorted({key[0] for key in by})
    lines = ["| reviewed docs | " + " | ".join(orders) + " |", "| --- |" + " --- |" * len(orders)]
    for n in reviewed:
        cells = [f"{sum(by[(o, n)]) / len(by[(o, n)]):.3f}" if (o, n) in by else "-" for o in orders]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(points: Sequence[Dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for order in sorted({p["order"] for p in points}):
        xs = sorted({p["reviewed"] for p in points if p["order"] == order})
        ys = [sum(p["accuracy"] for p in points if p["order"] == order and p["reviewed"] == x)
              / len([p for p in points if p["order"] == order and p["reviewed"] == x]) for x in xs]
        ax.plot(xs, ys, marker="o", label=f"--order {order}")
    ax.set_xlabel("reviewed docs")
    ax.set_ylabel("accuracy on held-out AG News")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(MODEL))
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--orders", nargs="+", default=["uncertainty", "random"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=0, help="Cap fine-tuning steps (0: the few-shot defaults).")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: pool 16, test 8, 1 round of 4, 1 seed, 2 steps.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pool_size, args.test_size, args.rounds, args.per_round, args.seeds, args.max_steps = 16, 8, 1, 4, [0], 2
    if not Path(args.model).exists() or not (args.data / "ag_news").exists():
        print(f"skipped: needs {args.model} and {args.data / 'ag_news'} (research licences, read by path)")
        return []
    task = load_text_task("ag_news", args.data, args.test_size, dev_per_label=2 if args.smoke else 8)
    points: List[Dict[str, Any]] = []
    for order in args.orders:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                points.extend(run_order(args, task, order, seed, Path(tmp)))
    print(table(points))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "points": points}, indent=1))
    if args.plot is not None:
        plot(points, args.plot)
    return points


if __name__ == "__main__":
    main()
