"""The review loop, measured: does reviewing the closest calls first reach a given accuracy
with fewer reviewed docs than reviewing at random?

For each seed and order (uncertainty, random): a zero-shot pipeline annotates a pool; the
loop's own code ranks the pool (`engines.formats.select`), writes Label Studio tasks, a
simulated reviewer answers them with the gold (examples/project/scripts/simulate_review.py),
`import_reviewed` turns the export into gold docs, `finetune` trains on every doc reviewed so
far, and the held-out test score is measured after each round. Two tasks (`--task`):
`ag_news` (AG News categories, accuracy on 300 test texts) and `conll-typing` (CoNLL-2003 gold
entity spans typed PER / ORG / LOC / MISC, typing accuracy = `ents_f` on 100 test sentences:
benchmarks/review_loop_spans.py). Each point also records the gold labels of the docs handed
to the reviewer that round ("picked").

    python benchmarks/review_loop.py --output benchmarks/results/review_loop.json --plot docs/review_loop.png
    python benchmarks/review_loop.py --task conll-typing --pool-size 200 --jsonl spans.jsonl
    python benchmarks/review_loop.py --smoke          # tiny sizes, a minute: checks the plumbing only
    python benchmarks/review_loop.py --report benchmarks/results/review_loop.json --plot docs/review_loop.png

Work that cannot change the result is done once: the zero-shot pipeline and its test score are
shared by every run (round 0); `--order random` does not read the model's scores, so it ranks
the texts alone and annotates only the docs it hands to the reviewer (their tasks carry the
model's predictions as in a real export), and `--order uncertainty` annotates the pool's docs
not yet reviewed (reviewed docs are left out before ranking anyway). A round whose fine-tuning
does not beat its starting pipeline on dev keeps that pipeline (`finetune`'s default), so its
test score is the previous round's and is not computed again, and the pool's annotations by
that pipeline are reused (the zero-shot pipeline's by every run). Runs go seed by seed, both
orders per seed, and `--output` is rewritten after each, so a stopped run keeps whole seeds.
`--report FILE` prints the table (and draws `--plot`) from a saved `--output` again, keeping
only `--seeds`.

The data (../shared/data: ag_news, conll2003) and model (../shared/models/minilm-nli) are read by path.
"""

import argparse
import collections
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import DocBin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, load_text_task, write_textcat_docbin  # noqa: E402
from fewshot_table import score_pipeline  # noqa: E402

from spacy_zeroshot.engines.finetune import FinetuneSettings, finetune  # noqa: E402
from spacy_zeroshot.engines.formats import convert, doubt, import_reviewed, schema_from_pipeline, select  # noqa: E402
from spacy_zeroshot.engines.review import review_record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT.parent / "shared" / "models" / "minilm-nli"
TASKS = {  # name: (data folder, default test size, y axis of the plot)
    "ag_news": ("ag_news", 300, "accuracy on held-out AG News texts"),
    "conll-typing": ("conll2003", 100, "typing accuracy (ents_f, gold spans), CoNLL test sentences"),
}
Records = Dict[Tuple[str, str], Dict[str, Any]]  # (pipeline, text) -> review record


@dataclass
class LoopTask:
    """What the loop needs of a task.

    pool: (text, gold) rows the seeds' pools are drawn from.
    dev: the dev corpus `finetune` chooses by; round0: the saved zero-shot pipeline.
    score: test scores of a pipeline ("accuracy", "macro_f").
    gold_record: the simulated reviewer's gold of a row; gold_labels: its gold labels ("picked").
    """

    pool: List[Tuple[str, Any]]
    dev: Path
    round0: Path
    score: Callable[[Language], Dict[str, Any]]
    gold_record: Callable[[str, Any], Dict[str, Any]]
    gold_labels: Callable[[Any], List[str]]


def ag_news_task(args: argparse.Namespace, folder: Path) -> LoopTask:
    task = load_text_task("ag_news", args.data, args.test_size, dev_per_label=2 if args.smoke else 8)
    labels = list(task.labels)
    return LoopTask(
        pool=list(task.pool),
        dev=write_textcat_docbin(spacy.blank("en"), task.dev, labels, folder / "dev.spacy"),
        round0=build_pipeline(args.model, task.labels, task.template, folder / "round0"),
        score=lambda nlp: score_pipeline(nlp, task.test, labels, args.batch_size),
        gold_record=lambda text, label: {"text": text, "cats": {label: 1.0}},
        gold_labels=lambda label: [label],
    )


def conll_typing_task(args: argparse.Namespace, folder: Path) -> LoopTask:
    import review_loop_spans as spans

    pool, dev, test = spans.load_typing(args.data, args.test_size, 2 if args.smoke else args.dev_size)
    return LoopTask(
        pool=pool,
        dev=spans.write_typing_docbin(dev, folder / "dev.spacy"),
        round0=spans.build_typing_pipeline(args.model, [*pool, *spans.rows(dev), *spans.rows(test)], folder / "round0"),
        score=lambda nlp: spans.typing_accuracy(nlp, test),
        gold_record=spans.gold_record,
        gold_labels=spans.gold_labels,
    )


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


def annotate(nlp: Language, model: str, texts: List[str], cache: Records, batch_size: int) -> List[Dict[str, Any]]:
    """Review records of `texts` by the pipeline `model` names, computing only those not in `cache`."""
    todo = list(dict.fromkeys(t for t in texts if (model, t) not in cache))
    for text, doc in zip(todo, nlp.pipe(todo, batch_size=batch_size)):
        cache[(model, text)] = review_record(doc)
    return [cache[(model, t)] for t in texts]


def choose(
    nlp: Language, model: str, pool: List[str], seen: Set[str], order: str, schema: Any, args: argparse.Namespace,
    seed: int, cache: Records,
) -> List[Dict[str, Any]]:
    """The round's review records, in review order, each with its ranking entry."""
    todo = [text for text in pool if text not in seen]
    if order == "random":  # the shuffle reads no score: rank the texts, annotate the chosen docs only
        chosen, _ = select([{"text": t} for t in todo], schema, order=order, limit=args.per_round, seed=seed)
        rows = annotate(nlp, model, [todo[i] for i, _ in chosen], cache, args.batch_size)
        entries = [entry for _, entry in chosen]
        for row, entry in zip(rows, entries):
            entry["margin"], entry["decision"] = doubt(row, schema)
        return [{**row, "ranking": entry} for row, entry in zip(rows, entries)]
    rows = annotate(nlp, model, todo, cache, args.batch_size)
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
    args: argparse.Namespace, task: LoopTask, order: str, seed: int, start: Dict[str, Any], folder: Path, cache: Records
) -> List[Dict[str, Any]]:
    simulate = _simulator().simulate
    gold = dict(random.Random(f"{seed}-pool").sample(task.pool, min(args.pool_size, len(task.pool))))
    pool = list(gold)
    current = model = task.round0  # model: the pipeline whose annotations `current` repeats
    for key in [key for key in cache if key[0] != str(task.round0)]:  # an earlier run's models
        del cache[key]
    reviewed = DocBin(store_user_data=True)
    seen: Set[str] = set()
    points = [{"task": args.task, "order": order, "seed": seed, "reviewed": 0, **start}]
    nlp = spacy.load(current)
    for round_number in range(1, args.rounds + 1):
        started = time.perf_counter()
        schema = schema_from_pipeline(nlp, str(current))
        records = choose(nlp, str(model), pool, seen, order, schema, args, seed * 1000 + round_number, cache)
        tasks = [convert("label-studio", record, schema, task_id=n) for n, record in enumerate(records)]
        golds = [task.gold_record(r["text"], gold[r["text"]]) for r in records]
        picked = collections.Counter(label for r in records for label in task.gold_labels(gold[r["text"]]))
        export = folder / f"export{round_number}.json"
        export.write_text(json.dumps(simulate(tasks, golds), ensure_ascii=False), encoding="utf8")
        docs, counts = import_reviewed(export, "label-studio", nlp, schema)
        for doc in docs:
            reviewed.add(doc)
            seen.add(doc.text)
        reviewed.to_disk(folder / "reviewed.spacy")
        out = folder / f"round{round_number}"
        overrides = {"training.max_steps": args.max_steps} if args.max_steps else {}
        trained = finetune(FinetuneSettings(pipeline=str(current), train=folder / "reviewed.spacy", dev=task.dev, output=out, overrides=overrides))
        current = out / "model-best"
        if trained["kept"] == "zero-shot":  # model-best is the round's starting pipeline, saved again
            scores = {key: points[-1][key] for key in ("accuracy", "macro_f")}
        else:
            nlp, model = spacy.load(current), current
            scores = task.score(nlp)
        margins = [r["ranking"]["margin"] for r in records if r["ranking"]["margin"] is not None]
        points.append(
            {"task": args.task, "order": order, "seed": seed, "reviewed": len(seen), "imported": counts.docs, **scores,
             "kept": trained["kept"], "dev_score": round(trained["scores"]["fine_tuned"]["score"], 4),
             "train_seconds": trained["seconds"],
             "mean_margin": round(statistics.fmean(margins), 4) if margins else None,
             "picked": dict(sorted(picked.items())),
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
    ax.set_ylabel(TASKS[points[0].get("task", "ag_news") if points else "ag_news"][2])
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
    """The table (and plot) of saved runs of `--task` (points without a task are AG News ones);
    several files (orders or seeds run apart) are joined."""
    points = [p for path in args.report for p in read_points(path) if p.get("task", "ag_news") == args.task]
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
    parser.add_argument("--task", choices=sorted(TASKS), default="ag_news")
    parser.add_argument("--model", default=str(MODEL))
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--orders", nargs="+", default=["uncertainty", "random"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="Default 0 1 2.")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=None, help="Default 300 texts (ag_news), 100 sentences (conll-typing).")
    parser.add_argument("--dev-size", type=int, default=32, help="conll-typing: dev sentences (ag_news: 8 texts per label).")
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
    folder, test_size, _ = TASKS[args.task]
    args.test_size = args.test_size or test_size
    if args.smoke:
        args.pool_size, args.test_size, args.rounds, args.per_round, args.seeds, args.max_steps = 16, 8, 1, 4, [0], 2
    if not Path(args.model).exists() or not (args.data / folder).exists():
        print(f"skipped: needs {args.model} and {args.data / folder} (research licences, read by path)")
        return []
    started, load_before = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    points: List[Dict[str, Any]] = []
    cache: Records = {}
    with tempfile.TemporaryDirectory() as shared:
        task = (conll_typing_task if args.task == "conll-typing" else ag_news_task)(args, Path(shared))
        start = task.score(spacy.load(task.round0))
        log_point(args, {"task": args.task, "reviewed": 0, **start, "seconds": round(time.perf_counter() - started, 1)})
        for seed in args.seeds:
            for order in args.orders:
                with tempfile.TemporaryDirectory() as tmp:
                    points.extend(run_order(args, task, order, seed, start, Path(tmp), cache))
                write_output(args, points, started, load_before)
    print(table(points))
    print(f"wall {time.perf_counter() - started:.0f} s; load average before {load_before}, after {[round(x, 2) for x in os.getloadavg()]}")
    if args.plot is not None:
        plot(points, args.plot, None, args.title)
    return points


if __name__ == "__main__":
    main()
