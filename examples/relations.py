"""Zero-shot relation extraction: the knowledgator/comprehend_it-base model card's FKBP5 / PTSD example.

An entity_ruler finds the gene and the diseases; `zeroshot_relation_extractor` scores the card's
relation labels ("associated with", "has no effect on", "is similar to", "inhibitor of",
"ancestor of") between every ordered pair of mentions in a sentence, verbalized as
"{subj} {label} {obj}.", and keeps the best label per pair above the threshold. The card's own
formulation (one text, the labels as candidates, "FKBP5 {} PTSD." as the hypothesis template,
exclusive scores) is printed too, from the same shared model.

    python examples/relations.py --model knowledgator/comprehend_it-base --device cpu [--html out.html]
"""

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.language import Language

from spacy_zeroshot import ZeroShotClassifier
from spacy_zeroshot.render import render_relations

TEXT = "FKBP5 gene variants are associated with PTSD and depression in adults."
RELATION_LABELS = ["associated with", "has no effect on", "is similar to", "inhibitor of", "ancestor of"]
PATTERNS = [
    {"label": "GENE", "pattern": "FKBP5"},
    {"label": "DISEASE", "pattern": "PTSD"},
    {"label": "DISEASE", "pattern": "depression"},
]


def build_pipeline(model: str, device: str, threshold: float) -> Language:
    """Sentences and mentions from rules, relations from the NLI model."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": device})
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": RELATION_LABELS, "threshold": threshold})
    return nlp


def run(model: str, device: str, threshold: float = 0.5, html: Optional[str] = None) -> Dict[str, Any]:
    """Extract the relations of the example text; returns plain data (also printed by `main`)."""
    nlp = build_pipeline(model, device, threshold)
    doc = nlp(TEXT)
    relations: List[Dict[str, Any]] = [
        {"head": rel.head.text, "label": rel.label, "tail": rel.tail.text, "score": rel.score}
        for rel in nlp.get_pipe("zeroshot_relation_extractor").spans(doc)
    ]
    # The model card's formulation, on the same (shared) model.
    classifier = ZeroShotClassifier(nlp.get_pipe("zeroshot_nli").backend)
    card = classifier(TEXT, RELATION_LABELS, hypothesis_template="FKBP5 {} PTSD.")
    if html:
        Path(html).write_text(render_relations(doc, page=True, title="FKBP5 / PTSD relations"), encoding="utf8")
    return {"relations": relations, "raw": doc._.relations, "model_card": card}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda", "cuda:N" or "mps"')
    parser.add_argument("--threshold", type=float, default=0.5, help="minimum relation score")
    parser.add_argument("--html", default=None, help="also write an HTML rendering to this file")
    args = parser.parse_args(argv)
    result = run(args.model, args.device, args.threshold, args.html)
    print(TEXT)
    for rel in result["relations"]:
        print(f"  {rel['head']} --[{rel['label']}]--> {rel['tail']}  {rel['score']:.3f}")
    if not result["relations"]:
        print(f"  (no relation scored >= {args.threshold})")
    card = result["model_card"]
    print("\nModel card formulation (FKBP5 {} PTSD., exclusive scores):")
    for label, score in zip(card["labels"], card["scores"]):
        print(f"  {label:<18} {score:.4f}")
    return result


if __name__ == "__main__":
    main()
