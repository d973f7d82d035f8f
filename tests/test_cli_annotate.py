"""`spacy-zeroshot annotate`: formats, malformed input, order, chunks, --resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_zeroshot.cli import main, split_overrides
from spacy_zeroshot.engines.chunks import ChunkStore
from spacy_zeroshot.engines.review import review_record

LABELS = ["sports", "business", "science"]
TEXTS = [
    "The team won the match and the fans celebrated.",
    "Shares fell sharply after the company reported weaker profits.",
    "",
    "Scientists discovered a new species of frog in Brazil.",
    "The president met foreign leaders to discuss trade.",
]
# Slows every model call down so that a subprocess can be killed half-way through a run.
SLOW_CODE = """
import time
from spacy_zeroshot.backend import NLIBackend

_score = NLIBackend.score

def score(self, pairs, **kwargs):
    time.sleep(0.05)
    return _score(self, pairs, **kwargs)

NLIBackend.score = score
"""


@pytest.fixture(scope="module")
def pipeline_dir(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.initialize()
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    nlp.to_disk(path)
    return path


def write_jsonl(path: Path, texts: List[str], extra_lines: Optional[Dict[int, str]] = None) -> Path:
    lines = [json.dumps({"text": text, "meta": {"id": i}}) for i, text in enumerate(texts)]
    for position, line in sorted((extra_lines or {}).items()):
        lines.insert(position, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def run_cli(*args: Any) -> int:
    return main(["annotate"] + [str(a) for a in args] + ["--quiet"])


def test_annotate_writes_jsonl_and_docbin(pipeline_dir: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS)
    summary = tmp_path / "summary.json"
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl", tmp_path / "out.spacy", "--summary", summary) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [row["text"] for row in rows] == TEXTS
    assert [row["meta"] for row in rows] == [{"id": i} for i in range(len(TEXTS))]
    nlp = spacy.load(pipeline_dir)
    for row, text in zip(rows, TEXTS):
        assert set(row) == {"text", "spans", "cats", "relations", "meta"}
        assert row["cats"] == pytest.approx(nlp(text).cats, abs=1e-5)
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(nlp.vocab))
    assert [doc.text for doc in docs] == TEXTS
    assert [doc._.meta for doc in docs] == [{"id": i} for i in range(len(TEXTS))]
    assert docs[0].cats == pytest.approx(rows[0]["cats"], abs=1e-7)
    report = json.loads(summary.read_text())
    assert report["docs"] == len(TEXTS) and report["skipped"] == 0
    assert report["pairs"] == len(LABELS) * (len(TEXTS) - 1)  # the empty doc costs nothing
    assert sum(report["labels"]["cats"].values()) == len(TEXTS) - 1
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_annotate_reads_txt_docbin_and_folders_in_order(pipeline_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("\n".join(TEXTS[:2]) + "\n", encoding="utf8")
    nlp = spacy.blank("en")
    DocBin(docs=[nlp(TEXTS[3])]).to_disk(folder / "b.spacy")
    write_jsonl(folder / "c.jsonl", TEXTS[4:])
    (folder / "notes.md").write_text("not an input")
    assert run_cli(pipeline_dir, folder, tmp_path / "out.jsonl") == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [row["text"] for row in rows] == TEXTS[:2] + TEXTS[3:]
    assert [row["meta"] for row in rows] == [None, None, None, {"id": 0}]


def test_annotate_custom_text_key(pipeline_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"body": TEXTS[0], "meta": {"k": [1, 2]}}) + "\n", encoding="utf8")
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl", "--text-key", "body") == 0
    assert read_jsonl(tmp_path / "out.jsonl")[0]["meta"] == {"k": [1, 2]}


def test_annotate_malformed_line_fails_with_file_and_line(
    pipeline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS, {2: "{not json", 4: '{"title": "no text"}'})
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl") == 1
    err = capsys.readouterr().err
    assert "E208" in err and f"{source}:3" in err and "2 malformed" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_annotate_malformed_lines_skipped_and_counted(pipeline_dir: Path, tmp_path: Path) -> None:
    extra = {0: "[1, 2]", 3: "{not json", 6: '{"text": 5}'}
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS, extra)
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    summary = tmp_path / "summary.json"
    args = ["--on-error", "skip", "--summary", summary, "--chunk-size", "2", "--batch-size", "1"]
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl", *args) == 0
    assert [row["meta"]["id"] for row in read_jsonl(tmp_path / "out.jsonl")] == list(range(len(TEXTS)))
    report = json.loads(summary.read_text())
    assert report["skipped"] == 3 and report["docs"] == len(TEXTS) and report["records"] == len(TEXTS) + 3
    assert [r["line"] for r in report["skipped_records"]] == [1, 4, 7]
    assert "invalid JSON" in report["skipped_records"][1]["reason"]
    assert run_cli(pipeline_dir, tmp_path / "bad.txt", tmp_path / "bad.jsonl", "--on-error", "skip", "--summary", summary) == 0
    assert json.loads(summary.read_text())["skipped_records"][0]["line"] == 2


def test_annotate_pipeline_from_config_with_overrides(deberta_path: str, tmp_path: Path) -> None:
    config = tmp_path / "config.cfg"
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": "no/such-model", "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.config.to_disk(config)
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS[:2])
    args = ["--components.zeroshot_nli.model", deberta_path, "--components.zeroshot_textcat.multi_label=true"]
    assert run_cli(config, source, tmp_path / "out.jsonl", *args) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert len(rows) == 2 and set(rows[0]["cats"]) == set(LABELS)
    assert sum(rows[0]["cats"].values()) != pytest.approx(1.0)  # multi-label scores


def test_annotate_rejects_bad_arguments(pipeline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS[:1])
    assert run_cli(pipeline_dir, source, tmp_path / "out.csv") == 1
    assert run_cli(pipeline_dir, source, tmp_path / "a.jsonl", tmp_path / "b.jsonl") == 1
    assert run_cli(pipeline_dir, tmp_path / "missing.jsonl", tmp_path / "out.jsonl") == 1
    assert run_cli(tmp_path / "no-pipeline", source, tmp_path / "out.jsonl") == 1
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl", "--batch-size", "0") == 1
    assert run_cli(pipeline_dir, source, tmp_path / "out.jsonl", "--n-process", "2", "--gpu-id", "0") == 1
    err = capsys.readouterr().err
    for code in ("E203", "E204", "E200", "E207", "E013", "E209"):
        assert code in err


def test_split_overrides_separates_config_options() -> None:
    args, overrides = split_overrides(["p", "--quiet", "--a.b", "1", "--c.d=x", "in", "--e.f", "--batch-size", "2"])
    assert args == ["p", "--quiet", "in", "--batch-size", "2"]
    assert overrides == ["--a.b", "1", "--c.d=x", "--e.f"]


def test_chunk_store_resumes_from_complete_prefix(tmp_path: Path) -> None:
    outputs = [tmp_path / "out.jsonl"]
    store = ChunkStore(outputs, {"run": 1})
    assert store.start(resume=False) == 0
    info = {"records": 1, "docs": 1, "skipped": [], "pairs": 0, "labels": {}}
    store.write(0, [], [{"text": "a"}], info)
    store.write(1, [], [{"text": "b"}], info)
    (store.path / "chunk-000002.jsonl").write_text('{"text": "c"}\n')  # data without its record
    (store.path / "chunk-000003.jsonl.tmp").write_text("half")
    with pytest.raises(ValueError, match="E205"):
        ChunkStore(outputs, {"run": 1}).start(resume=False)
    with pytest.raises(ValueError, match="E206"):
        ChunkStore(outputs, {"run": 2}).start(resume=True)
    store = ChunkStore(outputs, {"run": 1})
    assert store.start(resume=True) == 2
    assert sorted(p.name for p in store.path.iterdir()) == [
        "chunk-000000.json",
        "chunk-000000.jsonl",
        "chunk-000001.json",
        "chunk-000001.jsonl",
        "run.json",
    ]
    store.assemble(2)
    assert read_jsonl(outputs[0]) == [{"text": "a"}, {"text": "b"}]


def test_annotate_resume_after_sigkill_equals_uninterrupted_run(pipeline_dir: Path, tmp_path: Path) -> None:
    texts = [f"{TEXTS[i % 5]} Item {i}." for i in range(60)]
    source = write_jsonl(tmp_path / "in.jsonl", texts, {30: "{broken"})
    code = tmp_path / "slow.py"
    code.write_text(SLOW_CODE)
    common = ["--batch-size", "2", "--chunk-size", "4", "--on-error", "skip"]
    expected = tmp_path / "expected"
    expected.mkdir()
    assert run_cli(pipeline_dir, source, expected / "out.jsonl", expected / "out.spacy", *common) == 0

    out = tmp_path / "out.jsonl"
    parts = tmp_path / "out.jsonl.parts"
    command = [sys.executable, "-m", "spacy_zeroshot", "annotate", str(pipeline_dir), str(source), str(out)]
    command += [str(tmp_path / "out.spacy"), *common, "--code", str(code), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(parts.glob("chunk-*.json"))) >= 3:
            break
        time.sleep(0.01)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert parts.exists() and not out.exists()
    done = len(list(parts.glob("chunk-*.json")))
    assert 3 <= done < 15

    assert run_cli(pipeline_dir, source, out, tmp_path / "out.spacy", *common) == 1  # unfinished run: E205
    summary = tmp_path / "summary.json"
    assert run_cli(pipeline_dir, source, out, tmp_path / "out.spacy", *common, "--resume", "--summary", summary) == 0
    assert out.read_bytes() == (expected / "out.jsonl").read_bytes()
    rows = read_jsonl(out)
    assert [row["meta"]["id"] for row in rows] == list(range(len(texts)))
    vocab = spacy.blank("en").vocab
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(vocab))
    expected_docs = list(DocBin().from_disk(expected / "out.spacy").get_docs(vocab))
    assert [(d.text, d.cats, d._.meta) for d in docs] == [(d.text, d.cats, d._.meta) for d in expected_docs]
    report = json.loads(summary.read_text())
    assert report["docs"] == len(texts) and report["skipped"] == 1 and report["resumed_chunks"] == done
    assert report["pairs"] == len(texts) * len(LABELS)


def test_annotate_n_process_matches_single_process(pipeline_dir: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS * 3)
    assert run_cli(pipeline_dir, source, tmp_path / "one.jsonl", "--batch-size", "4") == 0
    assert run_cli(pipeline_dir, source, tmp_path / "two.jsonl", "--batch-size", "4", "--n-process", "2") == 0
    one, two = read_jsonl(tmp_path / "one.jsonl"), read_jsonl(tmp_path / "two.jsonl")
    assert [r["meta"] for r in one] == [r["meta"] for r in two]
    for a, b in zip(one, two):
        assert a["cats"] == pytest.approx(b["cats"], abs=1e-5)


def test_console_script_runs(tmp_path: Path) -> None:
    # `python -m spacy_zeroshot` is what the SIGKILL test runs.
    script = Path(sys.executable).parent / "spacy-zeroshot"
    result = subprocess.run([str(script), "annotate", "--help"], capture_output=True, text=True, check=True)
    assert "--resume" in result.stdout and "--on-error" in result.stdout


def test_review_record_exports_spans_links_and_relations() -> None:
    for name in ("zeroshot_type_scores", "zeroshot_link_scores"):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)
    if not Doc.has_extension("relations"):
        Doc.set_extension("relations", default=None)
    nlp = spacy.blank("en")
    doc = nlp("Apple was founded by Steve Jobs in California.")
    apple = Span(doc, 0, 1, label="company", kb_id="Q312")
    jobs = Span(doc, 4, 6, label="person")
    doc.ents = [apple, jobs]
    doc.spans["candidates"] = [Span(doc, 7, 8, label="LOC")]
    apple._.zeroshot_type_scores = {"company": 0.9, "fruit": 0.1}
    apple._.zeroshot_link_scores = {"Q312": 0.8, "Q89": 0.2}
    doc.cats = {"business": 0.7}
    doc._.relations = [
        {"head": [0, 1], "tail": [4, 6], "label": "founded_by", "score": 0.6, "scores": {"founded_by": 0.6}},
        {"head": [4, 6], "tail": [2, 3], "label": "odd", "score": 0.5, "scores": {}},
    ]
    record = review_record(doc, {"id": 7})
    first, second, third, fourth = record["spans"]
    assert (first["start"], first["end"], first["label"], first["kb_id"]) == (0, 5, "company", "Q312")
    assert first["score"] == 0.9 and first["kb_score"] == 0.8 and first["type_scores"]["fruit"] == 0.1
    assert second["score"] is None and second["kb_id"] is None and "type_scores" not in second
    assert third["source"] == "spans:candidates" and third["text"] == "California"
    assert fourth["source"] == "relations" and fourth["text"] == "founded"
    assert record["relations"][0] == {"head": 0, "tail": 1, "label": "founded_by", "score": 0.6, "scores": {"founded_by": 0.6}}
    assert record["relations"][1]["tail"] == 3
    assert record["cats"] == {"business": 0.7} and record["meta"] == {"id": 7}
    json.dumps(record)
    doc._.relations = None


def test_review_record_exports_span_ranker_relevance() -> None:
    """What a `zeroshot_span_ranker` scored reaches the review JSONL: the kept spans' relevance."""
    if not Span.has_extension("zeroshot_relevance"):
        Span.set_extension("zeroshot_relevance", default=None)
    nlp = spacy.blank("en")
    doc = nlp("The bridge costs 40 million. It opens in May.")
    first, second = doc[0:6], doc[6:11]
    first._.zeroshot_relevance, second._.zeroshot_relevance = 0.92, 0.03
    doc.spans["ranked"] = [Span(doc, 0, 6)]
    spans = review_record(doc)["spans"]
    assert [(s["source"], s["text"], s["relevance"]) for s in spans] == [("spans:ranked", first.text, 0.92)]
    assert "relevance" not in review_record(nlp("No ranker here."))["spans"]
