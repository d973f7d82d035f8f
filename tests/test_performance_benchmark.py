"""The benchmark script runs end to end (on a tiny model, without the slow pipeline runs), and
its package's pieces do what the tables rely on."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_zeroshot.py"
# Every run here leaves out what the test does not check: the workloads and ONNX Runtime rows.
QUICK = ["--long-docs", "0", "--sweep-docs", "0", "--no-ort"]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_zeroshot", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_prints_tables(deberta_path, capsys):
    bench = _bench_module()
    args = ["--model", deberta_path, "--docs", "3", "--labels", "2", "--dtypes", "bfloat16,int8"]
    bench.main([*args, *QUICK, "--skip-hf", "--skip-agreement", "--peak-seconds", "0.1"])
    out = capsys.readouterr().out
    assert "| (c) zeroshot_textcat float32 (exact) |" in out
    assert "| (d) zeroshot_textcat int8 |" in out
    assert "100% hits" in out
    assert "peak RSS" in out
    assert "| (c') same, tune_allocator=false |" in out
    assert "| (d) bfloat16, recheck_margin=0.1 |" in out
    assert "float32 best" in out and "sustained (median)" in out
    assert "each between two float32 peak samples" in out


def test_round_robin_rotates_the_runs_over_chunks():
    bench = _bench_module()
    calls = []

    def run(name):
        return lambda chunk: [calls.append((name, tuple(chunk))) or {"x": float(len(t))} for t in chunk]

    timed = bench.round_robin({"a": run("a"), "b": run("b"), "c": run("c")}, ["p", "qq", "rrr", "ss", "t"], 2)
    assert calls[:2] == [("a", ("p", "qq"))] * 2  # a run gets the whole chunk
    firsts = [calls[i][0] for i in (0, 6, 12)]  # the first run of each chunk
    assert firsts == ["a", "b", "c"]
    for name in "abc":
        elapsed, cats = timed[name]
        assert elapsed >= 0 and [c["x"] for c in cats] == [1.0, 2.0, 3.0, 2.0, 1.0]


def test_benchmark_round_robin_table(deberta_path, capsys):
    bench = _bench_module()
    args = ["--model", deberta_path, "--docs", "3", "--labels", "2", "--dtypes", "bfloat16", "--peak-seconds", "0.1"]
    bench.main([*args, *QUICK, "--skip-agreement", "--interleave-docs", "0", "--round-robin-docs", "2", "--recheck-margin", "0"])
    out = capsys.readouterr().out
    section = out.split("### Round robin: every chunk of 2 docs through each run in turn, 6 pairs")[1]
    for mode in ("(a) HF pipeline, per doc", "(b) HF pipeline, list, batch_size=32", "(c) zeroshot_textcat float32 (exact)"):
        assert f"| {mode} |" in section
    row = next(line for line in section.splitlines() if line.startswith("| (d) zeroshot_textcat bfloat16 (round 2: "))
    assert row.split("|")[3].strip() != "-"  # a speed-up over (a), through (c)
    assert "scaled to round 1 through (c)" in section
    parity = next(line for line in section.splitlines() if line.startswith("| (a) HF pipeline, per doc |"))
    assert parity.split("|")[9].strip() == "100.0%"  # the pipeline's scores agree with ours


def test_benchmark_compare_counts_agreement():
    bench = _bench_module()
    result = bench.compare([{"a": 0.6, "b": 0.4}, {"a": 0.2, "b": 0.8}], [{"a": 0.7, "b": 0.3}, {"a": 0.6, "b": 0.4}])
    assert result["agree"] == 0.5 and result["decisive"] == "50.0% of 2"
    assert abs(result["max_diff"] - 0.4) < 1e-9


def _trained_like_module():
    import sys

    sys.path.insert(0, str(BENCH.parent))
    import trained_like

    return trained_like


def _news_csv(path, rows):
    import csv

    with path.open("w", encoding="utf8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_trained_like_pairs_skip_the_benchmark_rows(tmp_path):
    trained_like = _trained_like_module()
    rows = [["1", f"skipped {i}", "text"] for i in range(trained_like.FIRST_ROW)]
    rows += [["2", "Team wins", "the final"], ["4", "New chip", "is fast"], ["3", "Shares", "fall"]]
    pairs = trained_like.training_pairs(_news_csv(tmp_path / "news.csv", rows), ["sports", "business"], "It is {}.", 2)
    assert pairs == [
        ("Team wins. the final", "It is sports.", True),
        ("Team wins. the final", "It is business.", False),
        ("New chip. is fast", "It is sports.", False),
        ("New chip. is fast", "It is business.", False),
    ]


def test_trained_like_fine_tunes_and_saves_a_loadable_model(bert_path, tmp_path):
    import numpy as np

    from spacy_zeroshot.backend import NLIBackend

    trained_like = _trained_like_module()
    rows = [["1", "skipped", "text"]] * trained_like.FIRST_ROW + [["2", "Team wins", "the final"]] * 4
    news = _news_csv(tmp_path / "news.csv", rows)
    out = trained_like.build_decisive_minilm(Path(bert_path), news, tmp_path / "tuned", ["sports", "travel"], "It is {}.", 4)
    pairs = [("Team wins. the final", "It is sports."), ("Team wins. the final", "It is travel.")]
    before = NLIBackend(bert_path, device="cpu").score(pairs)
    after = NLIBackend(str(out), device="cpu").score(pairs)
    assert not np.allclose(before, after)


def _package():
    import importlib

    _bench_module()  # puts the package's folder on sys.path
    for name in ("cli", "onnx_runners", "sections", "workloads"):
        importlib.import_module(f"zeroshot_bench.{name}")
    return sys.modules["zeroshot_bench"]


def _bench_setup(deberta_path, tmp_path, *extra):
    package = _package()
    args = ["--model", deberta_path, "--docs", "4", "--labels", "2", "--dtypes", "bfloat16", "--work-dir", str(tmp_path)]
    return package.cli.setup(package.cli.parse_args([*args, "--peak-seconds", "0.1", *extra]))


def test_benchmark_workloads_table(deberta_path, tmp_path, capsys):
    """Long premises and the label sweep, each a round robin of (a), (c) and (d), with parity."""
    package = _package()
    bench = _bench_setup(deberta_path, tmp_path, "--long-docs", "1", "--sweep-docs", "2", "--sweep-sizes", "2,8")
    bench.short_ratio["(c) zeroshot_textcat float32 (exact)"] = 2.0
    package.sections.workloads(bench)
    out = capsys.readouterr().out
    section = out.split("### Workloads: speed-ups over the per-doc pipeline")[1]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| long") or line.startswith("| label")]
    assert [r[0].strip() for r in rows] == [
        "long: 1 premises of 400-500 tokens x 2 labels",
        "label sweep: 2 docs x 2 labels",
        "label sweep: 2 docs x 8 labels",
    ]
    assert [int(r[1]) for r in rows] == [2, 4, 16]  # pairs
    for row in rows:
        assert float(row[8]) <= 1e-4  # (c) gives the per-doc pipeline's scores
        assert row[5].strip().startswith("**") and row[7].strip().startswith("**")  # speed-ups of (c) and (d)
    assert "short texts (round-robin table above), speed-up over (a): (c) zeroshot_textcat float32 (exact) 2.00x" in section


def test_long_texts_are_400_to_500_tokens(deberta_path):
    from transformers import AutoTokenizer

    workloads = _package().workloads
    tokenizer = AutoTokenizer.from_pretrained(deberta_path)
    texts, source = workloads.load_long_texts(3, tokenizer)
    assert len(texts) == 3 and len(set(texts)) == 3 and source
    for text in texts:
        assert 400 <= len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 500


def test_sweep_labels_are_distinct_and_start_with_the_main_labels():
    workloads = _package().workloads
    assert len(workloads.SWEEP_LABELS) == len(set(workloads.SWEEP_LABELS)) == max(workloads.SWEEP_SIZES) == 64
    assert workloads.SWEEP_LABELS[: len(workloads.LABELS)] == workloads.LABELS


def test_benchmark_onnx_rows_skip_with_a_message(deberta_path, tmp_path, capsys, monkeypatch):
    package = _package()
    monkeypatch.setattr(package.onnx_runners, "missing", lambda: "ONNX Runtime rows skipped: no onnxruntime")
    package.sections.onnx_peers(_bench_setup(deberta_path, tmp_path))
    assert "ONNX Runtime rows skipped: no onnxruntime" in capsys.readouterr().out


def test_benchmark_onnx_peers_match_our_float32(deberta_path, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("optimum.onnxruntime")
    package = _package()
    package.sections.onnx_peers(_bench_setup(deberta_path, tmp_path, "--round-robin-docs", "2"))
    out = capsys.readouterr().out.split("### ONNX Runtime peers")[1]
    fp32 = next(line for line in out.splitlines() if line.startswith("| (c) zeroshot_textcat float32 (exact) |"))
    cells = [c.strip() for c in fp32.split("|")[1:-1]]
    assert cells[2] == package.onnx_runners.ORT_FP32
    agree, max_diff = cells[6].split(", ")
    assert agree == "100.0%" and float(max_diff) <= 1e-5  # the exported graph computes our float32 scores
    assert any(line.startswith("| (d) zeroshot_textcat bfloat16 |") and package.onnx_runners.ORT_INT8 in line for line in out.splitlines())


def test_cpu_flags_names_the_matrix_engine_flags():
    flags = _package().cli.cpu_flags()
    assert isinstance(flags, str) and flags


def test_benchmark_sections_option_picks_tables(deberta_path, tmp_path, capsys):
    cli = _package().cli
    assert cli.parse_args([]).sections == list(cli.SECTIONS)
    assert cli.parse_args(["--sections", "onnx,agreement"]).sections == ["onnx", "agreement"]
    with pytest.raises(SystemExit):
        cli.parse_args(["--sections", "speed,nonsense"])
    args = ["--model", deberta_path, "--docs", "2", "--labels", "2", "--work-dir", str(tmp_path), "--dtypes", "int8"]
    cli.main([*args, "--sections", "speed", "--peak-seconds", "0.1", "--interleave-docs", "0", "--recheck-margin", "0"])
    out = capsys.readouterr().out
    assert "### Speed: 4 pairs" in out and "Total benchmark time" in out
    assert "### Round robin" not in out and "### Workloads" not in out and "ONNX Runtime" not in out
