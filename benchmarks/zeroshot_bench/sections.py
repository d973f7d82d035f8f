"""The tables of the report, each built from the workloads, runners and meters.

Every function takes the run's `Bench` (what is measured, on what, with which settings)
and prints its table(s).
"""

import argparse
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import onnx_runners
from .models import MINILM, build_random_deberta
from .peaks import PeakMeter, peak_kind, useful_flops
from .report import Cats, Rows, compare, table
from .runners import (
    EXACT,
    HF_BATCHED,
    HF_PER_DOC,
    hf_pipeline,
    hf_runners,
    interleaved_share,
    ours_run,
    pipe_runner,
    round_robin,
    run_hf,
    run_ours,
    textcat_pipeline,
)
from .workloads import AG_NEWS, LABELS, SWEEP_LABELS, TEMPLATE, load_long_texts, load_texts


@dataclass
class Bench:
    """One benchmark run: the model, docs and labels, the device, the lossy modes and the options."""

    args: argparse.Namespace
    model_path: str
    texts: List[str]
    labels: List[str]
    device: str
    lossy: List[str]
    meter: PeakMeter
    work: Path
    short_ratio: Dict[str, float] = field(default_factory=dict)  # run -> speed-up over (a), short texts

    @property
    def hypotheses(self) -> List[str]:
        return [TEMPLATE.format(label) for label in self.labels]


def speed(bench: Bench) -> None:
    """Each run timed on its own, between two matmul peak samples: pairs/s, speed-ups, share of
    the peak, agreement with our float32 scores; then float32 timed in chunks between samples."""
    args, model_path, texts, labels, device = bench.args, bench.model_path, bench.texts, bench.labels, bench.device
    flops, n_pairs = useful_flops(model_path, texts, bench.hypotheses)
    rows = Rows(n_pairs, flops)
    margin = args.recheck_margin

    def ours(kind: str, **nli: Any) -> Tuple[Tuple[float, Cats, Any], Optional[float]]:
        return bench.meter.around(kind, lambda: run_ours(model_path, texts, labels, device, **nli))

    hf_cats: Dict[str, Cats] = {}
    if not args.skip_hf:
        for key, batched, mode in (("a", False, HF_PER_DOC), ("b", True, HF_BATCHED)):
            (elapsed, hf_cats[key]), peak = bench.meter.around(
                "float32", lambda b=batched: run_hf(model_path, texts, labels, device, b)
            )
            rows.baselines[key] = elapsed
            rows.add(mode, elapsed, hf_cats[key], peak)
    untuned = None
    if device == "cpu" and not args.short:  # before anything tunes the process's allocator (it stays tuned)
        untuned = ours("float32", dtype="float32", tune_allocator=False)
    # The pair cache is on here: it does not change scores, and the second pass shows its effect.
    (elapsed, exact, cached), peak = ours("float32", second_pass=True, dtype="float32", cache_size=100_000)
    rows.reference = exact
    for row, key in zip(rows.rows, ("a", "b")):  # the pipeline runs against our exact scores
        row.update(compare(hf_cats[key], exact))
    rows.add(EXACT, elapsed, exact, peak)
    share = None
    if args.interleave_docs:
        seconds = min(args.peak_seconds, 0.5)
        share = interleaved_share(model_path, texts, labels, device, args.interleave_docs, seconds, dtype="float32")
    if untuned is not None:
        (elapsed, cats, _), peak = untuned
        rows.add("(c') same, tune_allocator=false", elapsed, cats, peak)
    (elapsed, cats, _), peak = ours("float32", dtype="float32", optimize=False)
    rows.add("(c') same, optimize=false", elapsed, cats, peak)
    for mode in bench.lossy:
        (elapsed, cats, _), peak = ours(peak_kind(mode), dtype=mode)
        rows.add(f"(d) zeroshot_textcat {mode}", elapsed, cats, peak)
        if margin:
            (elapsed, cats, extra), peak = ours(peak_kind(mode), dtype=mode, recheck_margin=margin)
            rows.add(f"(d) {mode}, recheck_margin={margin}", elapsed, cats, peak, rechecked=extra["rechecked"])
    hit_rate = cached["hits"] / n_pairs
    rows.add(f"(c) same docs again, cache_size=100000: {hit_rate:.0%} hits", cached["elapsed"], cached["cats"], None, work=False)
    print()
    print(table(rows.rows, f"Speed: {n_pairs} pairs, {device}"))
    print(f"\nmatmul peaks (GFLOP/s) sampled around the runs: {bench.meter.summary()}")
    if share is not None:
        print(
            f"(c) float32 timed in chunks of {args.interleave_docs} docs, each between two float32 peak samples: "
            f"{share['pps']:.2f} pairs/s; useful GFLOP/s = {share['overall']:.0%} of the peak overall, "
            f"median chunk {share['median']:.0%} ({share['chunks']} chunks)"
        )


def round_robins(bench: Bench) -> None:
    """Speed-ups measured side by side: every chunk of docs through each run in turn.

    Two rounds, so that at most two base models are loaded at once (peak RSS < 3 GB): (a), (b)
    and (c); then (c) and the first lossy mode, whose speed-ups over (a) and (b) are its
    speed-up over (c) in round 2 times (c)'s over them in round 1.
    """
    chunk_docs, texts = bench.args.round_robin_docs, bench.texts
    flops, n_pairs = useful_flops(bench.model_path, texts, bench.hypotheses)
    rows = Rows(n_pairs, flops)
    exact_run = ours_run(bench.model_path, texts, bench.labels, bench.device, "float32")
    hf = hf_runners(hf_pipeline(bench.model_path, bench.device), bench.labels)
    first = round_robin({**hf, EXACT: exact_run}, texts, chunk_docs)
    del hf
    gc.collect()
    rows.baselines = {"a": first[HF_PER_DOC][0], "b": first[HF_BATCHED][0]}
    rows.reference = first[EXACT][1]
    for name, (elapsed, cats) in first.items():
        rows.add(name, elapsed, cats, None)
    bench.short_ratio[EXACT] = first[HF_PER_DOC][0] / first[EXACT][0]
    for mode in bench.lossy[:1]:
        lossy_name = f"(d) zeroshot_textcat {mode}"
        lossy_run = ours_run(bench.model_path, texts, bench.labels, bench.device, mode)
        second = round_robin({EXACT: exact_run, lossy_name: lossy_run}, texts, chunk_docs)
        del lossy_run
        gc.collect()
        # Round 2's times in round 1's conditions: scaled by (c)'s time in round 1 / round 2.
        scale = first[EXACT][0] / second[EXACT][0]
        speedup = second[EXACT][0] / second[lossy_name][0]
        rows.add(f"{lossy_name} (round 2: {speedup:.2f}x (c))", second[lossy_name][0] * scale, second[lossy_name][1], None)
        bench.short_ratio[mode] = bench.short_ratio[EXACT] * speedup
    print()
    print(table(rows.rows, f"Round robin: every chunk of {chunk_docs} docs through each run in turn, {n_pairs} pairs"))
    print("(d): timed in a second round against (c); its pairs/s and speed-ups are scaled to round 1 through (c)")


WORKLOAD_COLUMNS = (
    "| workload | pairs | tokens per pair | (a) pairs/s | (c) float32 pairs/s | (c) x (a) | (d) {mode} pairs/s "
    "| (d) x (a) | (c) parity with (a) | (d) top-1 agree with (c) |"
)


def _workload_row(name: str, texts: List[str], labels: List[str], runs: Dict[str, Tuple[float, Cats]], tokens: float) -> str:
    (a_time, a_cats), (c_time, c_cats) = runs[HF_PER_DOC], runs[EXACT]
    lossy = [key for key in runs if key not in (HF_PER_DOC, EXACT)]
    n = len(texts) * len(labels)
    parity = compare(a_cats, c_cats)["max_diff"]
    cells = [name, str(n), f"{tokens:.0f}", f"{n / a_time:.2f}", f"{n / c_time:.2f}", f"**{a_time / c_time:.2f}x**"]
    if lossy:
        d_time, d_cats = runs[lossy[0]]
        agree = compare(d_cats, c_cats)["agree"]
        cells += [f"{n / d_time:.2f}", f"**{a_time / d_time:.2f}x**", f"{parity:.1e}", f"{agree:.1%}"]
    else:
        cells += ["-", "-", f"{parity:.1e}", "-"]
    return "| " + " | ".join(cells) + " |"


def _mean_tokens(tokenizer: Any, texts: List[str], hypotheses: List[str]) -> float:
    encoded = tokenizer([t for t in texts for _ in hypotheses], [h for _ in texts for h in hypotheses])
    return sum(len(ids) for ids in encoded["input_ids"]) / max(1, len(encoded["input_ids"]))


def workloads(bench: Bench) -> None:
    """Long premises (400-500 tokens) and a label sweep (2, 8, 32, 64 labels on the same docs),
    each a round robin of (a) the per-doc pipeline, (c) float32 and (d) the first lossy mode,
    with the speed-ups over (a) beside the short-text ones of the round-robin table."""
    from transformers import AutoTokenizer

    args, device, model_path = bench.args, bench.device, bench.model_path
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    mode = bench.lossy[0] if bench.lossy else None
    classifier = hf_pipeline(model_path, device)
    exact_nlp = textcat_pipeline(model_path, bench.texts, bench.labels, device, dtype="float32")
    lossy_nlp = textcat_pipeline(model_path, bench.texts, bench.labels, device, dtype=mode) if mode else None
    lines = [f"### Workloads: speed-ups over the per-doc pipeline, each row a round robin in chunks of {args.workload_chunk_docs} docs", ""]
    lines += [WORKLOAD_COLUMNS.format(mode=mode or "-"), "|" + "---|" * 10]

    def measure(name: str, texts: List[str], labels: List[str]) -> None:
        runs = {HF_PER_DOC: hf_runners(classifier, labels)[HF_PER_DOC]}
        runs[EXACT] = pipe_runner(textcat_pipeline(model_path, texts, labels, device, backend=exact_nlp.get_pipe("zeroshot_nli").backend))
        if lossy_nlp is not None:
            backend = lossy_nlp.get_pipe("zeroshot_nli").backend
            runs[f"(d) {mode}"] = pipe_runner(textcat_pipeline(model_path, texts, labels, device, backend=backend))
        timed = round_robin(runs, texts, args.workload_chunk_docs)
        tokens = _mean_tokens(tokenizer, texts, [TEMPLATE.format(label) for label in labels])
        lines.append(_workload_row(name, texts, labels, timed, tokens))
        print(f"  {lines[-1]}", flush=True)

    if args.long_docs:
        long_texts, source = load_long_texts(args.long_docs, tokenizer)
        measure(f"long: {args.long_docs} premises of 400-500 tokens x {len(bench.labels)} labels", long_texts, bench.labels)
        print(f"  (long premises: {source})")
    for size in args.sweep_sizes if args.sweep_docs else ():
        measure(f"label sweep: {args.sweep_docs} docs x {size} labels", bench.texts[: args.sweep_docs], SWEEP_LABELS[:size])
    gc.collect()
    print()
    print("\n".join(lines))
    if bench.short_ratio:
        ratios = ", ".join(f"{name} {value:.2f}x" for name, value in bench.short_ratio.items())
        print(f"short texts (round-robin table above), speed-up over (a): {ratios}")


ORT_COLUMNS = (
    "| ours | pairs/s | ONNX Runtime peer | pairs/s | ours x peer | ours vs (c): top-1 agree, max abs diff "
    "| peer vs (c): top-1 agree, max abs diff |"
)


def onnx_peers(bench: Bench) -> None:
    """Our float32 against ONNX Runtime float32, and our first lossy mode against ONNX Runtime
    int8, each pair timed side by side (round robin), with parity/agreement against (c)."""
    why = onnx_runners.missing()
    if why:
        print(f"\n{why}")
        return
    args, texts, labels, chunk_docs = bench.args, bench.texts, bench.labels, bench.args.round_robin_docs or 8
    threads = _threads()
    peers, _ = onnx_runners.ort_runners(bench.model_path, bench.work / "onnx", labels, threads, args.ort_batch_pairs)
    exact = ours_run(bench.model_path, texts, labels, bench.device, "float32")
    rounds = [(EXACT, exact, onnx_runners.ORT_FP32)]
    if bench.lossy:
        mode = bench.lossy[0]
        rounds.append((f"(d) zeroshot_textcat {mode}", None, onnx_runners.ORT_INT8))
    lines = [
        f"### ONNX Runtime peers: each row a round robin in chunks of {chunk_docs} docs, {len(texts) * len(labels)} pairs",
        "",
        ORT_COLUMNS,
        "|" + "---|" * 7,
    ]
    reference: Optional[Cats] = None
    for ours_name, run, peer_name in rounds:
        if run is None:
            run = ours_run(bench.model_path, texts, labels, bench.device, bench.lossy[0])
        timed = round_robin({ours_name: run, peer_name: peers.pop(peer_name)}, texts, chunk_docs)
        (ours_time, ours_cats), (peer_time, peer_cats) = timed[ours_name], timed[peer_name]
        reference = reference or ours_cats
        n = len(texts) * len(labels)
        mine, theirs = compare(ours_cats, reference), compare(peer_cats, reference)
        lines.append(
            f"| {ours_name} | {n / ours_time:.2f} | {peer_name} | {n / peer_time:.2f} | **{peer_time / ours_time:.2f}x** "
            f"| {mine['agree']:.1%}, {mine['max_diff']:.1e} | {theirs['agree']:.1%}, {theirs['max_diff']:.1e} |"
        )
        print(f"  {lines[-1]}", flush=True)
        del run, timed
        gc.collect()
    print()
    print("\n".join(lines))
    print(f"ONNX Runtime: the same model exported by optimum, {threads} intra-op threads, batches of {args.ort_batch_pairs} length-sorted pairs")


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def agreement(bench: Bench) -> None:
    """Each lossy mode against float32 on models whose logits are spread like trained ones'."""
    args, labels, device = bench.args, bench.labels, bench.device
    models: List[Tuple[str, str]] = []
    if args.skip_agreement:
        return
    if args.model is None and args.spread_init:
        spread = build_random_deberta(bench.work / f"deberta-v3-base-random-init{args.spread_init}", args.spread_init)
        models.append((f"random DeBERTa-v3-base, initializer_range={args.spread_init}", str(spread)))
    if MINILM.exists():
        models.append(("trained minilm-nli (../shared/models)", str(MINILM)))
        decisive = bench.work / f"minilm-nli-agnews{args.finetune_docs}"
        if AG_NEWS.exists() and args.finetune_docs and (not args.short or (decisive / "config.json").exists()):
            from trained_like import build_decisive_minilm

            build_decisive_minilm(MINILM, AG_NEWS, decisive, LABELS, TEMPLATE, n_docs=args.finetune_docs)
            title = f"minilm-nli fine-tuned on {args.finetune_docs} other AG News texts (decisive, like a trained model)"
            models.append((title, str(decisive)))
    texts = bench.texts
    if args.agreement_docs and args.agreement_docs != len(texts):  # more (or fewer) docs than the speed runs
        from transformers import AutoTokenizer

        texts, _ = load_texts(args.agreement_docs, AutoTokenizer.from_pretrained(bench.model_path))
    ort = args.ort and onnx_runners.missing() is None
    for title, path in models:
        flops, n_pairs = useful_flops(path, texts, bench.hypotheses)
        rows = Rows(n_pairs, flops)
        elapsed, exact, _ = run_ours(path, texts, labels, device, dtype="float32")
        rows.reference = exact
        rows.add("float32 (reference)", elapsed, exact, None)
        for mode in bench.lossy[:1] if args.short else bench.lossy:
            elapsed, cats, _ = run_ours(path, texts, labels, device, dtype=mode)
            rows.add(mode, elapsed, cats, None)
            if args.recheck_margin:
                elapsed, cats, extra = run_ours(path, texts, labels, device, dtype=mode, recheck_margin=args.recheck_margin)
                rows.add(f"{mode}, recheck_margin={args.recheck_margin}", elapsed, cats, None, rechecked=extra["rechecked"])
        if ort and not args.short:
            folder = bench.work / "onnx" / Path(path).name
            peers, _ = onnx_runners.ort_runners(path, folder, labels, _threads(), args.ort_batch_pairs)
            rows.add(onnx_runners.ORT_INT8, *_timed_run(peers[onnx_runners.ORT_INT8], texts), None)
        print()
        print(table(rows.rows, f"Agreement with float32: {title}, {n_pairs} pairs"))


def _timed_run(run: Any, texts: List[str]) -> Tuple[float, Cats]:
    import time

    start = time.perf_counter()
    cats = run(texts)
    return time.perf_counter() - start, cats
