"""What a run is measured against: matrix-product peaks sampled around it, the useful FLOPs of
its pairs, the process's peak RSS and the load average."""

import os
import resource
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them (timings are evidence only
    on a quiet machine: every benchmark prints this beside its figures)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak(kind: str, device: str, seconds: float = 1.5) -> Optional[Tuple[float, float]]:
    """GFLOP/s of a large matrix product (float32, bfloat16, float16 or int8): (best, median)
    of the products timed over `seconds`. The median is what the machine sustains right now.
    None where the kind does not run on the device."""
    import torch

    # GPUs need bigger products than CPUs to reach their tensor-core peak.
    size = (8192 if device != "cpu" else 2048) if seconds >= 0.5 else 256
    try:
        if kind == "int8":
            if device != "cpu":
                return None
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
    except (RuntimeError, AttributeError, TypeError, KeyError):
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


def peak_kind(mode: str) -> str:
    """The matmul peak a mode is measured against: "bfloat16" for "bfloat16" and its variants
    ("bfloat16-full", ...), "int8" for int8 modes, else "float32"."""
    for kind in ("bfloat16", "float16", "int8"):
        if mode.startswith(kind):
            return kind
    return "float32"


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
