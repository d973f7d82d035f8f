"""Reranking search results and selecting evidence sentences with an NLI model.

The model card's reranking use: a query and a handful of passages, each passage scored on its
own (does it entail "This text is about <query>."?), with the plain classifier; then the
spaCy form, ranking the sentences of a doc against a claim:

    python examples/rerank.py --model knowledgator/comprehend_it-base --device cpu

Each result is printed as one JSON line with a "task" key.
"""

import argparse
import json
from typing import Any, Dict

import spacy

from spacy_zeroshot import ZeroShotClassifier

PASSAGES = [
    "Glaciers in the Alps are melting faster than at any time in the last century as summers grow hotter.",
    "The home team scored twice in the second half and won the cup final.",
    "Shares in the carmaker rose after it reported record quarterly profits.",
    "Rising sea levels driven by global warming threaten coastal cities around the world.",
    "Add the garlic and tomatoes to the pan and simmer the sauce for ten minutes.",
]
CAPITALS = [
    "Kyiv is the capital and largest city of Ukraine.",
    "London is the capital of the United Kingdom.",
    "Ukraine is a country in Eastern Europe.",
    "Berlin hosts the German parliament.",
]
ARTICLE = (
    "The city council met on Monday. The new bridge will cost 40 million euros and open in 2027. "
    "Critics say the money should go to schools. The mayor said construction starts in spring."
)


def show(task: str, result: Dict[str, Any]) -> None:
    print(json.dumps({"task": task, **result}, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="knowledgator/comprehend_it-base", help="hub id or local folder")
    parser.add_argument("--device", default="auto", help='"auto", "cpu", "cuda", "cuda:N", "mps"')
    parser.add_argument("--dtype", default="auto", help='"auto", "float32", "float16", "bfloat16"')
    args = parser.parse_args()

    # A spaCy pipeline that ranks a doc's sentences against a claim (the claim itself is the
    # hypothesis) and keeps the best two as evidence.
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("zeroshot_nli", config={"model": args.model, "device": args.device, "dtype": args.dtype})
    nlp.add_pipe(
        "zeroshot_span_ranker",
        config={"query": "The bridge costs 40 million euros.", "hypothesis_template": "{}", "top_k": 2},
    )

    # 1. Rerank search results for a query (default template "This text is about {}."), with
    #    the plain classifier sharing the pipeline's model.
    classifier = ZeroShotClassifier(nlp.get_pipe("zeroshot_nli").backend)
    show("rerank", classifier.rerank("climate change", PASSAGES))
    # A question works with a template that says what the passage should do.
    question = "What is the capital city of Ukraine?"
    show("rerank_question", classifier.rerank(question, CAPITALS, template="This text answers the question: {}", top_k=3))
    # Many queries, each with its own results, in one pooled call.
    results = classifier.rerank(["sports", "cooking"], [PASSAGES[:3], PASSAGES[2:]], top_k=1)
    show("rerank_batch", {"results": results})

    # 2. The spaCy form: every sentence gets span._.zeroshot_relevance, the best go to doc.spans["ranked"].
    doc = nlp(ARTICLE)
    show(
        "evidence",
        {
            "query": doc.spans["ranked"].attrs["query"],
            "sentences": [{"text": s.text, "score": s._.zeroshot_relevance} for s in doc.sents],
            "evidence": [s.text for s in doc.spans["ranked"]],
        },
    )


if __name__ == "__main__":
    main()
