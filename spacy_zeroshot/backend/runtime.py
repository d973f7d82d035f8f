"""How a loaded model runs on its device: precision copies, CPU threads and memory, OOM handling.

Knows torch, not spaCy. torch is imported inside the functions, so importing this stays cheap.
"""

import copy
import ctypes
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import Errors
from .devices import Precision

if TYPE_CHECKING:  # pragma: no cover
    import torch

# A process forked after torch ran on the CPU (spaCy's `nlp.pipe(n_process=N)` on Linux) inherits
# an OpenMP thread pool that does not survive the fork: its first parallel region deadlocks.
# Such a child runs single-threaded instead (N workers share the cores anyway).
_state = {"forked": False}


def _mark_forked() -> None:
    _state["forked"] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


# glibc serves blocks above a dynamic threshold with mmap and gives freed heap memory back to
# the OS past another: each forward pass then touches tens of MB of fresh, zeroed pages (tens
# of thousands of page faults per batch of a base model, 5-20% of CPU inference time). Fixed,
# higher thresholds let the next batch reuse the memory the last one freed. The values:
# glibc's largest mmap threshold on 64-bit, and a trim threshold that bounds what a process
# keeps (about a base model's working set).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
_allocator = {"tuned": False}


def tune_cpu_allocator() -> bool:
    """Raise glibc malloc's mmap and trim thresholds for this process (once; process-wide).

    RETURNS (bool): Whether the thresholds are set; False where the C library is not glibc
        (macOS, Windows, musl), which is left alone.
    """
    if _allocator["tuned"]:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    tuned = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _allocator["tuned"] = tuned
    return tuned


def single_thread_after_fork() -> None:
    if _state["forked"]:
        import torch

        torch.set_num_threads(1)
        _state["forked"] = False


def prepare_runners(
    model: Any,
    device: "torch.device",
    precision: Precision,
    optimize: bool,
    keep_exact: bool,
    keep_master: bool = False,
) -> Tuple[Any, Optional[Any]]:
    """Move `model` to the device and dtype of `precision`; return (runner, exact runner).

    The runner is what scores: the model itself, or a copy with int8-quantised or bfloat16
    Linear layers (the model stays stock so that saving writes ordinary weights). With
    `keep_exact` and a lossy precision, the exact runner is a float32 model for re-checks:
    the model itself where its weights stay float32 (CPU), else a float32 copy (GPU casts).
    With `keep_master` (a model being fine-tuned), `model` keeps its float32 weights and a
    copy is cast to the precision's weight dtype instead.
    """
    model.eval()
    exact = None
    if keep_master:
        model.to(device=device)
        if precision.weights != model.dtype:
            exact = model if keep_exact else None
            model = copy.deepcopy(model).to(dtype=precision.weights)
    elif keep_exact and precision.weights != model.dtype:
        exact = copy.deepcopy(model).to(device=device)
    model.to(device=device, dtype=precision.weights)
    if keep_exact and precision.lossy and exact is None:
        exact = model
    if optimize:
        from . import fast_deberta

        for module in {id(m): m for m in (model, exact) if m is not None}.values():
            fast_deberta.enable(module)
    runner = model
    if precision.quantize:
        runner = quantize(model)
    elif precision.autocast is not None:
        runner = cast_linears(model, precision.autocast)
    return runner, exact


def pad_batch(
    features: Dict[str, List[List[int]]], batch: List[int], lengths: List[int], pad_id: int, pad_left: bool
) -> Dict[str, np.ndarray]:
    """The rows `batch` of tokenized `features`, padded to the longest, with an attention mask."""
    width = max(lengths[i] for i in batch)
    pad_values = {"input_ids": pad_id, "token_type_ids": 0}
    arrays = {key: np.full((len(batch), width), pad_values[key], dtype=np.int64) for key in features}
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, i in enumerate(batch):
        n = lengths[i]
        cols = slice(width - n, width) if pad_left else slice(0, n)
        for key, values in features.items():
            arrays[key][row, cols] = values[i]
        mask[row, cols] = 1
    arrays["attention_mask"] = mask
    return arrays


def _copy_linears(model: Any) -> Any:
    """A copy of `model` whose Linear layers are copies; all other weights are shared."""
    import torch

    linear_ids = {id(p) for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
    memo = {id(p): p for p in model.parameters() if id(p) not in linear_ids}
    memo.update({id(b): b for b in model.buffers()})
    return copy.deepcopy(model, memo)


def cast_linears(model: Any, dtype: "torch.dtype") -> Any:
    """A copy of `model` with Linear weights in `dtype`, for autocast: autocast would cast
    them to the same values on every call; casting once saves that work on every batch."""
    import torch

    runner = _copy_linears(model)
    for module in runner.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(dtype)
    return runner


def quantize(model: Any) -> Any:
    """A copy of `model` with dynamic int8 Linear layers; other weights are shared, not copied."""
    import torch

    quantization = getattr(torch.ao, "quantization", None)
    if quantization is None or not hasattr(quantization, "quantize_dynamic"):  # pragma: no cover
        raise ValueError(Errors.E252.format(version=torch.__version__))
    runner = _copy_linears(model)
    with warnings.catch_warnings():
        # Eager-mode quantisation is deprecated in favour of torchao, which is not a dependency.
        warnings.simplefilter("ignore")
        return quantization.quantize_dynamic(runner, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the RuntimeError other backends (MPS) raise."""
    import torch

    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(err, oom_type):
        return True
    return "out of memory" in str(err).lower()


def empty_device_cache(device: "torch.device") -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):  # pragma: no cover - Apple only
        torch.mps.empty_cache()
