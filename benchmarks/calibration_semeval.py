"""Dev-calibrated relation thresholds on SemEval-2010 task 8: held-out F1 before and after.

The SemEval test set (read by path; research licence, never copied into the project) is
shuffled with a fixed seed and split into a dev part, on which
`zeroshot_relation_extractor.calibrate` chooses one threshold per relation (and, with
`--wording`, each relation's verbalization among its single templates), and a disjoint
held-out part, on which the same pipeline is scored with the default threshold and then with
the calibrated ones. "Other" is the no-relation class. Reported, before -> after on the
held-out part: the component's `rel_micro_p/r/f` over every (head, tail) decision, and the
sentence-level figures of `relations_semeval.py` (the best emitted relation per sentence:
directed micro P/R/F and the macro-F1 over the 9 relations, Other excluded).

    python benchmarks/calibration_semeval.py --model ../shared/models/minilm-nli --dev 600 --test 1200
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.training import Example

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relations_semeval import DEFAULT_DATA, OTHER, TEMPLATES, directed, evaluate, gold_relations, make_doc, read_rows  # noqa: E402

from spacy_zeroshot.tasks.relations import score_relations  # noqa: E402

Prepared = Tuple[Dict[str, Any], Example, Tuple[int, int]]


def build(model: str, device: str, threshold: float) -> Language:
    nlp = spacy.blank("en")
    # A large pair cache: the held-out set is scored twice (before and after) with the same pairs.
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device, "cache_size": 1_000_000})
    config = {"labels": TEMPLATES, "threshold": threshold, "max_distance": 100_000, "context": "doc"}
    nlp.add_pipe("zeroshot_relation_extractor", config=config)
    return nlp


def prepare(nlp: Language, rows: Sequence[Dict[str, Any]]) -> List[Prepared]:
    """Examples whose predicted doc holds the two nominals as entities and whose reference
    also holds the gold relation (none for Other)."""
    prepared = []
    for row in rows:
        made = make_doc(nlp, row)
        if made is None:
            continue
        doc, e1, e2 = made
        reference = doc.copy()
        reference._.relations = gold_relations(row, e1, e2)
        prepared.append((row, Example(doc, reference), e1))
    return prepared


def held_out_scores(nlp: Language, prepared: Sequence[Prepared], batch_size: int) -> Dict[str, Any]:
    examples = [example for _, example, _ in prepared]
    docs = list(nlp.pipe([example.predicted.copy() for example in examples], batch_size=batch_size))
    gold, predicted = [], []
    for (row, _, e1), doc in zip(prepared, docs):
        gold.append(row["label"])
        best = max(doc._.relations, key=lambda rel: rel["score"], default=None)
        predicted.append(OTHER if best is None else directed(best["label"], best["head"], e1))
    result = evaluate(gold, predicted)
    component = score_relations([Example(doc, example.reference) for doc, example in zip(docs, examples)])
    result.update({key: component[key] for key in ("rel_micro_p", "rel_micro_r", "rel_micro_f")})
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SemEval-2010 task 8 test.jsonl")
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dev", type=int, default=600, help="sentences to calibrate on")
    parser.add_argument("--test", type=int, default=1200, help="held-out sentences (disjoint from dev)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.5, help="the default threshold (before)")
    parser.add_argument("--min-examples", type=int, default=10)
    parser.add_argument("--wording", action="store_true", help="also choose each relation's templates on dev")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SemEval-2010 task 8 data not found at {args.data}; skipping.")
        return 0
    rows = read_rows(args.data, None)
    random.Random(args.seed).shuffle(rows)
    dev_rows, test_rows = rows[: args.dev], rows[args.dev : args.dev + args.test]
    nlp = build(args.model, args.device, args.threshold)
    nlp.get_pipe("zeroshot_nli").backend.load()
    dev, test = prepare(nlp, dev_rows), prepare(nlp, test_rows)
    print(f"model: {args.model}   dev: {len(dev)} sentences   held-out: {len(test)} sentences (seed {args.seed})")

    start = time.perf_counter()
    before = held_out_scores(nlp, test, args.batch_size)
    scored_seconds = time.perf_counter() - start
    extractor = nlp.get_pipe("zeroshot_relation_extractor")
    dev_examples = [example for _, example, _ in dev]
    start = time.perf_counter()
    report = extractor.calibrate(dev_examples, min_examples=args.min_examples)
    calibration_seconds = time.perf_counter() - start
    after = held_out_scores(nlp, test, args.batch_size)
    columns = [("default", before), ("calibrated", after)]
    print(f"held-out scoring: {scored_seconds:.1f}s   calibration on dev: {calibration_seconds:.1f}s")
    print()
    print(report.table())
    if args.wording:
        # Then also each relation's verbalization: its two templates, or either alone (all
        # already scored, so this adds no model calls).
        descriptions = {label: [[t] for t in templates] for label, templates in TEMPLATES.items()}
        wording_report = extractor.calibrate(dev_examples, descriptions=descriptions, min_examples=args.min_examples)
        columns.append(("+ wording", held_out_scores(nlp, test, args.batch_size)))
        print()
        print(wording_report.table())
    print()
    print(f"held-out ({len(test)} sentences)".ljust(52) + "".join(f"{name:>12}" for name, _ in columns))
    figures = [
        ("component rel_micro P (every head/tail decision)", "rel_micro_p"),
        ("component rel_micro R", "rel_micro_r"),
        ("component rel_micro F", "rel_micro_f"),
        ("sentence-level directed micro P", "micro_p"),
        ("sentence-level directed micro R", "micro_r"),
        ("sentence-level directed micro F", "micro_f"),
        ("macro-F1 (9 relations, direction, Other excluded)", "macro_f"),
    ]
    for name, key in figures:
        print(f"  {name:<50}" + "".join(f"{scores[key]:>12.3f}" for _, scores in columns))
    if args.json:
        payload = {"held_out": dict(columns), "report": report.to_dict(), "dev": len(dev), "test": len(test)}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
