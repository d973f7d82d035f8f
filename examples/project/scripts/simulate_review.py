"""A simulated reviewer for the review loop: answer Label Studio tasks with gold annotations.

    python scripts/simulate_review.py TASKS.json GOLD.jsonl EXPORT.json

TASKS.json is what `spacy-zeroshot annotate --format label-studio` wrote; GOLD.jsonl holds
{"text", "cats": {label: 1.0}, "entities": [[start, end, label, kb_id], ...], "relations":
[[head, tail, label], ...]} (entities and relations optional). EXPORT.json is shaped like Label
Studio's JSON export: a task whose text has gold gets a submitted annotation holding the gold
(categories as choices, entities as labels with their kb_id, relations); any other task is
skipped (a cancelled annotation), as a reviewer who cannot decide would.
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict, List


def gold_result(gold: Dict[str, Any], cats_control: str) -> List[Dict[str, Any]]:
    text = gold["text"]
    result: List[Dict[str, Any]] = []
    chosen = [label for label, value in (gold.get("cats") or {}).items() if value >= 0.5]
    if chosen:
        result.append({"id": "gold-cats", "from_name": cats_control, "to_name": "text", "type": "choices", "value": {"choices": chosen}})
    for i, entity in enumerate(gold.get("entities") or []):
        start, end, label = entity[0], entity[1], entity[2]
        value = {"start": start, "end": end, "text": text[start:end]}
        region = f"gold-{i}"
        result.append({"id": region, "from_name": "ents", "to_name": "text", "type": "labels", "value": {**value, "labels": [label]}})
        if len(entity) > 3 and entity[3]:
            result.append({"id": region, "from_name": "kb_id", "to_name": "text", "type": "textarea", "value": {**value, "text": [entity[3]]}})
    for head, tail, label in gold.get("relations") or []:
        result.append({"from_id": f"gold-{head}", "to_id": f"gold-{tail}", "type": "relation", "direction": "right", "labels": [label]})
    return result


def simulate(tasks: List[Dict[str, Any]], golds: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The tasks with a reviewer's annotations: the gold where there is gold, else skipped."""
    by_text = {gold["text"]: gold for gold in golds}
    controls = [r["from_name"] for t in tasks for p in t.get("predictions", []) for r in p["result"] if r["type"] == "choices"]
    cats_control = controls[0] if controls else "zeroshot_textcat"
    exported = []
    for number, task in enumerate(tasks, start=1):
        gold = by_text.get(task["data"]["text"])
        if gold is None:
            annotation = {"id": number, "result": [], "was_cancelled": True}
        else:
            annotation = {"id": number, "result": gold_result(gold, cats_control), "was_cancelled": False}
        exported.append({"id": number, **task, "annotations": [annotation]})
    return exported


def main(tasks_path: str, gold_path: str, output: str) -> None:
    tasks = json.loads(Path(tasks_path).read_text(encoding="utf8"))
    golds = [json.loads(line) for line in Path(gold_path).read_text(encoding="utf8").splitlines() if line.strip()]
    exported = simulate(tasks, golds)
    Path(output).write_text(json.dumps(exported, ensure_ascii=False, indent=1), encoding="utf8")
    reviewed = sum(1 for task in exported if not task["annotations"][0]["was_cancelled"])
    print(f"Simulated review: {reviewed} of {len(exported)} tasks answered with gold, the rest skipped.")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
