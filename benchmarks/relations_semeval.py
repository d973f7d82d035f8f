"""Zero-shot relation classification on the SemEval-2010 task 8 test set.

Each test sentence has two marked nominals e1 and e2. They become `doc.ents`; the
`zeroshot_relation_extractor` scores both directions (e1 -> e2 and e2 -> e1) against
verbalizations of the 9 relations, and the sentence's prediction is its best-scoring emitted
relation with its direction, or "Other" when none reaches the threshold.

Reported: entity pairs and NLI pairs scored, pairs per second (model loading excluded),
micro P/R/F over the 18 directed relations, macro-F1 over the 9 relations (direction
required, "Other" excluded, as the official task metric; this is not the official Perl
scorer), and the component's own `rel_micro_*` scores over every emitted relation.

The data is read by path (research licence: never copy it into the project):

    python benchmarks/relations_semeval.py --model knowledgator/comprehend_it-base --device cpu --limit 500
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from spacy_zeroshot.tasks.relations import score_relations

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "semeval2010_task8" / "test.jsonl"
# Relation(e1,e2): {subj} is e1, {obj} is e2. Two verbalizations each; a label's score is the best.
TEMPLATES: Dict[str, List[str]] = {
    "Cause-Effect": ["{subj} causes {obj}.", "{obj} is caused by {subj}."],
    "Component-Whole": ["{subj} is a part of {obj}.", "{obj} has {subj} as a component."],
    "Content-Container": ["{subj} is contained in {obj}.", "{obj} contains {subj}."],
    "Entity-Destination": ["{subj} is moved into {obj}.", "{subj} goes to {obj}."],
    "Entity-Origin": ["{subj} comes from {obj}.", "{subj} originates from {obj}."],
    "Instrument-Agency": ["{subj} is used by {obj}.", "{obj} uses {subj}."],
    "Member-Collection": ["{subj} is a member of {obj}.", "{obj} is a collection of {subj}."],
    "Message-Topic": ["{subj} is about {obj}.", "{subj} describes {obj}."],
    "Product-Producer": ["{subj} is produced by {obj}.", "{obj} makes {subj}."],
}
OTHER = "Other"


def read_rows(path: Path, limit: Optional[int]) -> List[Dict[str, Any]]:
    rows = []
    with path.open(encoding="utf8") as file:
        for line in file:
            if line.strip():
                rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def build_pipeline(model: str, device: str, threshold: float) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device})
    # Each row is one sentence: pair the two nominals wherever they are, the premise is the row.
    config = {"labels": TEMPLATES, "threshold": threshold, "max_distance": 100_000, "context": "doc"}
    nlp.add_pipe("zeroshot_relation_extractor", config=config)
    return nlp


def make_doc(nlp: Language, row: Dict[str, Any]) -> Optional[Tuple[Doc, Tuple[int, int], Tuple[int, int]]]:
    doc = nlp.make_doc(row["text"])
    e1 = doc.char_span(row["e1"]["start"], row["e1"]["end"], label="E1", alignment_mode="expand")
    e2 = doc.char_span(row["e2"]["start"], row["e2"]["end"], label="E2", alignment_mode="expand")
    if e1 is None or e2 is None or (e1.start < e2.end and e2.start < e1.end):
        return None
    doc.ents = sorted([e1, e2], key=lambda span: span.start)
    return doc, (e1.start, e1.end), (e2.start, e2.end)


def directed(label: str, head: List[int], e1: Tuple[int, int]) -> str:
    return f"{label}(e1,e2)" if tuple(head) == e1 else f"{label}(e2,e1)"


def gold_relations(row: Dict[str, Any], e1: Tuple[int, int], e2: Tuple[int, int]) -> List[Dict[str, Any]]:
    if row["relation"] == OTHER:
        return []
    head, tail = (e1, e2) if row["direction"] == "e1,e2" else (e2, e1)
    return [{"head": list(head), "tail": list(tail), "label": row["relation"], "score": 1.0, "scores": {}}]


def prf(tp: int, n_pred: int, n_gold: int) -> Tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(gold: Sequence[str], pred: Sequence[str]) -> Dict[str, Any]:
    """Micro P/R/F over directed relations, and macro-F1 over the 9 relations (Other excluded)."""
    tp = sum(g == p != OTHER for g, p in zip(gold, pred))
    micro = prf(tp, sum(p != OTHER for p in pred), sum(g != OTHER for g in gold))
    per_relation = {}
    for relation in TEMPLATES:
        hits = sum(g == p and g.startswith(relation + "(") for g, p in zip(gold, pred))
        n_pred = sum(p.startswith(relation + "(") for p in pred)
        n_gold = sum(g.startswith(relation + "(") for g in gold)
        per_relation[relation] = prf(hits, n_pred, n_gold)
    macro_f = sum(f for _, _, f in per_relation.values()) / len(per_relation)
    return {"micro_p": micro[0], "micro_r": micro[1], "micro_f": micro[2], "macro_f": macro_f, "per_relation": per_relation}


def run(data: Path, model: str, device: str, limit: Optional[int], batch_size: int, threshold: float) -> Dict[str, Any]:
    rows = read_rows(data, limit)
    nlp = build_pipeline(model, device, threshold)
    backend = nlp.get_pipe("zeroshot_nli").backend
    backend.load()
    counted = {"calls": 0, "nli_pairs": 0}
    score = backend.score

    def counting_score(pairs: Any) -> Any:
        counted["calls"] += 1
        counted["nli_pairs"] += len(pairs)
        return score(pairs)

    backend.score = counting_score  # type: ignore[method-assign]
    prepared = [(row, made) for row in rows if (made := make_doc(nlp, row)) is not None]
    docs = [made[0] for _, made in prepared]
    extractor = nlp.get_pipe("zeroshot_relation_extractor")
    entity_pairs = sum(len(extractor.candidates(doc)) for doc in docs)
    start = time.perf_counter()
    docs = list(nlp.pipe(docs, batch_size=batch_size))
    elapsed = time.perf_counter() - start
    gold_labels: List[str] = []
    predicted: List[str] = []
    examples = []
    for (row, (_, e1, e2)), doc in zip(prepared, docs):
        gold_labels.append(row["label"])
        best = max(doc._.relations, key=lambda rel: rel["score"], default=None)
        predicted.append(OTHER if best is None else directed(best["label"], best["head"], e1))
        reference = nlp.make_doc(row["text"])
        reference._.relations = gold_relations(row, e1, e2)
        examples.append(Example(doc, reference))
    result = evaluate(gold_labels, predicted)
    component = score_relations(examples)
    result.update(
        {
            "model": model,
            "sentences": len(docs),
            "skipped": len(rows) - len(docs),
            "entity_pairs": entity_pairs,
            "nli_pairs": counted["nli_pairs"],
            "backend_calls": counted["calls"],
            "seconds": elapsed,
            "pairs_per_second": counted["nli_pairs"] / elapsed if elapsed else 0.0,
            "entity_pairs_per_second": entity_pairs / elapsed if elapsed else 0.0,
            "component_micro": {k: component[k] for k in ("rel_micro_p", "rel_micro_r", "rel_micro_f")},
        }
    )
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SemEval-2010 task 8 test.jsonl")
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SemEval-2010 task 8 data not found at {args.data}; skipping.")
        return 0
    result = run(args.data, args.model, args.device, args.limit, args.batch_size, args.threshold)
    print(f"model: {result['model']}")
    print(f"sentences: {result['sentences']} (skipped {result['skipped']})")
    print(f"entity pairs scored: {result['entity_pairs']}   NLI pairs scored: {result['nli_pairs']}")
    print(f"time: {result['seconds']:.1f}s   pairs/s: {result['pairs_per_second']:.1f}   "
          f"entity pairs/s: {result['entity_pairs_per_second']:.1f}")
    print(f"directed micro P/R/F: {result['micro_p']:.3f} / {result['micro_r']:.3f} / {result['micro_f']:.3f}")
    print(f"macro-F1 (9 relations, direction required, Other excluded): {result['macro_f']:.3f}")
    comp = result["component_micro"]
    print(f"component rel_micro P/R/F (all emitted relations): "
          f"{comp['rel_micro_p']:.3f} / {comp['rel_micro_r']:.3f} / {comp['rel_micro_f']:.3f}")
    for relation, (p, r, f) in result["per_relation"].items():
        print(f"  {relation:<20} P {p:.3f}  R {r:.3f}  F {f:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
