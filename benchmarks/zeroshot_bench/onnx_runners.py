"""Optional peers: the same model exported through optimum to ONNX Runtime, in float32 and
with ONNX Runtime's dynamic int8 quantisation, run as a zero-shot classifier over the same
docs and labels. Skipped with a message when optimum or onnxruntime is not installed.

The peer gets the best batching we know (ours): every (doc, label) pair of a chunk is
tokenized at once, sorted by length and cut into batches of `batch_pairs` pairs, so it pads
as little as we do; scores are transformers' pipeline maths (softmax of the entailment
logits across a doc's labels).
"""

import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .report import Cats
from .runners import Runner
from .workloads import TEMPLATE

ORT_FP32 = "(e) ONNX Runtime float32 (optimum export)"
ORT_INT8 = "(e) ONNX Runtime int8 (dynamic, avx512_vnni)"


def missing() -> Optional[str]:
    """Why the ONNX Runtime rows cannot run (None when they can)."""
    try:
        import onnxruntime  # noqa: F401
        from optimum.onnxruntime import ORTQuantizer  # noqa: F401
    except ImportError as err:
        return f"ONNX Runtime rows skipped: {err} (pip install 'optimum[onnxruntime]' to add them)"
    return None


def export(model_path: str, work: Path) -> Dict[str, Path]:
    """The model exported to ONNX (float32) and quantised (dynamic int8), cached in `work`.
    RETURNS: {"float32": folder, "int8": folder}, each with a model.onnx and the tokenizer."""
    from optimum.exporters.onnx import main_export
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    fp32 = work / "onnx-float32"
    int8 = work / "onnx-int8"
    if not (fp32 / "model.onnx").exists():
        main_export(model_path, output=fp32, task="text-classification", no_post_process=False)
    if not (int8 / "model_quantized.onnx").exists():
        quantizer = ORTQuantizer.from_pretrained(fp32)
        config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
        quantizer.quantize(save_dir=int8, quantization_config=config)
        for name in os.listdir(fp32):  # the tokenizer and config beside the quantised model
            if not name.endswith(".onnx") and not (int8 / name).exists():
                shutil.copy(fp32 / name, int8 / name)
    return {"float32": fp32, "int8": int8}


def session(folder: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session with every graph optimisation and `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    onnx_file = next(p for p in sorted(folder.glob("*.onnx")))
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def ort_runner(folder: Path, labels: List[str], threads: int, batch_pairs: int = 16) -> Runner:
    """A zero-shot classifier over `labels` on the ONNX model in `folder`, as a chunk runner."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    entail = next(int(i) for i, name in config.id2label.items() if name.lower().startswith("entail"))
    onnx_session = session(folder, threads)
    names = {i.name for i in onnx_session.get_inputs()}
    hypotheses = [TEMPLATE.format(label) for label in labels]

    def run(chunk: List[str]) -> Cats:
        pairs = [(text, hyp) for text in chunk for hyp in hypotheses]
        encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], truncation="only_first", max_length=512)
        ids = encoded["input_ids"]
        order = sorted(range(len(pairs)), key=lambda i: len(ids[i]))
        logits = np.empty((len(pairs), int(config.num_labels)), dtype=np.float32)
        for start in range(0, len(order), batch_pairs):
            batch = order[start : start + batch_pairs]
            feeds = _padded(encoded, batch, int(tokenizer.pad_token_id), names)
            logits[batch] = onnx_session.run(["logits"], feeds)[0]
        entailment = logits[:, entail].reshape(len(chunk), len(labels))
        scores = np.exp(entailment - entailment.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        return [dict(zip(labels, map(float, row))) for row in scores]

    return run


def _padded(encoded: Any, batch: List[int], pad_id: int, names: set) -> Dict[str, np.ndarray]:
    width = max(len(encoded["input_ids"][i]) for i in batch)
    feeds: Dict[str, np.ndarray] = {}
    pads = {"input_ids": pad_id, "token_type_ids": 0, "attention_mask": 0}
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        if key not in names or key not in encoded:
            continue
        array = np.full((len(batch), width), pads[key], dtype=np.int64)
        for row, i in enumerate(batch):
            values = encoded[key][i]
            array[row, : len(values)] = values
        feeds[key] = array
    return feeds


def ort_runners(model_path: str, work: Path, labels: List[str], threads: int, batch_pairs: int) -> Tuple[Dict[str, Runner], Dict[str, Path]]:
    """Both ONNX Runtime peers as chunk runners (exported once, cached in `work`)."""
    folders = export(model_path, work)
    return (
        {
            ORT_FP32: ort_runner(folders["float32"], labels, threads, batch_pairs),
            ORT_INT8: ort_runner(folders["int8"], labels, threads, batch_pairs),
        },
        folders,
    )
