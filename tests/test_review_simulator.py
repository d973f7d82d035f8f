"""The simulated reviewer of the review loop (examples/project/scripts/simulate_review.py) on
span tasks: Label Studio tasks of typed entities answered with the gold types, read back as
the import reads them."""

import importlib.util
from pathlib import Path
from typing import Any

from spacy_zeroshot.engines.formats import convert
from spacy_zeroshot.engines.formats.label_studio import from_task
from spacy_zeroshot.engines.formats.reviewed import ACCEPTED, SKIPPED
from spacy_zeroshot.engines.formats.schema import ReviewSchema, SpanTarget

ROOT = Path(__file__).resolve().parent.parent
TYPES = ["PER", "ORG", "LOC", "MISC"]
# emoji (astral, ZWJ) and a combining character before the spans, `$`, a trailing space
TEXT = "👩‍🔬 e\u0301 EU rejects $5 German call from Café Paris . "


def _simulator() -> Any:
    spec = importlib.util.spec_from_file_location("simulate_review", ROOT / "examples" / "project" / "scripts" / "simulate_review.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _span(text: str, mention: str, label: str, scores: Any) -> Any:
    start = text.index(mention)
    return {"start": start, "end": start + len(mention), "text": mention, "label": label, "source": "ents",
            "score": scores[label], "kb_id": None, "type_scores": scores}


def test_simulate_review_answers_entity_tasks_with_gold_types() -> None:
    schema = ReviewSchema(model_version="test", spans=[SpanTarget("ents", list(TYPES))])
    flat = dict.fromkeys(TYPES, 0.25)
    record = {"text": TEXT, "spans": [_span(TEXT, "EU", "LOC", flat), _span(TEXT, "German", "MISC", flat),
                                      _span(TEXT, "Café Paris", "PER", flat)], "cats": {}, "relations": [], "meta": None}
    other = {**record, "text": "Nobody has gold for this one . ", "spans": []}
    tasks = [convert("label-studio", record, schema, task_id=0), convert("label-studio", other, schema, task_id=1)]
    gold = [[TEXT.index(m), TEXT.index(m) + len(m), label] for m, label in (("EU", "ORG"), ("German", "MISC"), ("Café Paris", "LOC"))]
    exported = _simulator().simulate(tasks, [{"text": TEXT, "entities": gold}])
    answered, skipped = from_task(exported[0], "export:1"), from_task(exported[1], "export:2")
    assert answered.status == ACCEPTED and answered.text == TEXT
    assert [(s.start, s.end, s.label, s.source) for s in answered.spans] == [(*g, "ents") for g in gold]
    assert [TEXT[s.start : s.end] for s in answered.spans] == ["EU", "German", "Café Paris"]
    assert skipped.status == SKIPPED and not skipped.spans
    # the tasks still carry the model's own types as the prediction
    predicted = [r["value"]["labels"] for r in exported[0]["predictions"][0]["result"] if r["type"] == "labels"]
    assert predicted == [["LOC"], ["MISC"], ["PER"]]
