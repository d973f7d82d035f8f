"""Review formats: export -> import round trips on hostile text, review statuses, alignment,
unknown labels, overlapping spans, review order, and the Label Studio labeling config."""

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from review_pipelines import CATEGORIES, HOSTILE_TEXTS, RELATIONS, build_review_pipeline, decisions, gold_decisions
from spacy.tokens import DocBin

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.formats import ReviewSchema, doubt, import_reviewed, rank, schema_from_pipeline
from spacy_zeroshot.engines.formats.common import utf16_to_codepoints
from spacy_zeroshot.engines.formats.label_studio import labeling_config
from spacy_zeroshot.engines.formats.schema import CategorySet, SpanTarget
from spacy_zeroshot.engines.run import annotate as annotate_run
from spacy_zeroshot.engines.settings import AnnotateSettings

SUFFIX = {"review": ".jsonl", "label-studio": ".json", "prodigy": ".jsonl", "doccano": ".jsonl"}


@pytest.fixture(scope="module")
def pipeline_dir(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_review_pipeline(deberta_path, tmp_path_factory.mktemp("review") / "nlp")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "in.jsonl"
    lines = [json.dumps({"text": text, "meta": {"id": i}}, ensure_ascii=False) for i, text in enumerate(HOSTILE_TEXTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def annotate(pipeline: Path, corpus: Path, *outputs: Path, options: List[str] = ()) -> None:  # type: ignore[assignment]
    args = ["annotate", str(pipeline), str(corpus), *map(str, outputs), "--quiet", *options]
    assert main(args) == 0


def import_file(path: Path, fmt: str, pipeline: Path, output: Path, *options: str) -> List[Any]:
    args = ["import", str(path), "--format", fmt, "--pipeline", str(pipeline), "--output", str(output), *options]
    assert main(args) == 0
    nlp = spacy.load(pipeline)
    return list(DocBin().from_disk(output).get_docs(nlp.vocab))


def read_docs(path: Path, pipeline: Path) -> List[Any]:
    return list(DocBin().from_disk(path).get_docs(spacy.load(pipeline).vocab))


@pytest.mark.parametrize("fmt", ["review", "label-studio", "prodigy", "doccano"])
def test_review_formats_round_trip_model_annotations(fmt: str, pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    exported = tmp_path / f"tasks{SUFFIX[fmt]}"
    annotate(pipeline_dir, corpus, exported, tmp_path / "model.spacy", options=["--format", fmt])
    model_docs = read_docs(tmp_path / "model.spacy", pipeline_dir)
    assert [doc.text for doc in model_docs] == HOSTILE_TEXTS
    assert any(doc.ents for doc in model_docs) and any(doc._.relations for doc in model_docs)
    assert any(e.kb_id_ for doc in model_docs for e in doc.ents)
    gold = import_file(exported, fmt, pipeline_dir, tmp_path / "gold.spacy", "--include-unreviewed")
    assert [gold_decisions(doc) for doc in gold] == [decisions(doc) for doc in model_docs]
    assert [doc.text.encode("utf8") for doc in gold] == [t.encode("utf8") for t in HOSTILE_TEXTS]
    assert [doc._.meta for doc in gold] == [{"id": i} for i in range(len(HOSTILE_TEXTS))]
    # the typer and relation extractor train on sentences: the gold keeps the sentencizer's
    assert all(doc.has_annotation("SENT_START") for doc in gold if len(doc) > 1)


def test_review_formats_review_default_unchanged(pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    annotate(pipeline_dir, corpus, tmp_path / "plain.jsonl")
    annotate(pipeline_dir, corpus, tmp_path / "explicit.jsonl", options=["--format", "review"])
    assert (tmp_path / "plain.jsonl").read_bytes() == (tmp_path / "explicit.jsonl").read_bytes()
    assert not list(tmp_path.glob("*.review-work"))


def test_review_formats_log_names_only_outputs_that_stay(pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    target, spacy_out = tmp_path / "tasks.json", tmp_path / "tasks.spacy"
    settings = AnnotateSettings(
        pipeline=str(pipeline_dir), input=str(corpus), outputs=[target, spacy_out], quiet=True,
        format="label-studio", order="uncertainty", limit=2,
    )
    log = io.StringIO()
    summary = annotate_run(settings, log=log)
    lines = log.getvalue().splitlines()
    work_lines = [line for line in lines if ".review-work" in line]
    assert len(work_lines) == 1 and "temporary work folder" in work_lines[0]
    assert [line for line in lines if line.startswith("Output: ")] == [f"Output: {target}, {spacy_out}"]
    assert lines[-1].startswith(f"Review: 2 docs written to {target} (label-studio, order uncertainty")
    assert summary["outputs"] == [str(target), str(spacy_out)]
    assert target.exists() and spacy_out.exists() and not list(tmp_path.glob("*.review-work"))


def test_review_formats_label_studio_task_layout(pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    annotate(pipeline_dir, corpus, tmp_path / "tasks.json", options=["--format", "label-studio"])
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf8"))
    assert [task["data"]["text"] for task in tasks] == HOSTILE_TEXTS
    results = tasks[0]["predictions"][0]["result"]
    version = tasks[0]["predictions"][0]["model_version"]
    assert version.startswith("en_pipeline-") and len(version.split("-")[-1]) == 12
    kinds = {item["type"] for item in results}
    assert kinds == {"choices", "labels", "textarea", "relation"}
    text = tasks[0]["data"]["text"]
    regions = {item["id"] for item in results if item["type"] == "labels"}
    for item in results:
        if item["type"] == "labels":
            assert text[item["value"]["start"] : item["value"]["end"]] == item["value"]["text"]
            assert 0.0 <= item.get("score", 0.0) <= 1.0  # typed spans carry their type score
        if item["type"] == "relation":
            assert item["from_id"] in regions and item["to_id"] in regions and item["labels"][0] in RELATIONS
    assert any("score" in item for item in results if item["type"] == "labels")
    assert tasks[3]["predictions"][0]["result"] == []  # the empty doc: no category, no span


def label_studio_export(tasks: List[Dict[str, Any]], annotations: List[Any]) -> List[Dict[str, Any]]:
    """What Label Studio's JSON export looks like after review: `annotations` per task."""
    exported = []
    for i, (task, annotation) in enumerate(zip(tasks, annotations)):
        exported.append({"id": i + 1, **task, "annotations": annotation})
    return exported


def test_review_import_counts_statuses(pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    annotate(pipeline_dir, corpus, tmp_path / "tasks.json", options=["--format", "label-studio"])
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf8"))
    text = tasks[0]["data"]["text"]
    start = text.index("Steve Jobs")
    submitted = [
        {"id": 1, "result": [{"id": "a", "from_name": "ents", "to_name": "text", "type": "labels",
                              "value": {"start": start, "end": start + 10, "text": "Steve Jobs", "labels": ["scientist"]}},
                             {"id": "c", "from_name": "zeroshot_textcat", "to_name": "text", "type": "choices",
                              "value": {"choices": ["business $5"]}}],
         "was_cancelled": False},
    ]
    cancelled = [{"id": 2, "result": [], "was_cancelled": True}]
    export = label_studio_export(tasks, [submitted, cancelled, [], cancelled, []])
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf8")
    nlp = spacy.load(pipeline_dir)
    docs, report = import_reviewed(path, "label-studio", nlp, schema_from_pipeline(nlp))
    assert report.as_dict()["accepted"] == 1 and report.statuses == {"accepted": 1, "rejected": 0, "skipped": 2, "unreviewed": 2}
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Steve Jobs", "scientist")]
    assert docs[0].cats == {"sports": 0.0, "business $5": 1.0, "science 🧪": 0.0}
    assert docs[0]._.relations == []


def test_review_import_prodigy_answers(pipeline_dir: Path, tmp_path: Path) -> None:
    lines = [
        {"text": "Apple rose.", "answer": "accept", "spans": [{"start": 0, "end": 5, "label": "company"}], "options": [], "accept": []},
        {"text": "Paris fell.", "answer": "reject", "spans": []},
        {"text": "France.", "answer": "ignore"},
        {"text": "Nobody saw this."},
    ]
    path = tmp_path / "db-out.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf8")
    docs = import_file(path, "prodigy", pipeline_dir, tmp_path / "gold.spacy")
    assert [(e.text, e.label_) for doc in docs for e in doc.ents] == [("Apple", "company")]
    assert docs[0].cats == dict.fromkeys(CATEGORIES, 0.0)
    nlp = spacy.load(pipeline_dir)
    _, report = import_reviewed(path, "prodigy", nlp, schema_from_pipeline(nlp))
    assert report.statuses == {"accepted": 1, "rejected": 1, "skipped": 1, "unreviewed": 1}


@pytest.mark.parametrize(
    "alignment,expected", [("strict", []), ("contract", [("Apple", "company")]), ("expand", [("Apple rose", "company")])]
)
def test_review_import_misaligned_spans_warn(alignment: str, expected: List[Any], pipeline_dir: Path, tmp_path: Path) -> None:
    line = {"text": "Apple rose.", "entities": [{"id": 1, "label": "company", "start_offset": 0, "end_offset": 7}]}
    path = tmp_path / "doccano.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf8")
    nlp = spacy.load(pipeline_dir)
    docs, report = import_reviewed(path, "doccano", nlp, schema_from_pipeline(nlp), alignment=alignment)
    assert [(e.text, e.label_) for e in docs[0].ents] == expected
    assert len(report.warnings) == 1 and report.warnings[0].startswith("[W620]") and f"{path}:1" in report.warnings[0]


def test_review_import_unknown_labels_named(pipeline_dir: Path, tmp_path: Path) -> None:
    line = {
        "text": "Apple rose in Paris.",
        "label": ["weather"],
        "entities": [{"id": 1, "label": "fruit", "start_offset": 0, "end_offset": 5}, {"id": 2, "label": "LOC", "start_offset": 14, "end_offset": 19}],
        "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "grows in"}],
    }
    path = tmp_path / "doccano.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf8")
    nlp = spacy.load(pipeline_dir)
    docs, report = import_reviewed(path, "doccano", nlp, schema_from_pipeline(nlp))
    text = "\n".join(report.warnings)
    assert "[W622]" in text and "'weather'" in text and "'fruit'" in text and "'grows in'" in text
    assert "LOC" not in text.split("Known")[0]  # LOC is a ruler label: known
    assert docs[0].cats["weather"] == 1.0
    assert docs[0]._.relations == [{"head": [0, 1], "tail": [3, 4], "label": "grows in"}]


def test_review_import_overlapping_entities(pipeline_dir: Path, tmp_path: Path) -> None:
    text = "Steve Jobs met Apple."
    spans = [{"start": 0, "end": 10, "label": "scientist"}, {"start": 6, "end": 10, "label": "politician"}]
    path = tmp_path / "prodigy.jsonl"
    path.write_text(json.dumps({"text": text, "answer": "accept", "spans": spans}) + "\n", encoding="utf8")
    nlp = spacy.load(pipeline_dir)
    docs, report = import_reviewed(path, "prodigy", nlp, schema_from_pipeline(nlp))
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Steve Jobs", "scientist")]
    assert any(w.startswith("[W621]") for w in report.warnings)
    schema = ReviewSchema(spans=[SpanTarget("spans:sc", ["scientist", "politician"])])
    docs, report = import_reviewed(path, "prodigy", nlp, schema)
    assert [(s.text, s.label_) for s in docs[0].spans["sc"]] == [("Steve Jobs", "scientist"), ("Jobs", "politician")]
    assert not report.warnings


def test_review_import_rejects_bad_input(pipeline_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{not json\n', encoding="utf8")
    assert main(["import", str(path), "--format", "prodigy", "--pipeline", str(pipeline_dir), "--output", str(tmp_path / "x.spacy")]) == 1
    nlp = spacy.load(pipeline_dir)
    with pytest.raises(ValueError, match=r"E622.*bad.jsonl:2"):
        import_reviewed(path, "prodigy", nlp, schema_from_pipeline(nlp))
    with pytest.raises(ValueError, match="E623"):
        import_reviewed(path, "prodigy", nlp, schema_from_pipeline(nlp), alignment="loose")
    assert main(["import", str(path), "--format", "prodigy", "--pipeline", str(pipeline_dir), "--output", str(tmp_path / "x.json")]) == 1


def test_review_formats_label_studio_utf16_offsets_read() -> None:
    text = "👩‍🔬 Apple"
    assert utf16_to_codepoints(text, 6, 11) == (4, 9)
    from spacy_zeroshot.engines.formats.label_studio import from_task

    task = {"data": {"text": text}, "annotations": [{"result": [
        {"id": "r", "from_name": "ents", "type": "labels", "value": {"start": 6, "end": 11, "text": "Apple", "labels": ["ORG"]}}
    ]}]}
    reviewed = from_task(task, "x:1")
    assert (reviewed.spans[0].start, reviewed.spans[0].end) == (4, 9)


def test_review_order_doubt_margins() -> None:
    schema = ReviewSchema(
        categories=[CategorySet("topic", ["a", "b", "c"], False), CategorySet("tags", ["x", "y"], True, {"x": 0.5, "y": 0.8})],
        relation_labels=["r"],
        relation_thresholds={"r": 0.3},
    )
    assert doubt({"cats": {"a": 0.5, "b": 0.3, "c": 0.2}}, schema) == (0.2, "cats:topic")
    assert doubt({"cats": {"x": 0.55, "y": 0.1}}, schema) == (0.05, "cats:x")
    spans = [{"type_scores": {"p": 0.6, "q": 0.39}}, {"link_scores": {"Q1": 0.9, "Q2": 0.85}}]
    assert doubt({"spans": spans}, schema) == (0.05, "link:span1")
    assert doubt({"relations": [{"scores": {"r": 0.31}}]}, schema) == (0.01, "relation0:r")
    assert doubt({"cats": {"a": 0.0, "b": 0.0, "c": 0.0}, "spans": []}, schema) == (None, None)
    records = [{"cats": {"a": 0.9, "b": 0.1, "c": 0.0}}, {"cats": {}}, {"cats": {"a": 0.4, "b": 0.35, "c": 0.25}}]
    assert [i for i, _ in rank(records, schema, "uncertainty")] == [2, 0, 1]
    assert [i for i, _ in rank(records, schema, "input")] == [0, 1, 2]
    shuffled = [i for i, _ in rank(records * 5, schema, "random", seed=3)]
    assert sorted(shuffled) == list(range(15)) and shuffled == [i for i, _ in rank(records * 5, schema, "random", seed=3)]
    with pytest.raises(ValueError, match="E620"):
        rank(records, schema, "loudest")


def test_review_order_uncertainty_limit_skip_reviewed(pipeline_dir: Path, corpus: Path, tmp_path: Path) -> None:
    annotate(pipeline_dir, corpus, tmp_path / "all.jsonl", options=["--order", "uncertainty"])
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text(encoding="utf8").splitlines()]
    margins = [row["ranking"]["margin"] for row in rows]
    assert [row["ranking"]["position"] for row in rows] == list(range(len(HOSTILE_TEXTS)))
    known = [m for m in margins if m is not None]
    assert known == sorted(known) and margins[-1] is None and rows[-1]["text"] == ""
    reviewed = tmp_path / "reviewed.spacy"
    nlp = spacy.load(pipeline_dir)
    DocBin(docs=[nlp.make_doc(rows[0]["text"])]).to_disk(reviewed)
    options = ["--format", "prodigy", "--order", "uncertainty", "--limit", "2", "--skip-reviewed", str(reviewed)]
    annotate(pipeline_dir, corpus, tmp_path / "next.jsonl", tmp_path / "next.spacy", options=options)
    tasks = [json.loads(line) for line in (tmp_path / "next.jsonl").read_text(encoding="utf8").splitlines()]
    assert [task["text"] for task in tasks] == [rows[1]["text"], rows[2]["text"]]
    assert [task["meta"]["review_margin"] for task in tasks] == margins[1:3]
    assert [doc.text for doc in read_docs(tmp_path / "next.spacy", pipeline_dir)] == [rows[1]["text"], rows[2]["text"]]
    assert main(["annotate", str(pipeline_dir), str(corpus), str(tmp_path / "x.jsonl"), "--format", "label-studio"]) == 1
    assert main(["annotate", str(pipeline_dir), str(corpus), str(tmp_path / "y.jsonl"), "--limit", "0"]) == 1


def test_label_studio_config_matches_pipeline(pipeline_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["label-studio-config", str(pipeline_dir)]) == 0
    root = ET.fromstring(capsys.readouterr().out)
    controls = {tag.get("name"): tag for tag in root if tag.get("name")}
    assert set(controls) == {"ents", "text", "kb_id", "zeroshot_textcat"}
    assert [c.get("value") for c in controls["zeroshot_textcat"]] == CATEGORIES
    assert controls["zeroshot_textcat"].get("choice") == "single"
    assert {"company", "research lab", "politician", "scientist", "LOC"} <= {c.get("value") for c in controls["ents"]}
    assert [r.get("value") for r in root.find("Relations")] == RELATIONS
    assert controls["kb_id"].get("perRegion") == "true"


def test_label_studio_config_escapes_hostile_labels() -> None:
    schema = ReviewSchema(categories=[CategorySet("cats", ['a "quoted" <tag> & $x', "multi\nline"], True)])
    root = ET.fromstring(labeling_config(schema))
    assert [c.get("value") for c in root.find("Choices")] == ['a "quoted" <tag> & $x', "multi\nline"]
    assert root.find("Choices").get("choice") == "multiple"
