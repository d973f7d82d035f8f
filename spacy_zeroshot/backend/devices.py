"""Resolve the user's `device` and `dtype` settings to torch objects, in one place."""

import warnings
from typing import TYPE_CHECKING, NamedTuple, Optional, Tuple, Union

from ..errors import Errors, Warnings

if TYPE_CHECKING:  # pragma: no cover
    import torch

DTYPES = ("auto", "float32", "float16", "bfloat16", "int8")


class Precision(NamedTuple):
    """How a model runs: the dtype of its weights, plus CPU autocast or int8 quantisation.

    weights (torch.dtype): dtype the parameters are stored in.
    autocast (Optional[torch.dtype]): run under `torch.autocast` with this dtype (CPU bfloat16:
        matrix products in bfloat16, layer norms and softmax in float32).
    quantize (bool): dynamic int8 quantisation of the Linear layers (CPU only).
    """

    weights: "torch.dtype"
    autocast: Optional["torch.dtype"]
    quantize: bool

    @property
    def lossy(self) -> bool:
        """Whether scores can differ from float32 beyond rounding."""
        import torch

        return self.autocast is not None or self.quantize or self.weights != torch.float32


def resolve_device(device: Union[str, int]) -> "torch.device":
    """Turn "auto", "cpu", "cuda", "cuda:N", "mps" or an int GPU id (-1 = CPU) into a torch device.

    device (Union[str, int]): The requested device.
    RETURNS (torch.device): The device to run on.
    """
    import torch

    if isinstance(device, bool):
        raise ValueError(Errors.E005.format(device=device))
    if isinstance(device, int):
        if device < -1:
            raise ValueError(Errors.E005.format(device=device))
        device = "cpu" if device == -1 else f"cuda:{device}"
    if not isinstance(device, str):
        raise ValueError(Errors.E005.format(device=device))
    name = device.strip().lower()
    mps_available = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        # spacy.prefer_gpu() implies CUDA here, so CUDA being available covers both cases.
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if mps_available and _thinc_current_ops_name() == "mps":
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not mps_available:
            raise ValueError(Errors.E006.format(device=device, what="MPS"))
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        index_text = name[5:] if name.startswith("cuda:") else ""
        if index_text and not index_text.isdigit():
            raise ValueError(Errors.E005.format(device=device))
        if not torch.cuda.is_available():
            raise ValueError(Errors.E006.format(device=device, what="CUDA"))
        index = int(index_text) if index_text else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(Errors.E006.format(device=device, what=f"GPU {index}"))
        return torch.device("cuda", index)
    raise ValueError(Errors.E005.format(device=device))


def _thinc_current_ops_name() -> str:
    try:
        from thinc.api import get_current_ops
    except ImportError:  # pragma: no cover
        return "numpy"
    return str(get_current_ops().name)


def native_cpu_bfloat16() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX), which
    bfloat16 needs to be faster than float32; without them oneDNN emulates it. True where
    torch cannot tell (the check is torch-private)."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if not all(callable(check) for check in checks):
        return True
    return any(check() for check in checks)  # type: ignore[misc]


def resolve_precision(dtype: str, device: "torch.device") -> Precision:
    """Turn a dtype setting into how the model runs on `device`.

    "auto" is float32 on the CPU and MPS (exact), float16 on CUDA. "bfloat16" casts the
    weights on GPUs and uses bfloat16 autocast on the CPU (float32 weights, bfloat16 matrix
    products: faster than a cast there, and closer to float32). "int8" is dynamic int8
    quantisation of the Linear layers, on the CPU only. "float16" needs a GPU.
    """
    import torch

    if dtype not in DTYPES:
        raise ValueError(Errors.E007.format(dtype=dtype, options=", ".join(DTYPES)))
    if dtype == "auto":
        return Precision(torch.float16 if device.type == "cuda" else torch.float32, None, False)
    if dtype == "float16" and device.type == "cpu":
        raise ValueError(
            Errors.E008.format(
                dtype=dtype, device=str(device), why="half precision is slow or unsupported on CPUs; use \"bfloat16\"."
            )
        )
    if dtype == "int8":
        if device.type != "cpu":
            why = "dynamic int8 quantisation runs on CPUs only; use \"float16\" or \"bfloat16\" on GPUs."
            raise ValueError(Errors.E008.format(dtype=dtype, device=str(device), why=why))
        return Precision(torch.float32, None, True)
    if dtype == "bfloat16" and device.type == "cpu":
        if not native_cpu_bfloat16():
            warnings.warn(Warnings.W251, stacklevel=3)
        return Precision(torch.float32, torch.bfloat16, False)
    return Precision({"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype], None, False)


def resolve_dtype(dtype: str, device: "torch.device") -> "torch.dtype":
    """The dtype of the weights for a dtype setting on `device` (see `resolve_precision`)."""
    return resolve_precision(dtype, device).weights


def resolve_device_and_dtype(device: Union[str, int], dtype: str) -> Tuple["torch.device", "torch.dtype"]:
    """Resolve both settings together: the dtype's validity depends on the device."""
    if dtype not in DTYPES:
        raise ValueError(Errors.E007.format(dtype=dtype, options=", ".join(DTYPES)))
    torch_device = resolve_device(device)
    return torch_device, resolve_dtype(dtype, torch_device)


# Per-device batching defaults. On CPUs, float32 runs best with small batches of similar
# length: measured side by side on one nlp.pipe call on a quiet 2-core AVX2 machine
# (benchmarks/batch_caps.py), 16 pairs / 2048 tokens beat 32 and 64 pairs on 128 pairs
# (0.89x, 0.79x), tied them on 512 pairs (1.02x, 0.99x) and beat 8192 tokens on 400-500-token
# premises (0.76x; 4096: 0.97x). bfloat16 keeps the same batches: 64 pairs / 8192 tokens had
# won 2.5x in alternated timings on a 10x oversubscribed machine, but on a quiet AMX machine they
# made a 16-doc call ~1.5x slower than 16-pair batches and tied at 32 docs (issue 23), so the
# larger batches were dropped. The bfloat16 constants stay separate so that a measurement on a
# bfloat16 CPU (`batch_caps.py --dtype bfloat16`) can set them apart again. GPUs want many pairs
# per launch, bounded by the memory left for activations.
CPU_BATCH_PAIRS = 16
CPU_BATCH_TOKENS = 2048
CPU_BF16_BATCH_PAIRS = 16
CPU_BF16_BATCH_TOKENS = 2048
# A default bfloat16 batch is also held to 64 pairs' worth of 128-token attention, 64 x 128^2
# cells per head (4 pairs of 512 tokens): at 400-500 tokens a batch of 8192 tokens (17 pairs)
# holds attention matrices that leave the caches, and ran 1.66x slower than batches of 2048
# tokens (4 pairs) on a 2-core AMX CPU. Under today's 2048-token default the budget cannot bind
# (2048 tokens x 512 positions is the same 64 x 128^2); it guards larger bfloat16 constants.
CPU_BF16_BATCH_CELLS = 64 * 128 * 128
GPU_BATCH_PAIRS = 256
GPU_MIN_TOKENS = 1024
GPU_MAX_TOKENS = 65536
GPU_MEMORY_SHARE = 0.3


def default_attention_cells(device: "torch.device", itemsize: int) -> Optional[int]:
    """Default budget of attention cells (pairs x padded length^2) per forward pass: on the
    CPU in half precision (the bfloat16 mode) `CPU_BF16_BATCH_CELLS`, else None (no budget).

    device (torch.device): Where the model runs.
    itemsize (int): Bytes per value of the matrix products (2: half precision).
    RETURNS (Optional[int]): The budget, or None.
    """
    return CPU_BF16_BATCH_CELLS if device.type != "cuda" and itemsize < 4 else None


def default_batching(device: "torch.device", config: object, itemsize: int, max_length: int) -> Tuple[int, int]:
    """Default (batch_tokens, max_batch_pairs) for a model on `device`.

    On CUDA the token budget is sized from the free memory: a share of it divided by an
    estimate of the activation bytes per token (hidden states, feed-forward and attention
    scores of one layer, which is all inference keeps alive). Out-of-memory errors are still
    caught and the batch halved, so the estimate only needs to be roughly right.

    On the CPU: 16 pairs / 2048 tokens (`CPU_BATCH_*`), or `CPU_BF16_BATCH_*` when the matrix
    products run in half precision (`itemsize` 2: the bfloat16 mode; the same 16 / 2048 today).

    device (torch.device): Where the model runs.
    config (object): The model's transformers config (hidden_size, intermediate_size, heads).
    itemsize (int): Bytes per value of the matrix products (4 for float32, 2 for half precision).
    max_length (int): Longest pair in tokens.
    RETURNS (Tuple[int, int]): The token budget and pair cap per forward pass.
    """
    if device.type != "cuda":
        if itemsize < 4:
            return CPU_BF16_BATCH_TOKENS, CPU_BF16_BATCH_PAIRS
        return CPU_BATCH_TOKENS, CPU_BATCH_PAIRS
    import torch

    hidden = int(getattr(config, "hidden_size", 768))
    intermediate = int(getattr(config, "intermediate_size", 4 * hidden))
    heads = int(getattr(config, "num_attention_heads", 12))
    per_token = itemsize * (8 * hidden + 2 * intermediate + 4 * heads * max_length)
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except RuntimeError:  # pragma: no cover - no driver information
        return GPU_MIN_TOKENS * 4, GPU_BATCH_PAIRS
    tokens = int(free * GPU_MEMORY_SHARE // per_token)
    return max(GPU_MIN_TOKENS, min(GPU_MAX_TOKENS, tokens)), GPU_BATCH_PAIRS
