"""Zero-shot typing of CoNLL-2003 gold entity spans with `zeroshot_entity_typer`.

Gold spans come in with one placeholder label; the typer chooses among PER / ORG / LOC /
MISC from their descriptions, and `nlp.evaluate` reports spaCy's span scores (with gold
boundaries, `ents_f` is typing accuracy). The same spans are then scored one at a time with
transformers' zero-shot pipeline, to compare speed and check that the scores agree.

    python benchmarks/entity_typing_conll.py --model ../shared/models/minilm-nli --limit 200

The data (Reuters-restricted) is read by path and never copied.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # zeroshot_bench, when loaded from elsewhere
    sys.path.insert(0, str(HERE))
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "conll2003" / "eng.testb.spans.jsonl"
TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous thing"}
TEMPLATE = "{mention} is a {label}."


def read_examples(path: Path, limit: int, vocab: Any) -> List[Example]:
    """Sentences with at least one entity: predicted docs carry the gold spans as "ENT"."""
    examples: List[Example] = []
    with path.open(encoding="utf8") as lines:
        for line in lines:
            record = json.loads(line)
            if not record["entities"]:
                continue
            gold = Doc(vocab, words=record["tokens"])
            gold.ents = [Span(gold, e["token_start"], e["token_end"], label=e["label"]) for e in record["entities"]]
            predicted = Doc(vocab, words=record["tokens"])
            predicted.ents = [Span(predicted, e.start, e.end, label="ENT") for e in gold.ents]
            examples.append(Example(predicted, gold))
            if len(examples) >= limit:
                break
    return examples


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hub id or local folder of an NLI model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--limit", type=int, default=200, help="sentences with entities to use")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-span transformers pipeline")
    args = parser.parse_args(argv)

    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": args.model, "device": args.device})
    typer = nlp.add_pipe(
        "zeroshot_entity_typer",
        config={"labels": TYPES, "context": "doc", "threshold": 0.0, "hypothesis_template": TEMPLATE},
    )
    nlp.initialize()
    examples = read_examples(Path(args.data), args.limit, nlp.vocab)
    n_spans = sum(len(eg.predicted.ents) for eg in examples)
    start = time.perf_counter()
    docs = list(typer.pipe([eg.predicted.copy() for eg in examples], batch_size=args.batch_size))
    elapsed = time.perf_counter() - start
    scored = [Example(doc, eg.reference) for doc, eg in zip(docs, examples)]
    scores = typer.score(scored)
    result: Dict[str, Any] = {
        "sentences": len(examples),
        "spans": n_spans,
        "pairs": n_spans * len(TYPES),
        "component_seconds": round(elapsed, 2),
        "accuracy": round(scores["ents_f"], 4),
        "f_per_type": {k: round(v["f"], 4) for k, v in scores["ents_per_type"].items()},
    }
    if not args.no_baseline:
        import torch
        from transformers import pipeline

        # float32 like our backend on the CPU (the pipeline would otherwise follow the
        # checkpoint's torch_dtype, e.g. float16, which is slower and less exact on a CPU).
        classifier = pipeline(
            "zero-shot-classification",
            model=args.model,
            device=-1 if args.device == "cpu" else 0,
            torch_dtype=torch.float32,
        )
        descriptions = list(TYPES.values())
        to_type = {v: k for k, v in TYPES.items()}
        start = time.perf_counter()
        worst = 0.0
        for doc in docs:
            for ent in doc.ents:
                template = TEMPLATE.replace("{label}", "{{}}").format(mention=ent.text.replace("{", "{{").replace("}", "}}"))
                out = classifier(doc.text, candidate_labels=descriptions, hypothesis_template=template)
                expected = {to_type[label]: score for label, score in zip(out["labels"], out["scores"])}
                got = ent._.zeroshot_type_scores
                worst = max(worst, max(abs(got[k] - expected[k]) for k in expected))
        result["pipeline_per_span_seconds"] = round(time.perf_counter() - start, 2)
        result["max_abs_score_difference"] = float(f"{worst:.2e}")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
