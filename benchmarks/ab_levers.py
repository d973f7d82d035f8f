"""A/B timings of CPU precision levers, alternated group by group on one loaded model.

On a shared machine a lever's gain of 5-20% is smaller than the minute-to-minute drift, so
levers are compared here the only way that survives it: the benchmark's pairs, sorted by
length as the backend sorts them, are cut into groups of `--group` pairs; every group runs
through every variant back to back, each group starting with the next variant in turn, and
each variant's time on a group is divided by the first variant's. The median of those
ratios and its quartiles are printed, with each variant's largest logit difference from
float32.

Variants (the model is the benchmark's random DeBERTa-v3-base, fast path on):
  float32           the exact mode
  bfloat16          the `dtype: "bfloat16"` mode (autocast, bfloat16 Linear copy)
  bfloat16-percast  the same, with autocast casting the states for each of Q, K, V (before)
  bfloat16-full     every weight and activation in bfloat16 (no autocast)
  any of them + "-bN" with batches of up to N pairs (128 * N tokens; default 16, 2048 tokens)
  int8-x86, int8-onednn, int8-fbgemm  dynamic int8 on each quantised engine

    python benchmarks/ab_levers.py bfloat16,bfloat16-percast --docs 24
    python benchmarks/ab_levers.py float32,int8-x86,int8-onednn --docs 16
"""

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def variant(name: str, model: Any) -> Tuple[Any, Optional[Any], int, Optional[str], bool]:
    """(runner, autocast dtype, max pairs per batch, quantised engine, cast states once).
    A "-bN" suffix on any variant sets batches of up to N pairs (128 * N tokens)."""
    import torch

    from spacy_zeroshot.backend.runtime import cast_linears, quantize

    base, _, batch = name.partition("-b")
    pairs = int(batch) if batch.isdigit() else 16
    if not batch.isdigit():
        base = name
    if base == "float32":
        return model, None, pairs, None, True
    if base == "bfloat16-full":
        return copy.deepcopy(model).to(torch.bfloat16), None, pairs, None, True
    if base in ("bfloat16", "bfloat16-percast"):
        return cast_linears(model, torch.bfloat16), torch.bfloat16, pairs, None, base != "bfloat16-percast"
    if base.startswith("int8-"):
        engine = base.split("-", 1)[1]
        torch.backends.quantized.engine = engine
        return quantize(model), None, pairs, engine, True
    raise SystemExit(f"unknown variant {name!r}")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", help="comma-separated variants; the first is the baseline")
    parser.add_argument("--docs", type=int, default=16, help="AG News docs (x 8 labels)")
    parser.add_argument("--group", type=int, default=64, help="pairs per alternation group")
    parser.add_argument("--work-dir", default="/tmp/spacy-zeroshot-bench")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from zeroshot_bench.models import build_random_deberta
    from zeroshot_bench.workloads import LABELS, TEMPLATE, load_texts

    from spacy_zeroshot.backend import fast_deberta
    from spacy_zeroshot.backend.runtime import pad_batch, tune_cpu_allocator
    from spacy_zeroshot.scheduler import plan_batches

    tune_cpu_allocator()
    path = build_random_deberta(Path(args.work_dir) / "deberta-v3-base-random")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    fast_deberta.enable(model)
    texts, _ = load_texts(args.docs, tokenizer)
    pairs = [(text, TEMPLATE.format(label)) for text in texts for label in LABELS]
    encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], truncation="only_first", max_length=512)
    features = {key: encoded[key] for key in ("input_ids", "token_type_ids") if key in encoded}
    lengths = [len(ids) for ids in features["input_ids"]]
    order = sorted(range(len(pairs)), key=lambda i: lengths[i])
    groups = [order[i : i + args.group] for i in range(0, len(order), args.group)]
    names = args.variants.split(",")
    variants = {name: variant(name, model) for name in names}
    cast_once = fast_deberta._autocast_input

    def run(name: str, group: List[int]) -> torch.Tensor:
        runner, autocast, max_pairs, engine, once = variants[name]
        if engine:
            torch.backends.quantized.engine = engine
        fast_deberta._autocast_input = cast_once if once else (lambda states: states)  # type: ignore[assignment]
        sub = [lengths[i] for i in group]
        outputs = torch.empty(len(group), 3)
        try:
            for batch in plan_batches(sub, 128 * max_pairs, max_pairs):
                rows = [group[i] for i in batch]
                arrays = pad_batch(features, rows, lengths, int(tokenizer.pad_token_id), False)
                inputs = {key: torch.from_numpy(value) for key, value in arrays.items()}
                with torch.inference_mode(), torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
                    with fast_deberta.first_token_only(runner):
                        outputs[batch] = runner(**inputs).logits.float()
        finally:
            fast_deberta._autocast_input = cast_once  # type: ignore[assignment]
        return outputs

    for name in names:  # warm-up: one-time kernel set-up stays out of the timings
        run(name, groups[0][:4])
    times: Dict[str, List[float]] = {name: [] for name in names}
    logits: Dict[str, List[torch.Tensor]] = {name: [] for name in names}
    reference: Callable[[int], Optional[torch.Tensor]] = lambda k: None  # noqa: E731
    exact = variants.get("float32")
    for k, group in enumerate(groups):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            start = time.perf_counter()
            logits[name].append(run(name, group))
            times[name].append(time.perf_counter() - start)
    if exact is not None:
        reference = lambda k: logits["float32"][k]  # noqa: E731
    base = names[0]
    print(f"{len(pairs)} pairs in {len(groups)} groups of {args.group}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in names:
        ratios = sorted(a / b for a, b in zip(times[base], times[name]))
        quarter = len(ratios) // 4
        errors = [(out - ref).abs().max().item() for k, out in enumerate(logits[name]) if (ref := reference(k)) is not None]
        error = f"{max(errors):.4f}" if errors else "-"
        print(
            f"{name}: {len(pairs) / sum(times[name]):.2f} pairs/s; speed-up over {base}: median "
            f"{statistics.median(ratios):.3f} [quartiles {ratios[quarter]:.3f}-{ratios[-quarter - 1]:.3f}]; "
            f"max logit difference from float32 {error}",
            flush=True,
        )


if __name__ == "__main__":
    main()
