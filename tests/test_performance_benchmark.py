"""The benchmark script runs end to end (on a tiny model, without the slow pipeline runs)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_zeroshot.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_zeroshot", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_prints_tables(deberta_path, capsys):
    bench = _bench_module()
    args = ["--model", deberta_path, "--docs", "3", "--labels", "2", "--dtypes", "bfloat16,int8"]
    bench.main([*args, "--skip-hf", "--skip-agreement", "--peak-seconds", "0.1"])
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
    bench.main([*args, "--skip-agreement", "--interleave-docs", "0", "--round-robin-docs", "2", "--recheck-margin", "0"])
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
