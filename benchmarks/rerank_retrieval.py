"""Zero-shot reranking on a labelled text collection used as a retrieval set.

Each class becomes a query (a short description of the class), the collection's texts the
documents to rank, and the texts of that class the relevant ones. `ZeroShotClassifier.rerank`
ranks every document for every query in one call; reported per query and on average: MRR
(reciprocal rank of the first relevant text), nDCG@10 and P@10 (binary relevance), and
average precision, next to the same figures for a random order (mean of 100 shuffles), and
NLI pairs per second. With `--hf`, transformers' zero-shot pipeline (the query as its only
label, `multi_label=True`, over the list of texts with `batch_size=32`) scores the same pairs
in the same run, rounds alternating, for a side-by-side speed ratio and a parity check.

    python benchmarks/rerank_retrieval.py --model ../shared/models/minilm-nli --data agnews --per-class 50 --hf
    python benchmarks/rerank_retrieval.py --model ../shared/models/minilm-nli --data trec --per-class 40

The data (AG News test texts, TREC questions) is read by path from ../shared/data (research
licences: never copied into the project); the script exits cleanly when it is absent.
"""

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import MINILM, SHARED_DATA  # noqa: E402

# Query (class description) per class id, and the hypothesis template, per data set.
DATASETS: Dict[str, Dict[str, Any]] = {
    "agnews": {
        "path": SHARED_DATA / "ag_news" / "test.csv",
        "queries": {
            "1": "world news and politics",
            "2": "sports",
            "3": "business and the economy",
            "4": "science and technology",
        },
        "template": "This text is about {}.",
    },
    "trec": {
        "path": SHARED_DATA / "trec" / "TREC.test.all",
        "queries": {
            "0": "a description or definition",
            "1": "an entity or a thing",
            "2": "an abbreviation",
            "3": "a person",
            "4": "a location",
            "5": "a number or a date",
        },
        "template": "This question asks for {}.",
    },
}
K = 10


def read_collection(name: str, path: Path, per_class: int) -> Tuple[List[str], List[str]]:
    """The first `per_class` texts of each class, in file order: (texts, class ids)."""
    rows: List[Tuple[str, str]] = []
    if name == "agnews":
        with path.open(encoding="utf8", newline="") as file:
            rows = [(row[0], f"{row[1]}. {row[2]}".replace("\\", " ")) for row in csv.reader(file)]
    else:
        with path.open(encoding="latin-1") as file:
            rows = [tuple(line.rstrip("\n").split(" ", 1)) for line in file if line.strip()]  # type: ignore[misc]
    counts: Dict[str, int] = {}
    texts, labels = [], []
    for label, text in rows:
        if counts.get(label, 0) < per_class:
            counts[label] = counts.get(label, 0) + 1
            texts.append(text)
            labels.append(label)
    return texts, labels


def average_precision(relevant: Sequence[bool]) -> float:
    hits, total = 0, 0.0
    for rank, hit in enumerate(relevant, start=1):
        if hit:
            hits += 1
            total += hits / rank
    return total / max(hits, 1)


def ranking_metrics(relevant: Sequence[bool]) -> Dict[str, float]:
    from spacy_zeroshot.tasks.ranking import ndcg, reciprocal_rank

    return {
        "mrr": reciprocal_rank(relevant),
        "ndcg@10": ndcg([float(r) for r in relevant], k=K) or 0.0,
        "p@10": sum(relevant[:K]) / K,
        "ap": average_precision(relevant),
    }


def mean_metrics(rows: Sequence[Dict[str, float]]) -> Dict[str, float]:
    return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}


def random_baseline(labels: Sequence[str], query_ids: Sequence[str], shuffles: int = 100) -> Dict[str, float]:
    rng = random.Random(0)
    rows = []
    for _ in range(shuffles):
        order = list(range(len(labels)))
        rng.shuffle(order)
        rows.extend(ranking_metrics([labels[i] == qid for i in order]) for qid in query_ids)
    return mean_metrics(rows)


def count_backend_calls(backend: Any) -> List[int]:
    """Record the number of pairs of every backend call (to show that a rerank call pools them)."""
    calls: List[int] = []
    score = backend.score

    def counting(pairs: Any, **kwargs: Any) -> Any:
        calls.append(len(pairs))
        return score(pairs, **kwargs)

    backend.score = counting
    return calls


def run_ours(classifier: Any, queries: List[str], texts: List[str], template: str) -> Tuple[float, List[Dict[str, Any]]]:
    start = time.perf_counter()
    results = classifier.rerank(queries, texts, template=template)
    return time.perf_counter() - start, results


def run_hf(hf: Any, queries: List[str], texts: List[str], template: str) -> Tuple[float, List[List[float]]]:
    start = time.perf_counter()
    scores = []
    for query in queries:
        outputs = hf(texts, [query], hypothesis_template=template, multi_label=True, batch_size=32)
        scores.append([out["scores"][0] for out in outputs])
    return time.perf_counter() - start, scores


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MINILM), help="hub id or local folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", choices=sorted(DATASETS), default="agnews")
    parser.add_argument("--data-path", default=None, help="override the data file")
    parser.add_argument("--per-class", type=int, default=50, help="texts per class in the collection")
    parser.add_argument("--template", default=None, help="hypothesis template (default: per data set)")
    parser.add_argument("--hf", action="store_true", help="also time transformers' pipeline on the same pairs")
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds (alternating with --hf)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)

    spec = DATASETS[args.data]
    path = Path(args.data_path) if args.data_path else spec["path"]
    if not path.exists():
        print(f"{path} not found: skipping the reranking benchmark.")
        return 0
    texts, labels = read_collection(args.data, path, args.per_class)
    query_ids = [qid for qid in spec["queries"] if qid in set(labels)]
    queries = [spec["queries"][qid] for qid in query_ids]
    template = args.template or spec["template"]
    n_pairs = len(queries) * len(texts)

    from spacy_zeroshot import ZeroShotClassifier

    classifier = ZeroShotClassifier(args.model, device=args.device, dtype="float32")
    calls = count_backend_calls(classifier.backend)
    classifier.rerank(queries[0], texts[:4], template=template)  # load and warm up
    hf = None
    if args.hf:
        import torch
        from transformers import pipeline

        hf = pipeline("zero-shot-classification", model=args.model, device=args.device, torch_dtype=torch.float32)
        hf(texts[:4], [queries[0]], hypothesis_template=template, multi_label=True)
    calls.clear()
    ours_s, hf_s = 0.0, 0.0
    results: List[Dict[str, Any]] = []
    hf_scores: List[List[float]] = []
    for _ in range(args.repeat):
        seconds, results = run_ours(classifier, queries, texts, template)
        ours_s += seconds
        if hf is not None:
            seconds, hf_scores = run_hf(hf, queries, texts, template)
            hf_s += seconds

    per_query = []
    for qid, query, result in zip(query_ids, queries, results):
        relevant = [labels[i] == qid for i in result["indices"]]
        per_query.append({"query": query, "relevant": sum(labels[i] == qid for i in range(len(texts))), **ranking_metrics(relevant)})
    figures: Dict[str, Any] = {
        "data": args.data,
        "model": args.model,
        "template": template,
        "texts": len(texts),
        "queries": len(queries),
        "nli_pairs": n_pairs,
        "backend_calls_per_rerank": len(calls) // args.repeat,
        "per_query": per_query,
        "mean": mean_metrics([{k: v for k, v in row.items() if k not in ("query", "relevant")} for row in per_query]),
        "random": random_baseline(labels, query_ids),
        "pairs_per_s": n_pairs * args.repeat / ours_s,
    }
    if hf is not None:
        figures["hf_pairs_per_s"] = n_pairs * args.repeat / hf_s
        figures["speedup_vs_hf"] = hf_s / ours_s
        by_text = [{i: s for i, s in zip(r["indices"], r["scores"])} for r in results]
        figures["max_abs_diff_vs_hf"] = max(abs(by_text[q][i] - s) for q, row in enumerate(hf_scores) for i, s in enumerate(row))

    print(f"## Reranking {len(texts)} {args.data} texts for {len(queries)} queries ({n_pairs} NLI pairs), {args.model}")
    print(f"template {template!r}; {figures['backend_calls_per_rerank']} backend call(s) per rerank call\n")
    print("| query | relevant | MRR | nDCG@10 | P@10 | AP |\n|---|---|---|---|---|---|")
    for row in per_query:
        print(f"| {row['query']} | {row['relevant']} | {row['mrr']:.3f} | {row['ndcg@10']:.3f} | {row['p@10']:.3f} | {row['ap']:.3f} |")
    for name, row in (("mean", figures["mean"]), ("random order (mean of 100 shuffles)", figures["random"])):
        print(f"| **{name}** | | {row['mrr']:.3f} | {row['ndcg@10']:.3f} | {row['p@10']:.3f} | {row['ap']:.3f} |")
    print(f"\nZeroShotClassifier.rerank: {figures['pairs_per_s']:.1f} pairs/s ({ours_s:.2f} s for {args.repeat} round(s))")
    if hf is not None:
        print(
            f"transformers pipeline (per query, list of texts, batch_size=32): {figures['hf_pairs_per_s']:.1f} pairs/s "
            f"({hf_s:.2f} s); speed-up {figures['speedup_vs_hf']:.2f}x; max |score diff| {figures['max_abs_diff_vs_hf']:.2e}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
