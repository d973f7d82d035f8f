"""Few-shot text classification: zero-shot vs N examples per label, fine-tuned with `spacy train`.

The model card's protocol on AG News, Emotion and SST-5 (../shared/data, read by path, never
copied): per data set a fixed held-out test split; per seed and N, a stratified draw of N
examples per label from the rest; training goes through the user's path, a DocBin and
`spacy train configs/fewshot_textcat.cfg` (spacy.cli.train.train, with the set's labels and
template as overrides; dev = a small held-out split); `model-best` is loaded with
`spacy.load` and scored on the test texts. Accuracy and macro-F1 (spaCy's `cats_macro_f`),
mean +- sd over seeds.

Forgetting: every pipeline (zero-shot and each fine-tuned one) is also scored zero-shot on a
probe set it was not trained on (TREC question types by default) and as a plain NLI model on
SICK (3-way accuracy: argmax of the model's logits); the guard runs repeat the 8-shot AG News
training with `freeze_embeddings` false and with `l2_sp` > 0.

    python benchmarks/fewshot_table.py --model ../shared/models/minilm-nli --shots 0 8 64 --seeds 5 \
        --out fewshot.json
    python benchmarks/fewshot_table.py --model M --short                  # smoke run, seconds
    python benchmarks/fewshot_table.py --model M --shots 8 --seeds 3 --on tune \
        --set training.optimizer.learn_rate.initial_rate=5e-5            # choose settings on 'tune'
"""

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import spacy
from spacy.cli.train import train as spacy_train
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import (  # noqa: E402
    SHARED_DATA,
    TEXT_TASKS,
    TextTask,
    draw_shots,
    load_text_task,
    sample_sick,
    write_textcat_docbin,
)

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "fewshot_textcat.cfg"
TUNE_SIZE = 200  # rows kept out of the pool for `--on tune`, whatever `--on` is
GUARDS = {
    "freeze_embeddings=false": {"components.zeroshot_nli.freeze_embeddings": False},
    "l2_sp=0.1": {"components.zeroshot_nli.l2_sp": 0.1},
}


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def textcat_overrides(task: TextTask, model: str, device: str) -> Dict[str, Any]:
    """The config overrides that set the model and the task's labels and template."""
    return {
        "components.zeroshot_nli.model": model,
        "components.zeroshot_nli.device": device,
        "components.zeroshot_textcat.labels": dict(task.labels),
        "components.zeroshot_textcat.hypothesis_template": task.template,
    }


def zero_shot_pipeline(config: Path, overrides: Dict[str, Any]) -> Language:
    """The pipeline `spacy train` starts from (the same config and overrides), untrained."""
    return load_model_from_config(load_config(config, overrides=overrides, interpolate=False), auto_fill=True)


def train_pipeline(config: Path, output: Path, overrides: Dict[str, Any], log: Path) -> Path:
    """`spacy train` (its output goes to `log`); RETURNS the path of model-best."""
    with log.open("w", encoding="utf8") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        spacy_train(config, output, overrides=overrides)
    return output / "model-best"


def exclusive_scores(gold: Sequence[str], cats: Sequence[Dict[str, float]], labels: Sequence[str]) -> Dict[str, Any]:
    """Accuracy (argmax = gold), spaCy's exclusive `cats_macro_f` (macro-F1 over labels) and
    its F1 of each label (`f_per_label`: label -> F1)."""
    nlp = spacy.blank("en")
    examples = []
    for label, scores in zip(gold, cats):
        predicted, reference = nlp.make_doc(""), nlp.make_doc("")
        predicted.cats = dict(scores)
        reference.cats = {name: float(name == label) for name in labels}
        examples.append(Example(predicted, reference))
    spacy_scores = Scorer.score_cats(examples, "cats", labels=labels, multi_label=False)
    per_label = {label: float(prf["f"]) for label, prf in (spacy_scores["cats_f_per_type"] or {}).items()}
    hits = sum(max(scores, key=scores.__getitem__) == label for label, scores in zip(gold, cats))
    return {"accuracy": hits / len(gold) if gold else 0.0, "macro_f": float(spacy_scores["cats_macro_f"]),
            "f_per_label": per_label}


def score_pipeline(nlp: Language, rows: Sequence[Tuple[str, str]], labels: Sequence[str], batch_size: int) -> Dict[str, Any]:
    docs = nlp.pipe([text for text, _ in rows], batch_size=batch_size)
    return exclusive_scores([label for _, label in rows], [doc.cats for doc in docs], labels)


def probe_textcat(nlp: Language, probe: TextTask) -> Dict[str, float]:
    """Zero-shot scores of the pipeline's NLI model on a set it was not trained on."""
    from spacy_zeroshot import ZeroShotClassifier

    classify = ZeroShotClassifier(nlp.get_pipe("zeroshot_nli").backend)
    words = list(probe.labels.values())
    names = {text: name for name, text in probe.labels.items()}
    results = classify([text for text, _ in probe.test], words, hypothesis_template=probe.template)
    cats = [{names[w]: s for w, s in zip(r["labels"], r["scores"])} for r in results]  # type: ignore[index]
    return exclusive_scores([label for _, label in probe.test], cats, list(probe.labels))


def probe_sick(nlp: Language, rows: Sequence[Tuple[str, str, str]]) -> float:
    """3-way NLI accuracy on SICK: the argmax of the logits, by class name."""
    backend = nlp.get_pipe("zeroshot_nli").backend
    logits = backend.score([(premise, hypothesis) for premise, hypothesis, _ in rows])
    names = {int(i): str(name).lower() for i, name in backend.model.config.id2label.items()}
    hits = sum(names[int(row.argmax())].startswith(gold[:7]) for row, (_, _, gold) in zip(logits, rows))
    return hits / len(rows) if rows else 0.0


def measure(nlp: Language, task: TextTask, on: str, probe: Optional[TextTask], sick: Sequence[Any], batch_size: int) -> Dict[str, Any]:
    rows = task.tune if on == "tune" else task.test
    result: Dict[str, Any] = score_pipeline(nlp, rows, list(task.labels), batch_size)
    if probe is not None:
        result["probe"] = probe_textcat(nlp, probe)
    if sick:
        result["sick"] = probe_sick(nlp, sick)
    return result


def run_one(
    args: argparse.Namespace, task: TextTask, shots: int, seed: int, variant: str, extra: Dict[str, Any],
    probe: Optional[TextTask], sick: Sequence[Any], work: Path,
) -> Dict[str, Any]:
    """Draw `shots` per label (seed), train with `spacy train`, score model-best."""
    folder = work / f"{task.name}-{shots}-{seed}-{variant.replace('=', '_')}"
    blank = spacy.blank("en")
    rows = draw_shots(task, shots, seed)
    overrides = {
        **textcat_overrides(task, args.model, args.device),
        "paths.train": str(write_textcat_docbin(blank, rows, list(task.labels), folder / "train.spacy")),
        "paths.dev": str(write_textcat_docbin(blank, task.dev, list(task.labels), folder / "dev.spacy")),
        "system.seed": seed,
        **args.overrides,
        **extra,
    }
    start, cpu_start = time.perf_counter(), time.process_time()
    best = train_pipeline(args.config, folder / "out", overrides, folder / "train.log")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    result = measure(spacy.load(best if args.pick == "best" else best.parent / "model-last"), task, args.on, probe, sick,
                     args.batch_size)
    result.update({"data": task.name, "shots": shots, "seed": seed, "variant": variant, "train_seconds": seconds,
                   "train_cpu_seconds": cpu_seconds, "train_docs": len(rows)})
    return result


def mean_sd(values: Iterable[float]) -> str:
    values = [100 * v for v in values]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def tables(results: List[Dict[str, Any]], on: str, probe_name: Optional[str]) -> str:
    """Markdown: the main table (plain runs) and the forgetting table (every variant)."""
    lines = [f"| data | shots | accuracy ({on}) | macro-F1 ({on}) | runs | train s: wall / CPU (mean) |",
             "|---|---|---|---|---|---|"]
    keys: Dict[Tuple[str, int, str], List[Dict[str, Any]]] = {}
    for r in results:
        keys.setdefault((r["data"], r["shots"], r["variant"]), []).append(r)
    for (data, shots, variant), runs in keys.items():
        if variant != "default":
            continue
        trained = [r for r in runs if r["shots"]]
        train_s = "-"
        if trained:
            train_s = (f"{statistics.mean(r['train_seconds'] for r in trained):.0f} / "
                       f"{statistics.mean(r['train_cpu_seconds'] for r in trained):.0f}")
        lines.append(f"| {data} | {shots} | {mean_sd(r['accuracy'] for r in runs)} | "
                     f"{mean_sd(r['macro_f'] for r in runs)} | {len(runs)} | {train_s} |")
    if any("probe" in r or "sick" in r for r in results):
        lines += ["", f"Forgetting: zero-shot accuracy on {probe_name or '-'} (a set not trained on) and 3-way SICK "
                  "accuracy of the same model, before (0 shots) and after fine-tuning.", "",
                  f"| trained on | shots | variant | accuracy ({on}) | {probe_name or 'probe'} accuracy | "
                  f"{probe_name or 'probe'} macro-F1 | SICK accuracy | runs |", "|---|---|---|---|---|---|---|---|"]
        for (data, shots, variant), runs in keys.items():
            probe_acc = mean_sd(r["probe"]["accuracy"] for r in runs if "probe" in r)
            probe_f = mean_sd(r["probe"]["macro_f"] for r in runs if "probe" in r)
            sick = mean_sd(r["sick"] for r in runs if "sick" in r)
            lines.append(f"| {data} | {shots} | {variant} | {mean_sd(r['accuracy'] for r in runs)} | {probe_acc} | "
                         f"{probe_f} | {sick} | {len(runs)} |")
    return "\n".join(lines)


def planned_runs(args: argparse.Namespace, name: str) -> List[Tuple[int, Optional[int], str]]:
    """(shots, seed, variant) of every run for one data set, seed by seed (so that a run cut
    short still has every N, and `--resume` completes it)."""
    runs: List[Tuple[int, Optional[int], str]] = [(0, None, "default")] if 0 in args.shots else []
    for seed in range(max(args.seeds, args.guard_seeds if name in args.guards_on else 0)):
        if seed < args.seeds:
            runs += [(shots, seed, "default") for shots in args.shots if shots > 0]
        if name in args.guards_on and seed < args.guard_seeds:
            runs += [(args.guard_shots, seed, variant) for variant in GUARDS]
    return runs


def run(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Every planned run; with `--out`, the figures are saved after each run, and `--resume`
    keeps the runs already saved there."""
    results: List[Dict[str, Any]] = []
    if args.resume and args.out and args.out.exists():
        results = json.loads(args.out.read_text(encoding="utf8"))["runs"]
    done = {(r["data"], r["shots"], r["seed"], r["variant"]) for r in results}
    sick = sample_sick(args.data, args.sick_size) if args.sick_size else []
    probe = load_text_task(args.probe, args.data, args.probe_size, 0) if args.probe != "none" else None
    work = Path(args.work or tempfile.mkdtemp(prefix="fewshot-"))
    for name in args.datasets:
        task = load_text_task(name, args.data, args.test_size, args.dev_per_label, TUNE_SIZE)
        log(f"{name}: {len(task.labels)} labels, pool {len(task.pool)}, dev {len(task.dev)}, "
            f"{args.on} {len(task.tune if args.on == 'tune' else task.test)}")
        probes = (probe if probe is not None and probe.name != name and name in args.probe_on else None,
                  sick if name in args.probe_on else [])
        for shots, seed, variant in planned_runs(args, name):
            if (name, shots, seed, variant) in done:
                continue
            if shots == 0:
                overrides = {**textcat_overrides(task, args.model, args.device), **args.overrides}
                result = measure(zero_shot_pipeline(args.config, overrides), task, args.on, *probes, args.batch_size)
                result.update({"data": name, "shots": 0, "seed": None, "variant": variant, "train_seconds": 0.0})
            else:
                result = run_one(args, task, shots, seed, variant, GUARDS.get(variant, {}), *probes, work)
            results.append(report(result))
            if args.out:
                save(args, results)
    return results


def save(args: argparse.Namespace, results: List[Dict[str, Any]]) -> None:
    settings = {k: v if isinstance(v, (int, float, str, list, dict, type(None))) else str(v) for k, v in vars(args).items()}
    args.out.write_text(json.dumps({"args": settings, "runs": results}, indent=1), encoding="utf8")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def report(result: Dict[str, Any]) -> Dict[str, Any]:
    extra = ""
    if "probe" in result:
        extra += f" probe acc {result['probe']['accuracy']:.3f}"
    if "sick" in result:
        extra += f" sick {result['sick']:.3f}"
    log(f"  {result['data']} {result['shots']}-shot seed {result['seed']} {result['variant']}: "
        f"acc {result['accuracy']:.3f} macro-F1 {result['macro_f']:.3f}{extra} ({result['train_seconds']:.0f}s)")
    return result


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hub id or local folder of an NLI model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 8, 64], help="examples per label (0: zero-shot)")
    parser.add_argument("--seeds", type=int, default=5, help="draws per N (seeds 0..S-1)")
    parser.add_argument("--datasets", nargs="+", default=list(TEXT_TASKS), choices=TEXT_TASKS)
    parser.add_argument("--test-size", type=int, default=300, help="test texts per data set")
    parser.add_argument("--dev-per-label", type=int, default=8, help="dev docs per label for spacy train")
    parser.add_argument("--on", choices=("test", "tune"), default="test",
                        help="score on the test split, or on the 'tune' split (for choosing settings)")
    parser.add_argument("--pick", choices=("best", "last"), default="best",
                        help="score model-best (chosen on dev, as a user would) or model-last (for studying training)")
    parser.add_argument("--probe", default="trec", choices=("trec", "ag_news", "emotion", "sst5", "none"))
    parser.add_argument("--probe-size", type=int, default=200)
    parser.add_argument("--sick-size", type=int, default=500, help="SICK pairs for the NLI probe (0: off)")
    parser.add_argument("--guards-on", nargs="*", default=["ag_news"], help="data sets to run the guard variants on")
    parser.add_argument("--guard-shots", type=int, default=8)
    parser.add_argument("--guard-seeds", type=int, default=3, help="seeds of each guard variant")
    parser.add_argument("--probe-on", nargs="*", default=["ag_news"],
                        help="data sets whose runs are probed for forgetting (probes cost as much as the test)")
    parser.add_argument("--resume", action="store_true", help="keep the runs already saved in --out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override, e.g. training.max_epochs=20 (JSON values)")
    parser.add_argument("--batch-size", type=int, default=64, help="docs per nlp.pipe batch when scoring")
    parser.add_argument("--work", default=None, help="folder for corpora and trained pipelines (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="write every run's figures as JSON here")
    parser.add_argument("--short", action="store_true", help="smoke run: 1 seed, 2 shots, AG News, tiny splits")
    args = parser.parse_args(argv)
    if args.short:
        args.seeds, args.shots, args.datasets = 1, [0, 2], ["ag_news"]
        args.test_size, args.dev_per_label, args.probe_size, args.sick_size = 8, 1, 6, 6
        args.guard_shots, args.guard_seeds = 2, 1
        args.set = ["training.max_epochs=1", "training.eval_frequency=2",
                    "training.optimizer.learn_rate.warmup_steps=0", *args.set]
    args.overrides = dict((key, parse_value(value)) for key, _, value in (item.partition("=") for item in args.set))
    return args


def main(argv: Optional[Sequence[str]] = None) -> Optional[List[Dict[str, Any]]]:
    args = parse_args(argv)
    if not (args.data / "ag_news" / "test.csv").exists():
        print(f"shared data not found at {args.data}; skipping.")
        return None
    start = time.perf_counter()
    results = run(args)
    print(f"model: {args.model}   config: {args.config}   seeds: {args.seeds}   test size: {args.test_size}")
    if args.overrides:
        print(f"overrides: {json.dumps(args.overrides)}")
    print(tables(results, args.on, args.probe if args.probe != "none" else None))
    print(f"\ntotal time: {time.perf_counter() - start:.0f}s")
    return results


if __name__ == "__main__":
    main()
