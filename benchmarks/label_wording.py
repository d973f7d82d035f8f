"""Zero-shot accuracy of one text set under several label wordings and templates, on the
tune split (for choosing wording without looking at test).

The SST-5 check of docs/fewshot-peers.md: does another wording of the five sentiment degrees
let the NLI model tell them apart? Each wording maps the gold labels to the words its
hypothesis uses (`zeroshot_textcat`'s `labels` as a dict) under a template.

    python benchmarks/label_wording.py --model ../shared/models/minilm-nli --dataset sst5
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import load_text_task  # noqa: E402
from fewshot_peers import NEEDED  # noqa: E402
from fewshot_table import TUNE_SIZE, measure, textcat_overrides, zero_shot_pipeline  # noqa: E402
from zeroshot_bench.shared import SHARED_DATA  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# name -> (words per gold label in the set's label order, template); None: the set's own
WORDINGS: Dict[str, Dict[str, Tuple[Optional[List[str]], Optional[str]]]] = {
    "sst5": {
        "shipped": (None, None),
        "adjectives": (["terrible", "bad", "okay", "good", "great"], "This review is {}."),
        "stars": (["one star", "two stars", "three stars", "four stars", "five stars"], "This review gives {}."),
        "movie": (["terrible", "bad", "mediocre", "good", "excellent"], "The movie is {}."),
        "sentiment": (None, "The sentiment of this review is {}."),
    },
}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hub id or local folder of an NLI model")
    parser.add_argument("--dataset", default="sst5", choices=sorted(WORDINGS))
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    args = parser.parse_args(argv)
    if not (args.data / NEEDED[args.dataset]).exists():
        print(f"shared data not found at {args.data}; skipping.")
        return
    task = load_text_task(args.dataset, args.data, 200, 8, TUNE_SIZE)
    gold = list(task.labels)
    for name, (words, template) in WORDINGS[args.dataset].items():
        overrides = {
            **textcat_overrides(task, args.model, "cpu"),
            "components.zeroshot_textcat.labels": dict(zip(gold, words)) if words else dict(task.labels),
            "components.zeroshot_textcat.hypothesis_template": template or task.template,
        }
        result = measure(zero_shot_pipeline(ROOT / "configs" / "fewshot_textcat.cfg", overrides), task, "tune", None, [], 64)
        print(name, json.dumps({"accuracy": round(result["accuracy"], 3), "macro_f": round(result["macro_f"], 3),
                                "f_per_label": {k: round(v, 2) for k, v in result["f_per_label"].items()}}), flush=True)


if __name__ == "__main__":
    main()
