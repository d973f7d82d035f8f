"""Zero-shot classification, open QA, reading comprehension and yes/no questions.

Reproduces the usage shown on the default model's card, with spaCy and with the plain classifier:

    python examples/classify.py --model knowledgator/comprehend_it-base --device cpu

Each result is printed as one JSON line: {"task", "sequence", "labels", "scores"}, labels sorted
by score.
"""

import argparse
import json
from typing import Any, Dict

import spacy

from spacy_zeroshot import ZeroShotClassifier


def show(task: str, result: Dict[str, Any]) -> None:
    print(json.dumps({"task": task, **result}, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda", "cuda:N", "mps"')
    parser.add_argument("--dtype", default="auto", help='"auto", "float32", "float16", "bfloat16"')
    args = parser.parse_args()

    # 1. In a spaCy pipeline: doc.cats, exclusive and multi-label, one shared model.
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": args.model, "device": args.device, "dtype": args.dtype})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["travel", "cooking", "dancing"]})
    nlp.add_pipe(
        "zeroshot_textcat",
        name="textcat_multilabel",
        config={"labels": ["travel", "cooking", "dancing", "exploration"], "multi_label": True},
    )
    # Both components write doc.cats and share label names here, so run them one at a time.
    for task, component in (("spacy_exclusive", "zeroshot_textcat"), ("spacy_multi_label", "textcat_multilabel")):
        other = "textcat_multilabel" if component == "zeroshot_textcat" else "zeroshot_textcat"
        with nlp.select_pipes(disable=[other]):
            doc = nlp("one day I will see the world")
        ranked = sorted(doc.cats, key=lambda k: -doc.cats[k])
        show(task, {"sequence": doc.text, "labels": ranked, "scores": [doc.cats[k] for k in ranked]})

    # 2. The same engine as a plain classifier with transformers' pipeline call shape,
    #    sharing the pipeline's already loaded model.
    classifier = ZeroShotClassifier(nlp.get_pipe("zeroshot_nli").backend)
    show("classification", classifier("one day I will see the world", ["travel", "cooking", "dancing"]))
    show(
        "multi_label",
        classifier("one day I will see the world", ["travel", "cooking", "dancing", "exploration"], multi_label=True),
    )
    show("open_qa", classifier("What is the capital city of Ukraine?", ["Kyiv", "London", "Berlin", "Warsaw"]))
    question = "In what country is Normandy located?"
    text = (
        "The Normans (Norman: Nourmands; French: Normands; Latin: Normanni) were the people who in "
        "the 10th and 11th centuries gave their name to Normandy, a region in France."
    )
    show("reading_comprehension", classifier(f"{question}\n{text}", ["Denmark", "Iceland", "France", "Norway"]))
    yes_no = f"{text}\nIs Normandy a region in France?"
    show("yes_no", classifier(yes_no, ["yes", "no"], hypothesis_template="The answer is {}."))


if __name__ == "__main__":
    main()
