"""Resolve the user's `device` and `dtype` settings to torch objects, in one place."""

from typing import TYPE_CHECKING, Tuple, Union

from .errors import Errors

if TYPE_CHECKING:  # pragma: no cover
    import torch

DTYPES = ("auto", "float32", "float16", "bfloat16")


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


def resolve_dtype(dtype: str, device: "torch.device") -> "torch.dtype":
    """Turn "auto", "float32", "float16" or "bfloat16" into a torch dtype valid on `device`.

    "auto" is float32 on the CPU and MPS (exact), float16 on CUDA.
    """
    import torch

    if dtype not in DTYPES:
        raise ValueError(Errors.E007.format(dtype=dtype, options=", ".join(DTYPES)))
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype == "float16" and device.type == "cpu":
        raise ValueError(
            Errors.E008.format(
                dtype=dtype, device=str(device), why="half precision is slow or unsupported on CPUs; use \"bfloat16\"."
            )
        )
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def resolve_device_and_dtype(device: Union[str, int], dtype: str) -> Tuple["torch.device", "torch.dtype"]:
    """Resolve both settings together: the dtype's validity depends on the device."""
    if dtype not in DTYPES:
        raise ValueError(Errors.E007.format(dtype=dtype, options=", ".join(DTYPES)))
    torch_device = resolve_device(device)
    return torch_device, resolve_dtype(dtype, torch_device)
