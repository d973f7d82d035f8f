"""Benchmark: spacy-zeroshot against transformers' zero-shot pipeline, in one run.

Runs N docs x L labels through
  (a) transformers' pipeline("zero-shot-classification") called per doc, with defaults,
  (b) the same pipeline over the list of docs with batch_size=32,
  (c) our 'zeroshot_textcat' via nlp.pipe (float32, exact), also with `optimize` off,
  (d) each of our precision/runtime modes (bfloat16, int8 on CPU; float16, bfloat16 on GPU),
and prints pairs/s, speed-ups over (a) and (b), useful GFLOP/s as a share of a measured
matmul peak, the process's peak RSS so far, and for every mode the top-label agreement and
score differences against (c). Lossy modes are measured again on a model whose logits are
spread like a trained one's (larger `initializer_range`), on ../shared/models/minilm-nli
when it is there (a small trained NLI model; read by path, never copied), and on that model
fine-tuned on other AG News texts (built once in --work-dir; see trained_like.py), whose
logits are spread like a production model's. With --recheck-margin, each lossy mode also
runs with `recheck_margin` (close calls re-scored in float32; the share re-checked is shown).

By default the model is a randomly initialised DeBERTa-v3-base (the default model's exact
shape; speed does not depend on weight values), built offline with a WordPiece tokenizer
from ../shared/data/tokenizer/bert-base-uncased-vocab.txt (or a generated vocabulary).
Texts come from ../shared/data/ag_news/test.csv when present (30-120 tokens each), else
generated text of the same length profile.

    python benchmarks/bench_zeroshot.py              # the full run (64 docs x 8 labels)
    python benchmarks/bench_zeroshot.py --short      # 12 docs x 8 labels: the quick version
    python benchmarks/bench_zeroshot.py --model knowledgator/comprehend_it-base --device cuda
"""

import argparse
import csv
import gc
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
AG_NEWS = SHARED / "data" / "ag_news" / "test.csv"
BERT_VOCAB = SHARED / "data" / "tokenizer" / "bert-base-uncased-vocab.txt"
MINILM = SHARED / "models" / "minilm-nli"
LABELS = ["world", "sports", "business", "science and technology", "politics", "health", "entertainment", "travel"]
TEMPLATE = "This example is {}."
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}
HF_PER_DOC = "(a) HF pipeline, per doc"
HF_BATCHED = "(b) HF pipeline, list, batch_size=32"

Cats = List[Dict[str, float]]


# Model and texts ------------------------------------------------------------------------


def build_random_deberta(path: Path, initializer_range: float = 0.02, seed: int = 0) -> Path:
    """A random DeBERTa-v3-base-shaped NLI model with a WordPiece tokenizer, saved to `path`."""
    import torch
    from transformers import BertTokenizerFast, DebertaV2Config, DebertaV2ForSequenceClassification

    if (path / "config.json").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.txt"
    if BERT_VOCAB.exists():
        vocab_file.write_text(BERT_VOCAB.read_text(encoding="utf8"), encoding="utf8")
    else:
        vocab_file.write_text("\n".join(_generated_vocab()) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), model_max_length=512)
    config = DebertaV2Config(
        vocab_size=128100,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        max_relative_positions=-1,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
        layer_norm_eps=1e-7,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=initializer_range,
        id2label=NLI_LABELS,
        label2id={v: k for k, v in NLI_LABELS.items()},
    )
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _generated_vocab() -> List[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    words = " ".join(_generated_texts(200, random.Random(1))).split()
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + letters + ["##" + c for c in letters] + sorted(set(words))


def _generated_texts(n: int, rng: random.Random) -> List[str]:
    words = (
        "the a of to in and for on with by at from market team government company players said "
        "year new first week officials shares season report people world minister game win deal "
        "technology software study scientists election oil prices police city president country"
    ).split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(25, 100))) + "." for _ in range(n)]


def load_texts(n: int, tokenizer: Any) -> Tuple[List[str], str]:
    """`n` texts of 30-120 tokens: AG News test texts when available, else generated ones."""
    texts: List[str] = []
    if AG_NEWS.exists():
        with AG_NEWS.open(encoding="utf8", newline="") as f:
            for row in csv.reader(f):
                text = f"{row[1]}. {row[2]}".replace("\\", " ")
                if 30 <= len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 120:
                    texts.append(text)
                if len(texts) == n:
                    return texts, f"AG News test ({AG_NEWS})"
    generated = _generated_texts(n - len(texts), random.Random(0))
    return texts + generated, "generated text" if not texts else "AG News + generated text"


# Measuring -------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak(kind: str, device: str, seconds: float = 1.5) -> Optional[Tuple[float, float]]:
    """GFLOP/s of a large matrix product (float32, bfloat16 or int8): (best, median) of the
    products timed over `seconds`. The median is what the machine sustains right now."""
    import torch

    size = 2048 if seconds >= 0.5 else 256
    try:
        if kind == "int8":
            if device != "cpu":
                return None
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                linear = torch.ao.quantization.quantize_dynamic(
                    torch.nn.Sequential(torch.nn.Linear(size, size)), {torch.nn.Linear}, dtype=torch.qint8
                )
            x = torch.randn(size, size)
            run: Callable[[], Any] = lambda: linear(x)  # noqa: E731
        else:
            dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[kind]
            a = torch.randn(size, size, device=device, dtype=dtype)
            b = torch.randn(size, size, device=device, dtype=dtype)
            run = lambda: a @ b  # noqa: E731
        run()
        rates: List[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(rates) < 3:
            t = time.perf_counter()
            run()
            if device != "cpu":
                torch.cuda.synchronize()
            rates.append(2 * size**3 / (time.perf_counter() - t) / 1e9)
        rates.sort()
        return rates[-1], rates[len(rates) // 2]
    except (RuntimeError, AttributeError, TypeError):
        return None


class PeakMeter:
    """Matmul peaks sampled right before and after each timed run.

    Shared machines drift (other tenants, turbo): a peak measured once at start-up can be far
    from what the machine delivered during a run half a minute later. Each run's share of peak
    divides by the mean of the sustained (median) peaks measured just before and just after it.
    """

    def __init__(self, device: str, seconds: float) -> None:
        self.device, self.seconds = device, seconds
        self.samples: Dict[str, List[Tuple[float, float]]] = {}

    def sample(self, kind: str) -> Optional[float]:
        peak = matmul_peak(kind, self.device, self.seconds)
        if peak is None:
            return None
        self.samples.setdefault(kind, []).append(peak)
        return peak[1]

    def around(self, kind: str, run: Callable[[], Any]) -> Tuple[Any, Optional[float]]:
        """run() between two samples; returns its result and the mean sustained peak."""
        before = self.sample(kind)
        result = run()
        after = self.sample(kind)
        return result, None if before is None or after is None else (before + after) / 2

    def summary(self) -> str:
        parts = []
        for kind, values in self.samples.items():
            best = max(v[0] for v in values)
            sustained = sorted(v[1] for v in values)
            parts.append(
                f"{kind} best {best:.0f}, sustained (median) {sustained[len(sustained) // 2]:.0f} "
                f"[{sustained[0]:.0f}-{sustained[-1]:.0f}] over {len(values)} samples"
            )
        return "; ".join(parts)


def useful_flops(model_path: str, texts: Sequence[str], hypotheses: Sequence[str]) -> Tuple[float, int]:
    """FLOPs the pairs need without padding or recomputation, and the number of pairs.

    Per token and layer: the Q, K, V, output and feed-forward products; per pair and layer:
    the attention scores and the weighted sum, plus (DeBERTa) the two relative-position
    score matrices each query or key actually uses. The classifier reads one token's final
    state, so the last layer needs K and V for every token but Q, the attention row, the
    output and feed-forward products for that token only.
    """
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    h, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    relative = 2 if getattr(config, "relative_attention", False) else 0
    max_length = min(int(getattr(tokenizer, "model_max_length", 512)), 512)
    pairs = [(t, hyp) for t in texts for hyp in hypotheses]
    encoded = tokenizer([p for p, _ in pairs], [q for _, q in pairs], truncation="only_first", max_length=max_length)
    total = 0.0
    for ids in encoded["input_ids"]:
        n = len(ids)
        layer = n * 2 * (4 * h * h + 2 * h * ff) + (2 + relative) * 2 * n * n * h
        last = n * 2 * 2 * h * h + 2 * (2 * h * h + 2 * h * ff) + (2 + relative) * 2 * n * h
        total += (layers - 1) * layer + last
    return total, len(pairs)


def top_label(cats: Dict[str, float]) -> str:
    return max(cats, key=lambda k: cats[k])


def compare(cats: Cats, reference: Cats, margin: float = 0.01) -> Dict[str, Any]:
    """Top-label agreement (all docs, and docs whose reference top-2 gap is >= `margin`: near
    ties flip under any rounding) and absolute score differences."""
    same = [top_label(a) == top_label(b) for a, b in zip(cats, reference)]
    decisive = [s for s, ref in zip(same, reference) if _gap(ref) >= margin]
    diffs = [abs(a[k] - b[k]) for a, b in zip(cats, reference) for k in a]
    return {
        "agree": sum(same) / max(1, len(same)),
        "decisive": f"{sum(decisive) / len(decisive):.1%} of {len(decisive)}" if decisive else "- of 0",
        "max_diff": max(diffs, default=0.0),
        "mean_diff": sum(diffs) / max(1, len(diffs)),
    }


def _gap(cats: Dict[str, float]) -> float:
    top = sorted(cats.values(), reverse=True)
    return top[0] - top[1] if len(top) > 1 else 1.0


# Runners ---------------------------------------------------------------------------------


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


def textcat_pipeline(model_path: str, texts: List[str], labels: List[str], device: str, **nli: Any) -> Any:
    """zeroshot_nli + zeroshot_textcat, loaded and warmed up on two of the texts (one-time
    kernel and cache set-up stays out of the timings)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model_path, "device": device, **nli})
    nlp.add_pipe("zeroshot_textcat", config={"labels": labels, "hypothesis_template": TEMPLATE})
    nlp.initialize()
    list(nlp.pipe(texts[:2]))
    return nlp


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


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
    shares, work, elapsed, peak_time, pairs = [], 0.0, 0.0, 0.0, 0
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
    return {
        "median": shares[len(shares) // 2] if shares else float("nan"),
        "overall": work / peak_time if peak_time else float("nan"),
        "pps": pairs / elapsed if elapsed else float("nan"),
        "chunks": len(shares),
    }


def round_robin(runs: Dict[str, Callable[[List[str]], Cats]], texts: List[str], chunk_docs: int) -> Dict[str, Tuple[float, Cats]]:
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


def hf_runs(model_path: str, texts: List[str], labels: List[str], device: str) -> Dict[str, Callable[[List[str]], Cats]]:
    """(a) and (b) as chunk runners over one transformers pipeline, loaded and warmed up once."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model_path, device=0 if device.startswith("cuda") else -1)
    classifier(texts[0], labels, hypothesis_template=TEMPLATE)  # warm-up

    def hf(chunk: List[str], batched: bool) -> Cats:
        if batched:
            results = classifier(chunk, labels, hypothesis_template=TEMPLATE, batch_size=32)
        else:
            results = [classifier(text, labels, hypothesis_template=TEMPLATE) for text in chunk]
        return [dict(zip(r["labels"], r["scores"])) for r in results]

    return {
        HF_PER_DOC: lambda chunk: hf(chunk, False),
        HF_BATCHED: lambda chunk: hf(chunk, True),
    }


def ours_run(model_path: str, texts: List[str], labels: List[str], device: str, dtype: str) -> Callable[[List[str]], Cats]:
    """`zeroshot_textcat` in `dtype` as a chunk runner, loaded and warmed up once."""
    nlp = textcat_pipeline(model_path, texts, labels, device, dtype=dtype)
    return lambda chunk: [dict(doc.cats) for doc in nlp.pipe(chunk)]


def run_ours(
    model_path: str, texts: List[str], labels: List[str], device: str, second_pass: bool = False, **nli: Any
) -> Tuple[float, Cats, Any]:
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


# Report ----------------------------------------------------------------------------------


def fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: List[Dict[str, Any]], title: str) -> str:
    head = (
        "| mode | pairs/s | x per-doc (a) | x batched (b) | useful GFLOP/s | peak GFLOP/s | % of peak | peak RSS MB "
        "| top-1 agree | agree, gap >= 0.01 | max abs diff | mean abs diff | re-checked |"
    )
    lines = [f"### {title}", "", head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {fmt(r.get('pps'), '.2f')} | {fmt(r.get('x_a'), '.2f')} | {fmt(r.get('x_b'), '.2f')} "
            f"| {fmt(r.get('gflops'), '.0f')} | {fmt(r.get('peak'), '.0f')} | {fmt(r.get('peak_share'), '.0%')} "
            f"| {fmt(r.get('rss'), '.0f')} | {fmt(r.get('agree'), '.1%')} | {r.get('decisive', '-')} "
            f"| {fmt(r.get('max_diff'), '.2e')} | {fmt(r.get('mean_diff'), '.2e')} | {fmt(r.get('rechecked'), '.1%')} |"
        )
    return "\n".join(lines)


def modes_for(device: str, dtypes: Optional[List[str]]) -> List[str]:
    if dtypes:
        return dtypes
    return ["bfloat16", "int8"] if device == "cpu" else ["float16", "bfloat16"]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=64, help="number of docs (default 64)")
    parser.add_argument("--labels", type=int, default=8, help=f"number of labels, at most {len(LABELS)} (default 8)")
    parser.add_argument("--model", default=None, help="hub id or local path (default: random DeBERTa-v3-base)")
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default cpu)')
    parser.add_argument("--dtypes", default=None, help="comma-separated lossy modes to run (default per device)")
    parser.add_argument("--spread-init", type=float, default=0.06, help="initializer_range of the spread-logits model")
    parser.add_argument("--agreement-docs", type=int, default=None, help="docs for the agreement runs (default --docs)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--work-dir", default="/tmp/spacy-zeroshot-bench", help="where random models are built")
    parser.add_argument("--skip-hf", action="store_true", help="skip the transformers pipeline runs")
    parser.add_argument("--skip-agreement", action="store_true", help="skip the agreement runs on other models")
    parser.add_argument("--peak-seconds", type=float, default=1.5, help="time spent on each matmul peak sample")
    parser.add_argument(
        "--interleave-docs", type=int, default=8, help="docs per chunk of the interleaved float32 run (0: skip it)"
    )
    parser.add_argument(
        "--round-robin-docs",
        type=int,
        default=8,
        help="docs per chunk of the round-robin runs of (a), (b), (c), then (c) and the first lossy mode (0: skip)",
    )
    parser.add_argument(
        "--finetune-docs", type=int, default=400, help="AG News texts for the decisive model (built once, cached)"
    )
    parser.add_argument(
        "--recheck-margin", type=float, default=0.1, help="recheck_margin of the extra lossy runs (0: skip them)"
    )
    parser.add_argument("--short", action="store_true", help="12 docs (96 pairs with 8 labels): the quick version")
    args = parser.parse_args(argv)
    if args.short:  # the quick version: fewer docs, shorter peak samples, fewer side runs
        args.docs = min(args.docs, 12)
        args.peak_seconds = min(args.peak_seconds, 0.6)
        args.interleave_docs = 0
        args.round_robin_docs = 0

    import torch

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import spacy_zeroshot  # noqa: F401  (registers the factories when not installed)

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    work = Path(args.work_dir)
    model_path = args.model or str(build_random_deberta(work / "deberta-v3-base-random"))
    from transformers import AutoTokenizer

    texts, source = load_texts(args.docs, AutoTokenizer.from_pretrained(model_path))
    labels = LABELS[: args.labels]
    flops, n_pairs = useful_flops(model_path, texts, [TEMPLATE.format(label) for label in labels])
    device = args.device
    lossy = modes_for(device, args.dtypes.split(",") if args.dtypes else None)
    margin = args.recheck_margin
    meter = PeakMeter(device, args.peak_seconds)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# spacy-zeroshot benchmark: {args.docs} docs x {len(labels)} labels = {n_pairs} pairs")
    print(f"model: {args.model or 'random DeBERTa-v3-base (' + model_path + ')'}; texts: {source}")
    print(f"device: {device}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average {load:.2f}")
    print(f"useful work: {flops / n_pairs / 1e9:.2f} GFLOP per pair (mean)", flush=True)

    rows: List[Dict[str, Any]] = []
    hf_times: Dict[str, float] = {}
    reference: Optional[Cats] = None

    def add(mode: str, elapsed: float, cats: Cats, peak: Optional[float], work: bool = True, **extra: Any) -> None:
        row: Dict[str, Any] = {"mode": mode, "pps": n_pairs / elapsed, "rss": peak_rss_mb(), **extra}
        if work:  # False: the work was not done (cache hits), so no GFLOP/s
            row["gflops"] = flops / elapsed / 1e9
            row["peak"] = peak
            row["peak_share"] = row["gflops"] / peak if peak else None
        if "a" in hf_times:
            row["x_a"] = hf_times["a"] / elapsed
        if "b" in hf_times:
            row["x_b"] = hf_times["b"] / elapsed
        if reference is not None:
            row.update(compare(cats, reference))
        rows.append(row)
        print(f"  {mode}: {row['pps']:.2f} pairs/s ({elapsed:.1f} s)", flush=True)

    def ours(kind: str, **nli: Any) -> Tuple[Tuple[float, Cats, Any], Optional[float]]:
        return meter.around(kind, lambda: run_ours(model_path, texts, labels, device, **nli))

    hf_cats: Dict[str, Cats] = {}
    if not args.skip_hf:
        for key, batched, mode in (("a", False, HF_PER_DOC), ("b", True, HF_BATCHED)):
            (elapsed, hf_cats[key]), peak = meter.around("float32", lambda b=batched: run_hf(model_path, texts, labels, device, b))
            hf_times[key] = elapsed
            add(mode, elapsed, hf_cats[key], peak)
    untuned = None
    if device == "cpu" and not args.short:  # before anything tunes the process's allocator (it stays tuned)
        untuned = ours("float32", dtype="float32", tune_allocator=False)
    # The pair cache is on here: it does not change scores, and the second pass shows its effect.
    (elapsed, exact, cached), peak = ours("float32", second_pass=True, dtype="float32", cache_size=100_000)
    reference = exact
    for row, key in zip(rows, ("a", "b")):  # the pipeline runs against our exact scores
        row.update(compare(hf_cats[key], reference))
    add("(c) zeroshot_textcat float32 (exact)", elapsed, exact, peak)
    if args.interleave_docs:
        share = interleaved_share(
            model_path, texts, labels, device, args.interleave_docs, min(args.peak_seconds, 0.5), dtype="float32"
        )
    if untuned is not None:
        (elapsed, cats, _), peak = untuned
        add("(c') same, tune_allocator=false", elapsed, cats, peak)
    (elapsed, cats, _), peak = ours("float32", dtype="float32", optimize=False)
    add("(c') same, optimize=false", elapsed, cats, peak)
    for mode in lossy:
        (elapsed, cats, _), peak = ours(mode, dtype=mode)
        add(f"(d) zeroshot_textcat {mode}", elapsed, cats, peak)
        if margin:
            (elapsed, cats, extra), peak = ours(mode, dtype=mode, recheck_margin=margin)
            add(f"(d) {mode}, recheck_margin={margin}", elapsed, cats, peak, rechecked=extra["rechecked"])
    hit_rate = cached["hits"] / n_pairs
    add(f"(c) same docs again, cache_size=100000: {hit_rate:.0%} hits", cached["elapsed"], cached["cats"], None, work=False)
    print()
    print(table(rows, f"Speed: {n_pairs} pairs, {device}"))
    print(f"\nmatmul peaks (GFLOP/s) sampled around the runs: {meter.summary()}")
    if args.interleave_docs:
        print(
            f"(c) float32 timed in chunks of {args.interleave_docs} docs, each between two float32 peak samples: "
            f"{share['pps']:.2f} pairs/s; useful GFLOP/s = {share['overall']:.0%} of the peak overall, "
            f"median chunk {share['median']:.0%} ({share['chunks']} chunks)"
        )
    if args.round_robin_docs and not args.skip_hf:
        # Two rounds, so that at most two base models are loaded at once (peak RSS < 3 GB):
        # (a), (b) and (c); then (c) and the first lossy mode, whose speed-ups over (a) and (b)
        # are its speed-up over (c) in round 2 times (c)'s over them in round 1.
        chunk_docs = args.round_robin_docs
        exact_name = "(c) zeroshot_textcat float32 (exact)"
        exact_run = ours_run(model_path, texts, labels, device, "float32")
        first = round_robin({**hf_runs(model_path, texts, labels, device), exact_name: exact_run}, texts, chunk_docs)
        gc.collect()
        hf_times, rows = {}, []
        hf_times["a"], hf_times["b"] = (first[name][0] for name in list(first)[:2])
        for name, (elapsed, cats) in first.items():
            add(name, elapsed, cats, None)
        for mode in lossy[:1]:
            lossy_name = f"(d) zeroshot_textcat {mode}"
            second = round_robin(
                {exact_name: exact_run, lossy_name: ours_run(model_path, texts, labels, device, mode)}, texts, chunk_docs
            )
            gc.collect()
            # Round 2's times in round 1's conditions: scaled by (c)'s time in round 1 / round 2.
            scale = first[exact_name][0] / second[exact_name][0]
            add(f"{lossy_name} (round 2: {second[exact_name][0] / second[lossy_name][0]:.2f}x (c))",
                second[lossy_name][0] * scale, second[lossy_name][1], None)
        print()
        print(table(rows, f"Round robin: every chunk of {chunk_docs} docs through each run in turn, {n_pairs} pairs"))
        print("(d): timed in a second round against (c); its pairs/s and speed-ups are scaled to round 1 through (c)")

    agreement_docs = args.agreement_docs or args.docs
    agreement_models = []
    if args.skip_agreement:
        pass
    elif args.model is None:
        spread = build_random_deberta(work / f"deberta-v3-base-random-init{args.spread_init}", args.spread_init)
        agreement_models.append((f"random DeBERTa-v3-base, initializer_range={args.spread_init}", str(spread)))
    if MINILM.exists() and not args.skip_agreement:
        agreement_models.append(("trained minilm-nli (../shared/models)", str(MINILM)))
        decisive = work / f"minilm-nli-agnews{args.finetune_docs}"
        if AG_NEWS.exists() and (not args.short or (decisive / "config.json").exists()):
            from trained_like import build_decisive_minilm

            build_decisive_minilm(MINILM, AG_NEWS, decisive, LABELS, TEMPLATE, n_docs=args.finetune_docs)
            title = f"minilm-nli fine-tuned on {args.finetune_docs} other AG News texts (decisive, like a trained model)"
            agreement_models.append((title, str(decisive)))
    for title, path in agreement_models:
        sub_texts = texts[:agreement_docs]
        sub_flops, sub_pairs = useful_flops(path, sub_texts, [TEMPLATE.format(label) for label in labels])
        flops, n_pairs, hf_times, rows = sub_flops, sub_pairs, {}, []
        reference = None
        elapsed, exact, _ = run_ours(path, sub_texts, labels, device, dtype="float32")
        reference = exact
        add("float32 (reference)", elapsed, exact, None)
        for mode in lossy[:1] if args.short else lossy:
            elapsed, cats, _ = run_ours(path, sub_texts, labels, device, dtype=mode)
            add(mode, elapsed, cats, None)
            if margin:
                elapsed, cats, extra = run_ours(path, sub_texts, labels, device, dtype=mode, recheck_margin=margin)
                add(f"{mode}, recheck_margin={margin}", elapsed, cats, None, rechecked=extra["rechecked"])
        print()
        print(table(rows, f"Agreement with float32: {title}, {sub_pairs} pairs"))
    print(f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
