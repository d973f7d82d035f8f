"""The review loop, measured: does reviewing the closest calls first reach a given accuracy
with fewer reviewed docs than reviewing at random?

For each seed and order (uncertainty, random): a zero-shot AG News pipeline annotates a pool;
the loop's own code ranks the pool (`engines.formats.select`), writes Label Studio tasks, a
simulated reviewer answers them with the gold labels (examples/project/scripts/simulate_review.py),
`import_reviewed` turns the export into gold docs, `finetune` trains on every doc reviewed so
far, and accuracy on held-out test texts is measured after each round.

    python benchmarks/review_loop.py --output benchmarks/results/review_loop.json --plot docs/review_loop.png
    python benchmarks/review_loop.py --smoke          # tiny sizes, a minute: checks the plumbing only
    python benchmarks/review_loop.py --report benchmarks/results/review_loop.json --plot docs/review_loop.png

Work that cannot change the result is done once: the zero-shot pipeline and its test score are
shared by every run (round 0); `--order random` does not read the model's scores, so it ranks
the texts alone and annotates only the docs it hands to the reviewer (their tasks carry the
model's predictions as in a real export), and `--order uncertainty` annotates the pool's docs
not yet reviewed (reviewed docs are left out before ranking anyway). A round whose fine-tuning
does not beat its starting pipeline on dev keeps that pipeline (`finetune`'s default), so its
test score is the previous round's and is not computed again. Runs go seed by seed, both
orders per seed, and `--output` is rewritten after each, so a stopped run keeps whole seeds.
`--report FILE` prints the table (and draws `--plot`) from a saved `--output` again, keeping
only `--seeds`.

The data (../shared/data/ag_news) and model (../shared/models/minilm-nli) are read by path.
"""

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

import spacy
from spacy.language import Language
from spacy.tokens import DocBin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, TextTask, load_text_task, write_textcat_docbin  # noqa: E402
from fewshot_table import score_pipeline  # noqa: E402

from spacy_zeroshot.engines.finetune import FinetuneSettings, finetune  # noqa: E402
from spacy_zeroshot.engines.formats import convert, doubt, import_reviewed, schema_from_pipeline, select  # noqa: E402
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


def choose(nlp: Language, pool: List[str], seen: Set[str], order: str, schema: Any, args: argparse.Namespace, seed: int) -> List[Dict[str, Any]]:
    """The round's review records, in review order, each with its ranking entry."""
    todo = [text for text in pool if text not in seen]
    if order == "random":  # the shuffle reads no score: rank the texts, annotate the chosen docs only
        chosen, _ = select([{"text": t} for t in todo], schema, order=order, limit=args.per_round, seed=seed)
        texts = [todo[i] for i, _ in chosen]
        rows = [review_record(doc) for doc in nlp.pipe(texts, batch_size=args.batch_size)]
        entries = [entry for _, entry in chosen]
        for row, entry in zip(rows, entries):
            entry["margin"], entry["decision"] = doubt(row, schema)
        return [{**row, "ranking": entry} for row, entry in zip(rows, entries)]
    rows = [review_record(doc) for doc in nlp.pipe(todo, batch_size=args.batch_size)]
    chosen, _ = select(rows, schema, order=order, limit=args.per_round, seed=seed)
    return [{**rows[i], "ranking": entry} for i, entry in chosen]


def log_point(args: argparse.Namespace, point: Dict[str, Any]) -> None:
    """Print a point (spacy train's own log goes to stdout too) and append it to `--jsonl`."""
    line = json.dumps(point)
    print(line, flush=True)
    if args.jsonl is not None:
        with args.jsonl.open("a", encoding="utf8") as file:
            file.write(line + "\n")


def run_order(
    args: argparse.Namespace, task: TextTask, order: str, seed: int, round0: Path, start: Dict[str, Any],
    dev: Path, folder: Path,
) -> List[Dict[str, Any]]:
    simulate = _simulator().simulate
    labels = list(task.labels)
    gold = dict(random.Random(f"{seed}-pool").sample(task.pool, min(args.pool_size, len(task.pool))))
    pool = list(gold)
    current = round0
    reviewed = DocBin(store_user_data=True)
    seen: Set[str] = set()
    points = [{"order": order, "seed": seed, "reviewed": 0, **start}]
    nlp = spacy.load(current)
    for round_number in range(1, args.rounds + 1):
        started = time.perf_counter()
        schema = schema_from_pipeline(nlp, str(current))
        records = choose(nlp, pool, seen, order, schema, args, seed * 1000 + round_number)
        tasks = [convert("label-studio", record, schema, task_id=n) for n, record in enumerate(records)]
        golds = [{"text": r["text"], "cats": {gold[r["text"]]: 1.0}} for r in records]
        export = folder / f"export{round_number}.json"
        export.write_text(json.dumps(simulate(tasks, golds), ensure_ascii=False), encoding="utf8")
        docs, counts = import_reviewed(export, "label-studio", nlp, schema)
        for doc in docs:
            reviewed.add(doc)
            seen.add(doc.text)
        reviewed.to_disk(folder / "reviewed.spacy")
        out = folder / f"round{round_number}"
        overrides = {"training.max_steps": args.max_steps} if args.max_steps else {}
        trained = finetune(FinetuneSettings(pipeline=str(current), train=folder / "reviewed.spacy", dev=dev, output=out, overrides=overrides))
        current = out / "model-best"
        if trained["kept"] == "zero-shot":  # model-best is the round's starting pipeline, saved again
            scores = {key: points[-1][key] for key in ("accuracy", "macro_f")}
        else:
            nlp = spacy.load(current)
            scores = score_pipeline(nlp, task.test, labels, args.batch_size)
        margins = [r["ranking"]["margin"] for r in records if r["ranking"]["margin"] is not None]
        points.append(
            {"order": order, "seed": seed, "reviewed": len(seen), "imported": counts.docs, **scores,
             "kept": trained["kept"], "dev_score": round(trained["scores"]["fine_tuned"]["score"], 4),
             "train_seconds": trained["seconds"],
             "mean_margin": round(statistics.fmean(margins), 4) if margins else None,
             "seconds": round(time.perf_counter() - started, 1), "load": [round(x, 2) for x in os.getloadavg()]}
        )
        log_point(args, points[-1])
    return points


def cells(points: Sequence[Dict[str, Any]], seeds: Optional[Sequence[int]] = None) -> Dict[Any, List[float]]:
    """(order, reviewed docs) -> accuracies, one per seed (in seed order)."""
    by: Dict[Any, List[float]] = {}
    for p in sorted(points, key=lambda p: p["seed"]):
        if seeds is None or p["seed"] in seeds:
            by.setdefault((p["order"], p["reviewed"]), []).append(p["accuracy"])
    return by


def table(points: Sequence[Dict[str, Any]], seeds: Optional[Sequence[int]] = None) -> str:
    """Mean accuracy over seeds (sd, then the per-seed values) per order and reviewed docs."""
    by = cells(points, seeds)
    reviewed = sorted({key[1] for key in by})
    orders = sorted({key[0] for key in by}, key=lambda o: (o != "uncertainty", o))
    lines = ["| reviewed docs | " + " | ".join(f"--order {o}: mean (sd) [per seed]" for o in orders) + " |",
             "| --- |" + " --- |" * len(orders)]
    for n in reviewed:
        row = []
        for o in orders:
            values = by.get((o, n), [])
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            per_seed = ", ".join(f"{v:.3f}" for v in values)
            row.append(f"{statistics.fmean(values):.3f} ({sd:.3f}) [{per_seed}]" if values else "-")
        lines.append(f"| {n} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot(points: Sequence[Dict[str, Any]], path: Path, seeds: Optional[Sequence[int]] = None, note: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = cells(points, seeds)
    fig, ax = plt.subplots(figsize=(6, 4))
    # random first, uncertainty dashed on top: equal points stay visible
    for order, colour, style in (("random", "tab:orange", "-o"), ("uncertainty", "tab:blue", "--s")):
        xs = sorted(n for o, n in by if o == order)
        if not xs:
            continue
        for i in range(max(len(by[(order, x)]) for x in xs)):  # each seed, thin
            seed_xs = [x for x in xs if len(by[(order, x)]) > i]
            ax.plot(seed_xs, [by[(order, x)][i] for x in seed_xs], color=colour, alpha=0.25, linewidth=1)
        means = [statistics.fmean(by[(order, x)]) for x in xs]
        ax.plot(xs, means, style, color=colour, markersize=5, label=f"--order {order} (mean)")
    ax.set_xlabel("reviewed docs")
    ax.set_ylabel("accuracy on held-out AG News texts")
    ax.set_xticks(sorted({n for _, n in by}))
    if note:
        ax.set_title(note, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def read_points(path: Path) -> List[Dict[str, Any]]:
    """The points of a saved `--output` (JSON) or `--jsonl` file; a JSON-lines file holds the shared
    round 0 once, without order and seed: it is given to each run of the file."""
    if path.suffix != ".jsonl":
        return list(json.loads(path.read_text(encoding="utf8"))["points"])
    lines = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]
    points = [p for p in lines if "order" in p]
    starts = [p for p in lines if "order" not in p and p["reviewed"] == 0]
    runs = sorted({(p["order"], p["seed"]) for p in points})
    return [{**starts[-1], "order": o, "seed": s} for o, s in runs if starts] + points


def report(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """The table (and plot) of saved runs; several files (orders or seeds run apart) are joined."""
    points = [p for path in args.report for p in read_points(path)]
    seeds = args.seeds if args.seeds_given else None
    print(table(points, seeds))
    if args.plot is not None:
        plot(points, args.plot, seeds, args.title)
    return points


def write_output(args: argparse.Namespace, points: List[Dict[str, Any]], started: float, load_before: Sequence[float]) -> None:
    if args.output is None:
        return
    settings = {k: str(v) for k, v in vars(args).items()}
    run = {"wall_seconds": round(time.perf_counter() - started, 1), "load_before": list(load_before),
           "load_now": [round(x, 2) for x in os.getloadavg()]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"settings": settings, "run": run, "points": points}, indent=1))


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(MODEL))
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--orders", nargs="+", default=["uncertainty", "random"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="Default 0 1 2.")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=0, help="Cap fine-tuning steps (0: the few-shot defaults).")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--jsonl", type=Path, default=None, help="Append each point to this file as a JSON line.")
    parser.add_argument("--title", default="", help="A small title on the plot (e.g. the settings).")
    parser.add_argument(
        "--report", type=Path, nargs="+", default=None,
        help="Only print the table / draw the plot of saved --output (.json) or --jsonl (.jsonl) files, joined.",
    )
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes: pool 16, test 8, 1 round of 4, 1 seed, 2 steps.")
    args = parser.parse_args(argv)
    args.seeds_given = args.seeds is not None
    args.seeds = args.seeds if args.seeds is not None else [0, 1, 2]
    if args.report is not None:
        return report(args)
    if args.smoke:
        args.pool_size, args.test_size, args.rounds, args.per_round, args.seeds, args.max_steps = 16, 8, 1, 4, [0], 2
    if not Path(args.model).exists() or not (args.data / "ag_news").exists():
        print(f"skipped: needs {args.model} and {args.data / 'ag_news'} (research licences, read by path)")
        return []
    started, load_before = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    task = load_text_task("ag_news", args.data, args.test_size, dev_per_label=2 if args.smoke else 8)
    labels = list(task.labels)
    points: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as shared:
        dev = write_textcat_docbin(spacy.blank("en"), task.dev, labels, Path(shared) / "dev.spacy")
        round0 = build_pipeline(args.model, task.labels, task.template, Path(shared) / "round0")
        start = score_pipeline(spacy.load(round0), task.test, labels, args.batch_size)
        log_point(args, {"reviewed": 0, **start, "seconds": round(time.perf_counter() - started, 1)})
        for seed in args.seeds:
            for order in args.orders:
                with tempfile.TemporaryDirectory() as tmp:
                    points.extend(run_order(args, task, order, seed, round0, start, dev, Path(tmp)))
                write_output(args, points, started, load_before)
    print(table(points))
    print(f"wall {time.perf_counter() - started:.0f} s; load average before {load_before}, after {[round(x, 2) for x in os.getloadavg()]}")
    if args.plot is not None:
        plot(points, args.plot, None, args.title)
    return points


if __name__ == "__main__":
    main()
