"""spaCy's own tooling on our pipelines: apply, evaluate, debug/fill config, project, package."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from spacy.cli.debug_config import debug_config
from spacy.cli.evaluate import evaluate
from spacy.cli.init_config import fill_config
from spacy.tokens import Doc, DocBin
from spacy.util import load_config, load_model_from_config

from spacy_zeroshot.engines.review import review_record

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "pipeline.cfg"
TEXTS = [
    "Apple was founded by Steve Jobs in California.",
    "Barack Obama was born in Hawaii. Paris is the capital of France.",
    "The team won the match and the fans celebrated.",
    "",
]


def full_config_overrides(model: str) -> Dict[str, Any]:
    return {
        "components.zeroshot_nli.model": model,
        "components.zeroshot_nli.device": "cpu",
        "components.zeroshot_relation_extractor.threshold": 0.0,
        "paths.patterns": str(REPO / "configs" / "entity_patterns.json"),
        "paths.aliases": str(REPO / "configs" / "entity_aliases.jsonl"),
    }


@pytest.fixture(scope="module")
def full_pipeline_dir(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/pipeline.cfg assembled on the tiny model and saved."""
    config = load_config(CONFIG, overrides=full_config_overrides(deberta_path), interpolate=False)
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    path = tmp_path_factory.mktemp("full") / "pipeline"
    nlp.to_disk(path)
    return path


def review(nlp: spacy.language.Language, texts: List[str]) -> List[Dict[str, Any]]:
    return [review_record(doc) for doc in nlp.pipe(texts)]


def assert_same_records(a: List[Dict[str, Any]], b: List[Dict[str, Any]]) -> None:
    """Equal up to float noise: compare the JSON with numbers rounded."""
    assert json.loads(json.dumps(a), parse_float=lambda x: round(float(x), 5)) == json.loads(
        json.dumps(b), parse_float=lambda x: round(float(x), 5)
    )


def test_pipeline_config_passes_debug_config_and_fill_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)  # the config's default paths are relative to the repository
    debug_config(CONFIG)  # exits on an invalid config
    filled = tmp_path / "filled.cfg"
    fill_config(filled, CONFIG)
    assert load_config(filled)["nlp"]["pipeline"] == load_config(CONFIG)["nlp"]["pipeline"]
    pipeline = load_config(CONFIG)["nlp"]["pipeline"]
    for name in ("zeroshot_textcat", "zeroshot_entity_linker", "zeroshot_entity_typer", "zeroshot_relation_extractor"):
        assert pipeline.index("zeroshot_nli") < pipeline.index(name)


def test_pipeline_config_shares_one_backend_and_annotates(full_pipeline_dir: Path) -> None:
    nlp = spacy.load(full_pipeline_dir)
    backends = {id(nlp.get_pipe(name).backend) for name in nlp.pipe_names if name.startswith("zeroshot_") and name != "zeroshot_nli"}
    assert backends == {id(nlp.get_pipe("zeroshot_nli").backend)}
    records = review(nlp, TEXTS)
    assert {span["text"] for span in records[0]["spans"]} == {"Apple", "Steve Jobs"}
    assert records[0]["spans"][0]["kb_id"] in ("Q312", "Q89", "NIL") and records[0]["spans"][0]["type_scores"]
    assert records[0]["relations"] and set(records[0]["cats"]) == {"world", "sports", "business", "science and technology"}
    assert records[3]["spans"] == [] and records[3]["relations"] == []


def test_spacy_apply_runs_saved_pipeline(full_pipeline_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:3]), encoding="utf8")
    output = tmp_path / "out.spacy"
    command = [sys.executable, "-m", "spacy", "apply", str(full_pipeline_dir), str(source), str(output)]
    subprocess.run(command + ["--batch-size", "2"], check=True, capture_output=True)
    nlp = spacy.load(full_pipeline_dir)
    docs = list(DocBin().from_disk(output).get_docs(nlp.vocab))
    assert [doc.text for doc in docs] == TEXTS[:3]
    assert_same_records([review_record(doc) for doc in docs], review(nlp, TEXTS[:3]))


def write_gold(path: Path, vocab_nlp: spacy.language.Language) -> None:
    doc = vocab_nlp.make_doc(TEXTS[0])
    doc.ents = [doc.char_span(0, 5, label="company", kb_id="Q312"), doc.char_span(21, 31, label="scientist", kb_id="NIL")]
    doc.cats = {"world": 0.0, "sports": 0.0, "business": 1.0, "science and technology": 0.0}
    doc._.relations = [{"head": [0, 1], "tail": [4, 6], "label": "founded_by", "score": 1.0}]
    DocBin(docs=[doc], store_user_data=True).to_disk(path)


def test_spacy_evaluate_reports_every_component(full_pipeline_dir: Path, tmp_path: Path) -> None:
    nlp = spacy.load(full_pipeline_dir)
    assert Doc.has_extension("relations")
    write_gold(tmp_path / "gold.spacy", nlp)
    scores = evaluate(str(full_pipeline_dir), tmp_path / "gold.spacy", output=tmp_path / "scores.json", silent=True)
    for key in ("cats_score", "ents_f", "nel_micro_f", "rel_micro_f"):
        assert key in scores
    assert json.loads((tmp_path / "scores.json").read_text())["cats_score"] == pytest.approx(scores["cats_score"])


def make_child_venv(path: Path) -> Path:
    """A fresh venv that sees this environment's packages (offline) but installs into its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # addsitedir (unlike a plain path line) also runs the parent's .pth files: editable installs.
    parent = sysconfig.get_paths()["purelib"]
    (Path(site_packages) / "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


PACKAGE_CHECK = """
import json, sys
import spacy
from spacy_zeroshot.engines.review import review_record
assert spacy.util.is_package("en_zeroshot_demo")
nlp = spacy.load("en_zeroshot_demo")
texts = json.loads(sys.argv[1])
print(json.dumps([review_record(doc) for doc in nlp.pipe(texts)]))
"""


@pytest.mark.slow
def test_project_workflow_runs_offline_and_its_package_installs_in_fresh_venv(deberta_path: str, tmp_path: Path) -> None:
    """assemble -> annotate -> gold -> evaluate -> package, then pip install the package into a
    fresh venv, where `spacy.load("en_zeroshot_demo")` annotates exactly like the folder."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    project = tmp_path / "examples" / "project"
    shutil.copytree(REPO / "examples" / "project", project)
    command = [sys.executable, "-m", "spacy", "project", "run", "all", str(project), "--vars.model", deberta_path]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    corpus = [json.loads(line) for line in (project / "assets" / "corpus.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (project / "corpus" / "annotated.jsonl").read_text().splitlines()]
    assert [row["meta"] for row in rows] == [record["meta"] for record in corpus]
    assert any(row["spans"] for row in rows) and all(row["cats"] for row in rows)
    summary = json.loads((project / "metrics" / "annotate.json").read_text())
    assert summary["docs"] == len(corpus) and summary["pairs"] > 0
    scores = json.loads((project / "metrics" / "scores.json").read_text())
    for key in ("cats_score", "ents_f", "nel_micro_f", "rel_micro_f"):
        assert key in scores

    sdist = project / "packages" / "en_zeroshot_demo-0.0.1" / "dist" / "en_zeroshot_demo-0.0.1.tar.gz"
    assert sdist.exists()
    python = make_child_venv(tmp_path / "venv")
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(sdist)]
    subprocess.run(install, check=True, capture_output=True)
    assert not spacy.util.is_package("en_zeroshot_demo")  # installed into the child venv only
    result = subprocess.run(
        [str(python), "-c", PACKAGE_CHECK, json.dumps(TEXTS)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = review(spacy.load(project / "training" / "pipeline"), TEXTS)
    assert_same_records(json.loads(result.stdout.strip().splitlines()[-1]), expected)
