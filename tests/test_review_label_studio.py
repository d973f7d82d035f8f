"""A real Label Studio server: our labeling config and tasks with predictions go in over its
REST API, a reviewer's annotations (edited, accepted as predicted, skipped) are submitted, the
project is exported and imported into .spacy: what was submitted is what we read back.

The server runs from a virtual environment of its own (`label_studio_server.py`); the test skips
only when that environment cannot be installed."""

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from label_studio_server import start_label_studio
from review_pipelines import CATEGORIES, HOSTILE_TEXTS, build_review_pipeline, decisions, gold_decisions
from spacy.tokens import DocBin

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.review_export import pipeline_config


def _edited(result: List[Dict[str, Any]], text: str) -> List[Dict[str, Any]]:
    """A reviewer's corrections: the category becomes the second label, the first typed span's
    label becomes "research lab", and a new span "founded" is added."""
    edited = json.loads(json.dumps(result))
    for item in edited:
        if item["type"] == "choices":
            item["value"]["choices"] = [CATEGORIES[1]]
    first = next(item for item in edited if item["type"] == "labels")
    first["value"]["labels"] = ["research lab"]
    start = text.index("founded")
    edited.append(
        {"id": "added", "from_name": "ents", "to_name": "text", "type": "labels",
         "value": {"start": start, "end": start + 7, "text": "founded", "labels": ["company"]}}
    )
    return edited


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_review_label_studio_server_round_trip(deberta_path: str, tmp_path: Path) -> None:
    try:
        server = start_label_studio(tmp_path / "label-studio")
    except RuntimeError as err:
        pytest.skip(f"Label Studio cannot be installed or started here: {err}")
    assert server is not None
    try:
        pipeline = build_review_pipeline(deberta_path, tmp_path / "nlp")
        corpus = tmp_path / "in.jsonl"
        corpus.write_text(
            "".join(json.dumps({"text": t, "meta": {"id": i}}, ensure_ascii=False) + "\n" for i, t in enumerate(HOSTILE_TEXTS)),
            encoding="utf8",
        )
        args = ["annotate", str(pipeline), str(corpus), str(tmp_path / "tasks.json"), str(tmp_path / "model.spacy")]
        assert main(args + ["--format", "label-studio", "--quiet"]) == 0
        tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf8"))
        project = server.create_project("spacy-zeroshot review", pipeline_config(str(pipeline), {}))
        imported = server.import_tasks(project, tasks)
        assert imported["task_count"] == len(tasks) and imported["prediction_count"] == len(tasks)
        ids = server.task_ids(project)
        assert len(ids) == len(tasks)
        for task_id, task in zip(ids, tasks):
            stored = server.task(task_id)
            assert stored["data"]["text"] == task["data"]["text"]  # BOM, CRLF, emoji, combining marks
            predictions = server.predictions(task_id)
            assert [p["result"] for p in predictions] == [task["predictions"][0]["result"]]
            assert predictions[0]["model_version"] == task["predictions"][0]["model_version"]
        first = tasks[0]["predictions"][0]["result"]
        server.annotate(ids[0], _edited(first, tasks[0]["data"]["text"]))
        server.annotate(ids[1], [], cancelled=True)
        server.annotate(ids[2], tasks[2]["predictions"][0]["result"])
        server.annotate(ids[3], [])
        export = server.export(project)
        path = tmp_path / "export.json"
        path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf8")
        summary = tmp_path / "gold.spacy"
        assert main(["import", str(path), "--format", "label-studio", "--pipeline", str(pipeline), "--output", str(summary)]) == 0
        nlp = spacy.load(pipeline)
        gold = list(DocBin().from_disk(summary).get_docs(nlp.vocab))
        model = list(DocBin().from_disk(tmp_path / "model.spacy").get_docs(nlp.vocab))
        assert [doc.text for doc in gold] == [HOSTILE_TEXTS[0], HOSTILE_TEXTS[2], HOSTILE_TEXTS[3]]
        assert gold_decisions(gold[1]) == decisions(model[2])  # accepted as predicted
        assert gold_decisions(gold[2]) == decisions(model[3])  # the empty doc
        expected = decisions(model[0])
        expected["cats"] = [CATEGORIES[1]]
        start = HOSTILE_TEXTS[0].index("founded")
        ents = [list(e) for e in expected["ents"]]
        ents[0][2] = "research lab"
        ents.append([start, start + 7, "company", ""])
        expected["ents"] = sorted(tuple(e) for e in ents)
        got = gold_decisions(gold[0])
        got["ents"] = sorted(got["ents"])
        assert got == expected
    finally:
        server.stop()
