"""The runs timed: transformers' zero-shot pipeline and our `zeroshot_textcat`, as chunk runners
(a function from a list of texts to their scores), and the ways of timing them."""

import gc
import time
from typing import Any, Callable, Dict, List, Tuple

from .peaks import PeakMeter, useful_flops
from .report import Cats
from .workloads import TEMPLATE

HF_PER_DOC = "(a) HF pipeline, per doc"
HF_BATCHED = "(b) HF pipeline, list, batch_size=32"
EXACT = "(c) zeroshot_textcat float32 (exact)"
Runner = Callable[[List[str]], Cats]


def hf_pipeline(model_path: str, device: str) -> Any:
    """transformers' zero-shot pipeline, loaded and warmed up once."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model_path, device=0 if device.startswith("cuda") else -1)
    classifier("A warm-up text.", ["one", "two"], hypothesis_template=TEMPLATE)
    return classifier


def hf_runners(classifier: Any, labels: List[str]) -> Dict[str, Runner]:
    """(a) per doc and (b) over the list with batch_size=32, as chunk runners over `labels`."""

    def hf(chunk: List[str], batched: bool) -> Cats:
        if batched:
            results = classifier(chunk, labels, hypothesis_template=TEMPLATE, batch_size=32)
        else:
            results = [classifier(text, labels, hypothesis_template=TEMPLATE) for text in chunk]
        return [dict(zip(r["labels"], r["scores"])) for r in results]

    return {HF_PER_DOC: lambda chunk: hf(chunk, False), HF_BATCHED: lambda chunk: hf(chunk, True)}


def hf_runs(model_path: str, texts: List[str], labels: List[str], device: str) -> Dict[str, Runner]:
    """(a) and (b) as chunk runners over one transformers pipeline, loaded and warmed up once."""
    return hf_runners(hf_pipeline(model_path, device), labels)


def run_hf(model_path: str, texts: List[str], labels: List[str], device: str, batched: bool) -> Tuple[float, Cats]:
    """Time transformers' pipeline over the texts: (b) over the list if `batched`, else (a)."""
    runs = hf_runs(model_path, texts, labels, device)
    run = runs[HF_BATCHED if batched else HF_PER_DOC]
    start = time.perf_counter()
    cats = run(texts)
    elapsed = time.perf_counter() - start
    del runs, run
    gc.collect()
    return elapsed, cats


def textcat_pipeline(model_path: str, texts: List[str], labels: List[str], device: str, backend: Any = None, **nli: Any) -> Any:
    """zeroshot_nli + zeroshot_textcat, loaded and warmed up on two of the texts (one-time
    kernel and cache set-up stays out of the timings). With `backend`, the pipeline scores
    with that loaded backend (another label set over the same model)."""
    import spacy

    nlp = spacy.blank("en")
    # The measured configuration tunes the CPU allocator (off by default: it is process-wide).
    nli = {"tune_allocator": True, **nli}
    nlp.add_pipe("zeroshot_nli", config={"model": model_path, "device": device, **nli})
    nlp.add_pipe("zeroshot_textcat", config={"labels": labels, "hypothesis_template": TEMPLATE})
    if backend is not None:
        nlp.get_pipe("zeroshot_nli").backend = backend
    nlp.initialize()
    list(nlp.pipe(texts[:2]))
    return nlp


def pipe_runner(nlp: Any) -> Runner:
    return lambda chunk: [dict(doc.cats) for doc in nlp.pipe(chunk)]


def ours_run(model_path: str, texts: List[str], labels: List[str], device: str, dtype: str, **nli: Any) -> Runner:
    """`zeroshot_textcat` in `dtype` as a chunk runner, loaded and warmed up once."""
    return pipe_runner(textcat_pipeline(model_path, texts, labels, device, dtype=dtype, **nli))


def run_ours(
    model_path: str, texts: List[str], labels: List[str], device: str, second_pass: bool = False, **nli: Any
) -> Tuple[float, Cats, Dict[str, Any]]:
    """Time nlp.pipe over the texts; with `second_pass`, time a second pass too (cache hits)."""
    nlp = textcat_pipeline(model_path, texts, labels, device, **nli)
    start = time.perf_counter()
    cats = [dict(doc.cats) for doc in nlp.pipe(texts)]
    elapsed = time.perf_counter() - start
    backend = nlp.get_pipe("zeroshot_nli").backend
    extra: Dict[str, Any] = {"rechecked": backend.stats["rechecked"] / max(1, backend.stats["scored"])}
    if second_pass:
        hits_before = backend.cache_info()["hits"]
        start = time.perf_counter()
        extra["cats"] = [dict(doc.cats) for doc in nlp.pipe(texts)]
        extra["elapsed"] = time.perf_counter() - start
        extra["hits"] = backend.cache_info()["hits"] - hits_before
    del nlp, backend
    gc.collect()
    return elapsed, cats, extra


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def round_robin(runs: Dict[str, Runner], texts: List[str], chunk_docs: int) -> Dict[str, Tuple[float, Cats]]:
    """Each chunk of `chunk_docs` docs goes through every run back to back, each chunk starting
    with the next run in turn; returns every run's total time and scores.

    A shared machine's speed drifts by up to 2x within a minute, so runs timed one after the
    other can see different machines. Here every run sees the same mix of moments, which is
    what a speed-up ratio needs.
    """
    names = list(runs)
    totals = {name: 0.0 for name in names}
    cats: Dict[str, Cats] = {name: [] for name in names}
    for k, start in enumerate(range(0, len(texts), chunk_docs)):
        chunk = texts[start : start + chunk_docs]
        for name in names[k % len(names) :] + names[: k % len(names)]:
            begin = time.perf_counter()
            cats[name].extend(runs[name](chunk))
            totals[name] += time.perf_counter() - begin
    return {name: (totals[name], cats[name]) for name in names}


def interleaved_share(
    model_path: str, texts: List[str], labels: List[str], device: str, chunk_docs: int, peak_seconds: float, **nli: Any
) -> Dict[str, float]:
    """Useful GFLOP/s as a share of the matmul peak, measured chunk by chunk.

    On a shared machine the speed drifts within seconds. Here every chunk of `chunk_docs` docs
    is timed between two short peak samples, so each ratio compares work done under the same
    conditions. Returns the median and the overall share, and the pairs/s.
    """
    nlp = textcat_pipeline(model_path, texts, labels, device, **nli)
    meter = PeakMeter(device, peak_seconds)
    hypotheses = [TEMPLATE.format(label) for label in labels]
    shares: List[float] = []
    work, elapsed, peak_time, pairs = 0.0, 0.0, 0.0, 0
    for start in range(0, len(texts), chunk_docs):
        chunk = texts[start : start + chunk_docs]
        flops, n = useful_flops(model_path, chunk, hypotheses)
        took, sustained = meter.around("float32", lambda c=chunk, pipe=nlp.pipe: _timed(lambda: list(pipe(c))))
        if sustained is None:
            continue
        peak = sustained * 1e9
        shares.append(flops / took / peak)
        work, elapsed, peak_time, pairs = work + flops, elapsed + took, peak_time + peak * took, pairs + n
    del nlp
    gc.collect()
    shares.sort()
    nan = float("nan")
    return {
        "median": shares[len(shares) // 2] if shares else nan,
        "overall": work / peak_time if peak_time else nan,
        "pps": pairs / elapsed if elapsed else nan,
        "chunks": len(shares),
    }

