"""Few-shot entity typing (CoNLL-2003) and relations (SemEval-2010 task 8) through `spacy train`.

`typing`: gold entity spans of CoNLL-2003 are typed as PER / ORG / LOC / MISC by
`zeroshot_entity_typer` (every span "*", descriptions as hypotheses). Training sentences come
from eng.testa, drawn greedily until every type has N gold mentions (the usual N-way K-shot
sampling for entities: a sentence keeps all its entities, so some types get a few more);
the test sentences come from eng.testb. Reported: `ents_f` (with gold boundaries, typing
accuracy) and macro-F1 over the four types.

`relations`: SemEval-2010 task 8 sentences, the two nominals as `doc.ents`, the 9 relations
verbalized as in benchmarks/relations_semeval.py; "Other" means no relation. Training draws N
sentences per relation (and N "Other") from the first part of test.jsonl, the test sentences
come from the second part. Reported: the component's `rel_micro_f` and the task's macro-F1
(9 relations, direction required, Other excluded; one best relation per sentence).

Both train with `spacy train configs/fewshot_pipeline.cfg` (the other task's component left
out of `nlp.pipeline`), corpora written as DocBins; dev and test docs carry the gold spans as
the pipeline's input (the dev corpus through a registered augmenter). The data is read by
path from ../shared/data and never copied.

Settings are chosen on dev, never on test: every trained run also reports `dev_<score>`, the
dev score of `model-best` as `spacy train` measured it (its meta.json). Forgetting: with
`--sick-size` / `--probe-size`, every pipeline is also probed as fewshot_table.py probes it
(3-way SICK accuracy of the NLI model, zero-shot TREC question types).

    python benchmarks/fewshot_entities.py typing --model ../shared/models/minilm-nli --shots 0 8 --seeds 3
    python benchmarks/fewshot_entities.py relations --model ../shared/models/minilm-nli --shots 0 8 --seeds 3
    python benchmarks/fewshot_entities.py relations --model M --shots 0 8 --seeds 5 --templates 1 --calibrate \
        --sick-size 300 --probe-size 150 --out relations.json
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, load_text_task, read_jsonl, sample_sick  # noqa: E402
from fewshot_table import probe_sick, probe_textcat, train_pipeline  # noqa: E402
from relations_semeval import OTHER, TEMPLATES, directed, evaluate, gold_relations  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "fewshot_pipeline.cfg"
TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous thing"}
TYPER, RELATIONS = "zeroshot_entity_typer", "zeroshot_relation_extractor"
RELATION_SPLIT = 1400  # test.jsonl rows before this are drawn from, rows after it are tested on
PLACEHOLDER = "ENT"
# Scoring pipelines keep every scored pair: the test set is scored again after calibration.
SCORING_CACHE = 500_000


# ------------------------------------------------------------------------- CoNLL-2003 typing


def conll_doc(nlp: Language, record: Dict[str, Any], label: Optional[str] = None) -> Doc:
    doc = Doc(nlp.vocab, words=record["tokens"])
    doc.ents = [Span(doc, e["token_start"], e["token_end"], label=label or e["label"]) for e in record["entities"]]
    return doc


def draw_sentences(records: Sequence[Dict[str, Any]], per_type: int, rng: random.Random) -> List[Dict[str, Any]]:
    """Sentences in random order, each kept if it adds a mention of a type still short of
    `per_type` (all its entities come along)."""
    order = list(records)
    rng.shuffle(order)
    counts = dict.fromkeys(TYPES, 0)
    chosen = []
    for record in order:
        labels = [e["label"] for e in record["entities"]]
        if any(counts[label] < per_type for label in labels):
            chosen.append(record)
            for label in labels:
                counts[label] += 1
        if all(n >= per_type for n in counts.values()):
            break
    return chosen


def typing_data(data: Path, test_size: int, dev_size: int) -> Tuple[List[dict], List[dict], List[dict]]:
    """(pool, dev, test) sentences with at least one entity: pool and dev from eng.testa,
    test from eng.testb (both at random, fixed seed)."""
    folder = data / "conll2003"
    testa = [r for r in read_jsonl(folder / "eng.testa.spans.jsonl") if r["entities"]]
    testb = [r for r in read_jsonl(folder / "eng.testb.spans.jsonl") if r["entities"]]
    rng = random.Random(2003)
    dev = rng.sample(testa, dev_size)
    chosen = {id(r) for r in dev}
    return [r for r in testa if id(r) not in chosen], dev, rng.sample(testb, test_size)


def typing_scores(nlp: Language, test: Sequence[dict]) -> Dict[str, float]:
    examples = [Example(conll_doc(nlp, r, PLACEHOLDER), conll_doc(nlp, r)) for r in test]
    scores = nlp.evaluate(examples)
    per_type = scores["ents_per_type"]
    return {"ents_f": scores["ents_f"], "macro_f": statistics.mean(per_type.get(t, {"f": 0.0})["f"] for t in TYPES)}


# ------------------------------------------------------------------ SemEval-2010 relations


def semeval_doc(nlp: Language, row: Dict[str, Any]) -> Optional[Tuple[Doc, Tuple[int, int]]]:
    """The sentence with e1/e2 as `doc.ents` and its gold relation; None if they overlap."""
    doc = nlp.make_doc(row["text"])
    e1 = doc.char_span(row["e1"]["start"], row["e1"]["end"], label="E1", alignment_mode="expand")
    e2 = doc.char_span(row["e2"]["start"], row["e2"]["end"], label="E2", alignment_mode="expand")
    if e1 is None or e2 is None or (e1.start < e2.end and e2.start < e1.end):
        return None
    doc.ents = sorted([e1, e2], key=lambda span: span.start)
    doc._.relations = gold_relations(row, (e1.start, e1.end), (e2.start, e2.end))
    return doc, (e1.start, e1.end)


def relation_data(data: Path, test_size: int, dev_size: int) -> Tuple[List[dict], List[dict], List[dict]]:
    rows = read_jsonl(data / "semeval2010_task8" / "test.jsonl")
    rng = random.Random(2010)
    first, second = rows[:RELATION_SPLIT], rows[RELATION_SPLIT:]
    dev = rng.sample(first, dev_size)
    chosen = {r["id"] for r in dev}
    return [r for r in first if r["id"] not in chosen], dev, rng.sample(second, test_size)


def draw_relations(rows: Sequence[dict], per_relation: int, rng: random.Random) -> List[dict]:
    chosen: List[dict] = []
    for relation in [*TEMPLATES, OTHER]:
        of_relation = [r for r in rows if r["relation"] == relation]
        chosen.extend(rng.sample(of_relation, min(per_relation, len(of_relation))))
    rng.shuffle(chosen)
    return chosen


def relation_examples(nlp: Language, rows: Sequence[dict]) -> List[Tuple[dict, Example]]:
    """(row, example) per usable row: the predicted doc carries the gold nominals as
    `doc.ents` (as an NER would find them) and no relations."""
    made = [(row, semeval_doc(nlp, row)) for row in rows]
    examples = []
    for row, m in made:
        if m is not None:
            predicted = m[0].copy()
            predicted._.relations = None
            examples.append((row, Example(predicted, m[0])))
    return examples


def calibrate_relations(nlp: Language, dev: Sequence[dict]) -> Dict[str, float]:
    """Fit the relation thresholds on the dev rows (the calibration of `calibrate`):
    one per relation with enough dev positives, else the global one. RETURNS the thresholds."""
    component = nlp.get_pipe(RELATIONS)
    component.calibrate([example for _, example in relation_examples(nlp, dev)], min_examples=5)
    return {"threshold": component.cfg["threshold"], **component.cfg["thresholds"]}


def relation_scores(nlp: Language, test: Sequence[dict]) -> Dict[str, float]:
    made = [(row, semeval_doc(nlp, row)) for row in test]
    kept = [(row, m) for row, m in made if m is not None]
    inputs = [example.predicted for _, example in relation_examples(nlp, test)]
    docs = list(nlp.pipe(inputs))
    scores = Scorer(nlp).score([Example(doc, gold) for doc, (_, (gold, _)) in zip(docs, kept)])
    predicted_labels = []
    for doc, (_, (_, e1)) in zip(docs, kept):
        best = max(doc._.relations or [], key=lambda rel: rel["score"], default=None)
        predicted_labels.append(OTHER if best is None else directed(best["label"], best["head"], e1))
    task = evaluate([row["label"] for row, _ in kept], predicted_labels)
    return {"rel_micro_f": scores["rel_micro_f"], "macro_f": task["macro_f"], "micro_f": task["micro_f"]}


# ------------------------------------------------------------------------------- running


TASKS: Dict[str, Dict[str, Any]] = {
    "typing": {"component": TYPER, "data": typing_data, "scores": typing_scores, "main": "ents_f",
               "overrides": {f"components.{TYPER}.labels": {"*": TYPES}, f"components.{TYPER}.context": "doc"},
               "augmenter": {"@augmenters": "spacy-zeroshot.gold_spans.v1", "label": PLACEHOLDER}},
    "relations": {"component": RELATIONS, "data": relation_data, "scores": relation_scores, "main": "rel_micro_f",
                  "overrides": {f"components.{RELATIONS}.labels": TEMPLATES, f"components.{RELATIONS}.context": "doc",
                                f"components.{RELATIONS}.max_distance": 100_000},
                  "augmenter": {"@augmenters": "spacy-zeroshot.gold_spans.v1", "label": None}},
}


def overrides_for(task: str, args: argparse.Namespace) -> Dict[str, Any]:
    spec = TASKS[task]
    templates = {f"components.{RELATIONS}.labels": {k: v[: args.templates] for k, v in TEMPLATES.items()}}
    return {
        "nlp.pipeline": ["zeroshot_nli", spec["component"]],
        "training.annotating_components": [],
        "components.zeroshot_nli.model": args.model,
        "components.zeroshot_nli.device": args.device,
        **spec["overrides"],
        **(templates if task == "relations" else {}),
        **args.overrides,
    }


def write_docbin(docs: Sequence[Doc], path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return str(path)


def training_docs(task: str, nlp: Language, records: Sequence[dict]) -> List[Doc]:
    if task == "typing":
        return [conll_doc(nlp, r) for r in records]
    return [m[0] for r in records if (m := semeval_doc(nlp, r)) is not None]


def run(task: str, args: argparse.Namespace) -> List[Dict[str, Any]]:
    spec = TASKS[task]
    pool, dev, test = spec["data"](args.data, args.test_size, args.dev_size)
    base = overrides_for(task, args)
    scoring = {**base, "components.zeroshot_nli.cache_size": SCORING_CACHE}
    nlp = load_model_from_config(load_config(args.config, overrides=scoring, interpolate=False), auto_fill=True)
    probes = (load_text_task("trec", args.data, args.probe_size, 0) if args.probe_size else None,
              sample_sick(args.data, args.sick_size) if args.sick_size else [])
    results: List[Dict[str, Any]] = []
    if 0 in args.shots:
        zero = {"task": task, "shots": 0, "seed": None, **spec["scores"](nlp, test), "train_seconds": 0.0}
        results.append(report({**zero, **forgetting(nlp, *probes)}, args.out, results))
        if args.calibrate and task == "relations":
            thresholds = calibrate_relations(nlp, dev)
            results.append(report({"task": task, "shots": "0+cal", "seed": None, **spec["scores"](nlp, test),
                                   "train_seconds": 0.0, "thresholds": thresholds}, args.out, results))
    work = Path(args.work or tempfile.mkdtemp(prefix=f"fewshot-{task}-"))
    for shots in [n for n in args.shots if n > 0]:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rng = random.Random(f"{seed}-{task}-{shots}")
            drawn = draw_sentences(pool, shots, rng) if task == "typing" else draw_relations(pool, shots, rng)
            folder = work / f"{task}-{shots}-{seed}"
            overrides = {
                **base,
                "paths.train": write_docbin(training_docs(task, nlp, drawn), folder / "train.spacy"),
                "paths.dev": write_docbin(training_docs(task, nlp, dev), folder / "dev.spacy"),
                "corpora.dev.augmenter": spec["augmenter"],
                "system.seed": seed,
            }
            start = time.perf_counter()
            best = train_pipeline(args.config, folder / "out", overrides, folder / "train.log")
            seconds = time.perf_counter() - start
            trained = spacy.load(best, config={"components": {"zeroshot_nli": {"cache_size": SCORING_CACHE}}})
            meta = json.loads((best / "meta.json").read_text(encoding="utf8"))
            dev_score = (meta.get("performance") or {}).get(spec["main"])
            scores = {**spec["scores"](trained, test), f"dev_{spec['main']}": dev_score}
            run_info = {"train_seconds": seconds, "train_docs": len(drawn)}
            results.append(report({"task": task, "shots": shots, "seed": seed, **scores, **run_info,
                                   **forgetting(trained, *probes)}, args.out, results))
            if args.calibrate and task == "relations":
                thresholds = calibrate_relations(trained, dev)
                results.append(report({"task": task, "shots": f"{shots}+cal", "seed": seed,
                                       **spec["scores"](trained, test), **run_info, "thresholds": thresholds},
                                      args.out, results))
    return results


def forgetting(nlp: Language, probe: Optional[Any], sick: Sequence[Any]) -> Dict[str, float]:
    """fewshot_table.py's probes of the pipeline's NLI model: zero-shot accuracy on `probe` (TREC)
    and 3-way SICK accuracy ({} when both are off)."""
    found = {"trec_acc": probe_textcat(nlp, probe)["accuracy"]} if probe is not None else {}
    return {**found, "sick_acc": probe_sick(nlp, sick)} if sick else found


def report(result: Dict[str, Any], out: Optional[Path] = None, done: Sequence[Dict[str, Any]] = ()) -> Dict[str, Any]:
    """Print one run's figures; with `out`, save every run so far (a run cut short keeps them)."""
    figures = " ".join(f"{k} {v:.3f}" for k, v in result.items() if k.endswith(("_f", "_acc")) and v is not None)
    print(f"  {result['task']} {result['shots']}-shot seed {result['seed']}: {figures} "
          f"({result.get('train_docs', 0)} docs, {result['train_seconds']:.0f}s)", file=sys.stderr, flush=True)
    if out is not None:
        out.write_text(json.dumps([*done, result], indent=1), encoding="utf8")
    return result


def mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def table(task: str, results: Sequence[Dict[str, Any]]) -> str:
    """Mean ± sd over seeds of every score (x100), the main score's per-seed values, and the
    dev score and forgetting probes where measured."""
    keys = [k for k in results[0] if k.endswith("_f") and not k.startswith("dev_")] if results else []
    main = TASKS[task]["main"]
    extra = [k for k in (f"dev_{main}", "trec_acc", "sick_acc") if any(r.get(k) is not None for r in results)]
    lines = [f"| task | shots | {' | '.join(keys + extra)} | {main} per seed | runs | train docs | train s |",
             "|---|---|" + "---|" * (len(keys) + len(extra) + 4)]
    for shots in sorted({r["shots"] for r in results}, key=str):
        runs = [r for r in results if r["shots"] == shots]
        cells = [mean_sd([100 * r[k] for r in runs if r.get(k) is not None]) for k in keys + extra]
        per_seed = " / ".join(f"{100 * r[main]:.1f}" for r in runs)
        docs = statistics.mean(r.get("train_docs", 0) for r in runs)
        seconds = statistics.mean(r["train_seconds"] for r in runs)
        lines.append(f"| {task} | {shots} | {' | '.join(cells)} | {per_seed} | {len(runs)} | {docs:.0f} | {seconds:.0f} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Optional[List[Dict[str, Any]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--model", required=True, help="hub id or local folder of an NLI model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 8],
                        help="gold mentions per type (typing) or sentences per relation (relations); 0: zero-shot")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds FIRST..FIRST+SEEDS-1 (to split a run over processes)")
    parser.add_argument("--test-size", type=int, default=150, help="test sentences")
    parser.add_argument("--dev-size", type=int, default=20, help="dev sentences for spacy train")
    parser.add_argument("--templates", type=int, default=2, help="relations: templates per relation (1 halves the pairs)")
    parser.add_argument("--calibrate", action="store_true",
                        help="relations: also fit the thresholds on the dev sentences (zero-shot and after training)")
    parser.add_argument("--sick-size", type=int, default=0, help="forgetting: SICK pairs for the NLI probe (0: off)")
    parser.add_argument("--probe-size", type=int, default=0, help="forgetting: TREC questions, zero-shot (0: off)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--short", action="store_true", help="smoke run: 1 seed, 1 shot, tiny splits")
    args = parser.parse_args(argv)
    if args.short:
        args.seeds, args.shots, args.test_size, args.dev_size = 1, [0, 1], 4, 2
        args.set = ["training.max_epochs=1", "training.eval_frequency=2", "training.optimizer.learn_rate.warmup_steps=0",
                    *args.set]
    args.overrides = {key: json.loads(value) if value[:1] in "[{0123456789-tfn\"" else value
                      for key, _, value in (item.partition("=") for item in args.set)}
    needed = "conll2003" if args.task == "typing" else "semeval2010_task8"
    if not (args.data / needed).is_dir():
        print(f"{needed} not found under {args.data}; skipping.")
        return None
    start = time.perf_counter()
    results = run(args.task, args)
    print(f"model: {args.model}   config: {args.config}   test sentences: {args.test_size}   seeds: {args.seeds}")
    if args.overrides:
        print(f"overrides: {json.dumps(args.overrides)}")
    print(table(args.task, results))
    print(f"\ntotal time: {time.perf_counter() - start:.0f}s")
    return results


if __name__ == "__main__":
    main()
