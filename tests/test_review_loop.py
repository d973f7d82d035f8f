"""The review loop as a workflow: examples/project's `loop` (annotate -> Label Studio tasks ->
simulated reviewer -> import -> finetune -> evaluate -> annotate again), end to end on the tiny model."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_review_loop_project_workflow_runs(deberta_path: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "project", project, ignore=shutil.ignore_patterns("training", "corpus", "metrics"))
    configs = ROOT / "configs"
    command = [
        sys.executable, "-m", "spacy", "project", "run", "loop", str(project),
        "--vars.model", deberta_path,
        "--vars.config", str(configs / "pipeline.cfg"),
        "--vars.patterns", str(configs / "entity_patterns.json"),
        "--vars.aliases", str(configs / "entity_aliases.jsonl"),
        "--vars.review_limit", "6",
        "--vars.finetune_max_steps", "2",
        "--vars.finetune_eval_frequency", "1",
    ]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tasks = json.loads((project / "corpus" / "review.json").read_text(encoding="utf8"))
    assert len(tasks) == 6
    margins = [task["data"]["review_margin"] for task in tasks]
    known = [m for m in margins if m is not None]
    assert known == sorted(known)
    assert "<Choices name=\"zeroshot_textcat\"" in (project / "corpus" / "labeling.xml").read_text(encoding="utf8")
    nlp = spacy.load(project / "training" / "pipeline")
    reviewed = list(DocBin().from_disk(project / "corpus" / "reviewed.spacy").get_docs(nlp.vocab))
    gold = [json.loads(line) for line in (project / "assets" / "gold.jsonl").read_text(encoding="utf8").splitlines()]
    gold_texts = {g["text"]: g for g in gold}
    assert reviewed and all(doc.text in gold_texts for doc in reviewed)
    for doc in reviewed:
        chosen = [label for label, value in doc.cats.items() if value == 1.0]
        assert chosen == list(gold_texts[doc.text]["cats"])
    assert "Imported" in done.stderr + done.stdout
    assert (project / "metrics" / "scores-round1.json").exists()
    round2 = json.loads((project / "corpus" / "review2.json").read_text(encoding="utf8"))
    assert not {task["data"]["text"] for task in round2} & {doc.text for doc in reviewed}
