"""The Ray engine's parts that run without Ray: chunk plan, resume filter, join, budget guard, workers."""

import json
import pickle
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.budget import check_budget, default_num_actors, node_resources
from spacy_zeroshot.engines.chunks import ChunkStore, chunk_files
from spacy_zeroshot.engines.loading import nli_component_names
from spacy_zeroshot.engines.plan import ChunkPlan, pending_chunks, plan_chunks, read_chunk
from spacy_zeroshot.engines.ray_data import check_numbers, require_ray
from spacy_zeroshot.engines.readers import Position, read_from, read_records
from spacy_zeroshot.engines.review import review_record
from spacy_zeroshot.engines.worker import ChunkWorker, DatasetWorker, PipelineWorker

LABELS = ["sports", "business", "science"]
TEXTS = [f"Text number {i}: the team won and shares fell." for i in range(11)]


@pytest.fixture(scope="module")
def pipeline_dir(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "auto"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.initialize()
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    nlp.to_disk(path)
    return path


def write_corpus(folder: Path) -> List[Path]:
    """A folder with a JSONL file (two malformed lines, a blank line), a DocBin and a text file."""
    folder.mkdir()
    lines = [json.dumps({"text": text, "meta": {"id": i}}) for i, text in enumerate(TEXTS[:6])]
    lines.insert(2, "{broken")
    lines.insert(5, "")
    lines.insert(6, '{"title": "no text"}')
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")
    nlp = spacy.blank("en")
    DocBin(docs=[nlp(text) for text in TEXTS[6:9]], store_user_data=True).to_disk(folder / "b.spacy")
    (folder / "c.txt").write_text("\n".join(TEXTS[9:]) + "\n", encoding="utf8")
    return sorted(folder.iterdir())


def test_plan_chunks_cuts_like_the_local_engine(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "corpus")
    total, malformed, plan = plan_chunks(files, "text", 4)
    # 6 + 2 malformed JSONL records, 3 DocBin docs, 2 text lines: 13 records, 11 docs.
    assert total == 13 and [(r.source.endswith("a.jsonl"), r.line) for r in malformed] == [(True, 3), (True, 7)]
    # A chunk closes after its 4th doc; malformed records after it belong to the next one.
    assert [(c.number, c.start.index, c.records, c.docs) for c in plan] == [(0, 0, 5, 4), (1, 5, 5, 4), (2, 10, 3, 3)]
    assert plan[1].start == Position(file=0, offset=plan[1].start.offset, line=6, index=5)
    assert plan[2].start == Position(file=1, offset=2, line=3, index=10)
    assert plan_chunks(files, "text", 100)[2] == [ChunkPlan(0, Position(), 13, 11)]


def test_read_chunk_reads_every_record_once(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "corpus")
    for chunk_size in (1, 2, 3, 4, 5, 11):
        _, _, plan = plan_chunks(files, "text", chunk_size)
        texts: List[str] = []
        skipped: List[int] = []
        for chunk in plan:
            payload = read_chunk(files, "text", chunk, "skip")
            assert payload["records"] == chunk.records and len(payload["items"]) == chunk.docs
            for text, doc_bytes, _ in payload["items"]:
                texts.append(text if text is not None else Doc(spacy.blank("en").vocab).from_bytes(doc_bytes).text)
            skipped.extend(s["line"] for s in payload["skipped"])
        assert texts == TEXTS and skipped == [3, 7]
    with pytest.raises(ValueError, match=r"E208.*a.jsonl:3"):
        read_chunk(files, "text", plan_chunks(files, "text", 4)[2][0], "fail")


def test_read_from_equals_read_records_from_any_position(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "corpus")
    vocab = spacy.blank("en").vocab
    records = list(read_records(files, vocab))
    for i, record in enumerate(records[:-1]):
        file = next(n for n, p in enumerate(files) if str(p) == record.source)
        after = Position(file, record.end, record.line + 1, record.index + 1)
        rest = list(read_from(files, vocab, after, len(records)))
        assert [(r.index, r.source, r.line, r.text, r.error) for r in rest] == [
            (r.index, r.source, r.line, r.text, r.error) for r in records[i + 1 :]
        ]
    assert len(list(read_from(files, vocab, Position(), 3))) == 3


def test_plan_chunks_changed_input_is_refused(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "corpus")
    _, _, plan = plan_chunks(files, "text", 4)
    (tmp_path / "corpus" / "c.txt").write_text(TEXTS[9] + "\n", encoding="utf8")  # one line fewer
    with pytest.raises(ValueError, match="E503"):
        read_chunk(files, "text", plan[2], "skip")


def test_pending_chunks_skips_complete_ones() -> None:
    plan = [ChunkPlan(n, Position(index=n * 2), 2, 2) for n in range(5)]
    assert [c.number for c in pending_chunks(plan, {0, 2, 3})] == [1, 4]
    assert pending_chunks(plan, set(range(5))) == []


def test_chunk_store_keeps_out_of_order_chunks_and_joins_in_order(tmp_path: Path) -> None:
    outputs = [tmp_path / "out.jsonl"]
    store = ChunkStore(outputs, {"run": 1})
    assert store.start_any(resume=False) == []
    info = {"records": 1, "docs": 1, "skipped": [], "pairs": 0, "labels": {}}
    for number in (3, 0, 2):
        store.write_files(number, chunk_files([".jsonl"], [], [{"n": number}]), info)
    (store.path / "chunk-000001.jsonl").write_text('{"n": 1}\n')  # data without its record
    (store.path / "chunk-000004.jsonl.tmp").write_text("half")
    with pytest.raises(ValueError, match="E206"):
        ChunkStore(outputs, {"run": 2}).start_any(resume=True)
    store = ChunkStore(outputs, {"run": 1})
    assert store.start_any(resume=True) == [0, 2, 3]
    assert sorted(p.name for p in store.path.iterdir()) == [
        "chunk-000000.json",
        "chunk-000000.jsonl",
        "chunk-000002.json",
        "chunk-000002.jsonl",
        "chunk-000003.json",
        "chunk-000003.jsonl",
        "run.json",
    ]
    assert [r["docs"] for r in store.completed_records([0, 3])] == [1, 1]
    store.write_files(1, chunk_files([".jsonl"], [], [{"n": 1}]), info)
    store.assemble(4)
    assert [json.loads(line)["n"] for line in outputs[0].read_text().splitlines()] == [0, 1, 2, 3]


def test_budget_guard_refuses_pools_that_cannot_progress() -> None:
    two_cpus = [{"CPU": 2.0}]
    assert check_budget(two_cpus, 2, 0.5, 0) == []
    with pytest.raises(ValueError, match="E502"):
        check_budget(two_cpus, 2, 1, 0)  # every CPU to the actors: Ray Data's tasks would wait forever
    with pytest.raises(ValueError, match="E501"):
        check_budget(two_cpus, 1, 4, 0)  # no node big enough
    with pytest.raises(ValueError, match="E501"):
        check_budget([{"CPU": 16.0, "GPU": 1.0}], 2, 1, 1)  # two GPU actors, one GPU
    with pytest.raises(ValueError, match="E501"):
        check_budget([{"CPU": 1.5}, {"CPU": 1.5}], 3, 1, 0)  # 3 CPUs in all, but 1 actor per node
    gpus = [{"CPU": 16.0, "GPU": 8.0}, {"CPU": 16.0, "GPU": 8.0}]
    assert check_budget(gpus, 16, 1, 1) == []
    assert "W500" in check_budget(gpus, 4, 1, 0)[0]
    assert default_num_actors(gpus, 1, 1) == 16
    assert default_num_actors(gpus, 1, 0.5) == 31  # two per GPU, capped by the CPUs less one
    assert default_num_actors([{"CPU": 8.0}], 1, 0) == 7
    assert default_num_actors([{"CPU": 1.0}], 1, 0) == 1
    nodes = [{"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0, "memory": 9.0}}, {"Alive": False, "Resources": {"CPU": 8.0}}]
    assert node_resources(nodes) == [{"CPU": 4.0, "GPU": 1.0}]


def test_check_numbers_rejects_nonsense() -> None:
    check_numbers(batch_size=8, num_actors=None, num_gpus=0.5, num_cpus=0.5)
    for bad in ({"batch_size": 0}, {"num_actors": 0}, {"num_gpus": -1}, {"num_cpus": 0}, {"num_actors": True}):
        settings: Dict[str, Any] = {"batch_size": 8, "num_actors": 2, "num_gpus": 0, "num_cpus": 1, **bad}
        with pytest.raises(ValueError, match="E508"):
            check_numbers(**settings)


def test_require_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"E500.*spacy-zeroshot\[ray\]"):
        require_ray()


def test_engine_options_are_checked(pipeline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": TEXTS[0]}) + "\n{broken\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    assert main(["annotate", str(pipeline_dir), str(source), str(out), "--num-actors", "2"]) == 1
    assert main(["annotate", str(pipeline_dir), str(source), str(out), "--engine", "ray", "--n-process", "2"]) == 1
    assert main(["annotate", str(pipeline_dir), str(source), str(out), "--engine", "ray", "--num-actors", "0"]) == 1
    # A malformed record is reported as file:line before Ray starts or any actor loads a model.
    assert main(["annotate", str(pipeline_dir), str(source), str(out), "--engine", "ray", "--quiet"]) == 1
    err = capsys.readouterr().err
    for code in ("E509", "E510", "E508"):
        assert code in err
    assert f"E208] Malformed input record at {source}:2" in err
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_nli_component_names_and_device_override(pipeline_dir: Path, tmp_path: Path) -> None:
    assert nli_component_names(str(pipeline_dir), {}) == ["zeroshot_nli"]
    config = tmp_path / "config.cfg"
    spacy.load(pipeline_dir).config.to_disk(config)
    assert nli_component_names(str(config), {}) == ["zeroshot_nli"]
    with pytest.raises(ValueError, match="E207"):
        nli_component_names(str(tmp_path / "missing"), {})
    # The saved pipeline says device "auto": a worker without GPUs pins it to the CPU (-1)
    # before the model loads, so a CPU actor on a GPU machine never touches the GPU.
    worker = PipelineWorker(str(pipeline_dir), num_gpus=0, num_cpus=1)
    assert worker.nlp.config["components"]["zeroshot_nli"]["device"] == -1 and worker.devices == ["cpu"]


def test_chunk_worker_writes_what_the_local_engine_writes(pipeline_dir: Path, tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "corpus")
    _, _, plan = plan_chunks(files, "text", 4)
    worker = ChunkWorker(str(pipeline_dir), batch_size=2, suffixes=[".jsonl", ".spacy"])
    rows = {"chunk": [c.number for c in plan], "payload": [pickle.dumps(read_chunk(files, "text", c, "skip")) for c in plan]}
    out = worker(rows)
    assert out["chunk"] == [0, 1, 2]
    nlp = spacy.load(pipeline_dir)
    items = [(r.doc if r.doc is not None else r.text, r) for r in read_records(files, nlp.vocab) if r.error is None]
    for number, files_bytes, info_text in zip(out["chunk"], out["files"], out["info"]):
        chunk = plan[number]
        part = items[sum(c.docs for c in plan[:number]) :][: chunk.docs]
        docs = []
        for doc, record in nlp.pipe(part, as_tuples=True, batch_size=2):
            if record.meta is not None:
                doc._.meta = record.meta
            docs.append(doc)
        rows_expected = [review_record(doc, record.meta) for doc, (_, record) in zip(docs, part)]
        assert pickle.loads(files_bytes) == chunk_files([".jsonl", ".spacy"], docs, rows_expected)
        info = json.loads(info_text)
        assert info["docs"] == chunk.docs and info["records"] == chunk.records
        assert info["pairs"] == len(LABELS) * chunk.docs and sum(info["labels"]["cats"].values()) == chunk.docs
    assert [s["line"] for s in json.loads(out["info"][0])["skipped"]] == [3]


def test_dataset_worker_rows(pipeline_dir: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    table = pa.table(
        {"id": [7, 8, 9], "text": [TEXTS[0], None, TEXTS[1]], "meta": [{"k": "a"}, {"k": "b"}, {"k": "c"}], "lang": ["en"] * 3}
    )
    worker = DatasetWorker(str(pipeline_dir), batch_size=2, on_error="skip")
    out = worker(table)
    assert out.column_names == ["id", "meta", "lang", "review", "doc", "error"]
    assert out.column("id").to_pylist() == [7, 8, 9]
    nlp = spacy.load(pipeline_dir)
    reviews = out.column("review").to_pylist()
    assert reviews[1] is None and "null" in out.column("error").to_pylist()[1]
    for review, text, meta in ((reviews[0], TEXTS[0], {"k": "a"}), (reviews[2], TEXTS[1], {"k": "c"})):
        expected = review_record(nlp(text), meta)
        assert json.loads(review)["cats"] == pytest.approx(expected["cats"], abs=1e-6)
        assert json.loads(review)["meta"] == meta
    doc = Doc(nlp.vocab).from_bytes(out.column("doc").to_pylist()[2])
    assert doc.text == TEXTS[1] and doc._.meta == {"k": "c"} and doc.cats == pytest.approx(json.loads(reviews[2])["cats"])
    with pytest.raises(ValueError, match="E506"):
        DatasetWorker(str(pipeline_dir), on_error="fail")(table)
    with pytest.raises(ValueError, match="E505"):
        worker(table.drop_columns(["id"]))


def test_project_ray_command_parses() -> None:
    import shlex

    import srsly

    from spacy_zeroshot.cli import _parser, split_overrides

    project = srsly.read_yaml(Path(__file__).resolve().parents[1] / "examples" / "project" / "project.yml")
    (command,) = [c for c in project["commands"] if c["name"] == "annotate-ray"]
    assert project["workflows"]["ray"] == ["assemble", "annotate-ray", "gold", "evaluate"]
    script = command["script"][0]
    for key, value in project["vars"].items():
        script = script.replace("${vars.%s}" % key, str(value))
    argv = shlex.split(script)
    assert argv[:3] == ["python", "-m", "spacy_zeroshot"]
    args, overrides = split_overrides(argv[3:])
    options = _parser().parse_args(args)
    assert options.engine == "ray" and options.num_actors == 1 and options.resume and not overrides
