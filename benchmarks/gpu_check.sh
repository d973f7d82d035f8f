#!/usr/bin/env bash
# GPU readiness, one command, a few minutes on one CUDA GPU:
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (default OUT_DIR: $OUT, else /tmp/gpu-check)
#
# 1. tests/test_cuda.py: our scores on CUDA in float32 against transformers' pipeline (<= 1e-4)
#    and the fast DeBERTa path against stock (<= 1e-5); float16 and bfloat16 against float32 on
#    the trained ../shared/models/minilm-nli; the out-of-memory halving for real (a batch far
#    over a capped memory share raises CUDA's own error, the backend halves it, W250, same logits).
# 2. benchmarks/bench_zeroshot.py on 512 docs x 8 labels: pairs/s, speed-ups over transformers'
#    pipeline, useful GFLOP/s against the measured float32 and float16/bfloat16 (tensor-core)
#    matmul peaks, the long-text and label-sweep workloads, agreement with float32.
#
# Needs a Python with torch (CUDA build), transformers and spaCy, and this project importable
# (`pip install -e ".[test]"`, or it runs from the repository root with PYTHONPATH set below).
# Nothing is downloaded: the benchmark builds its random DeBERTa-v3-base offline.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT_DIR="${1:-${OUT:-/tmp/gpu-check}}"
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

"$PY" - <<'PY' | tee "$OUT_DIR/device.txt"
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (torch %s, CUDA build %s)" % (torch.__version__, torch.version.cuda))
props = torch.cuda.get_device_properties(0)
print(f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, bfloat16 supported: {torch.cuda.is_bf16_supported()}")
PY
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv >> "$OUT_DIR/device.txt" 2>&1 || true

echo "== 1. CUDA tests"
"$PY" -m pytest tests/test_cuda.py -q -rs -p no:cacheprovider 2>&1 | tee "$OUT_DIR/tests.txt"

echo "== 2. benchmark, 512 docs"
timeout "${BENCH_TIMEOUT:-480}" "$PY" benchmarks/bench_zeroshot.py --device cuda --docs 512 --dtypes float16,bfloat16 \
    --no-ort --interleave-docs 0 --round-robin-docs 64 --long-docs 32 --sweep-docs 16 --workload-chunk-docs 8 \
    --recheck-margin 0.1 --work-dir "${WORK_DIR:-/tmp/gpu-check-work}" 2>&1 | tee "$OUT_DIR/bench.txt"
echo "gpu_check: results in $OUT_DIR (device.txt, tests.txt, bench.txt)"
