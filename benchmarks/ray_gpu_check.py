"""GPU check of the Ray engine: one actor per GPU with its model on that GPU, a CPU actor on the CPU.

Run on a machine with CUDA GPUs and Ray (`pip install -e ".[ray]"`):

    python benchmarks/ray_gpu_check.py --n 2000 [--model ../shared/models/minilm-nli] [--out results.json]

1. Starts a local Ray cluster with every GPU, puts one `PipelineWorker` actor on each GPU
   (num_gpus=1) and one CPU-only actor (num_gpus=0), and checks that each GPU actor's NLI
   model is on "cuda:0" of its own GPU (distinct CUDA_VISIBLE_DEVICES, memory allocated there)
   and that the CPU actor's model is on the CPU and never initialized CUDA.
2. Runs `spacy-zeroshot annotate --engine ray --gpus-per-actor 1 --num-actors <GPUs>` on N AG
   News texts and the local engine on the CPU on the first 64, and compares the scores
   (float16 on the GPU: within 1e-2), then prints docs/s and NLI pairs/s per GPU, the figure
   that a corpus estimate scales from.

Exits non-zero if a check fails. Uses the small trained model in ../shared when present,
else builds a tiny random one (tests/tiny_models.py).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from annotate_agnews import LABELS, SHARED, read_texts  # noqa: E402


def pipeline(model: str, path: Path) -> Path:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "auto"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS})
    nlp.initialize()
    nlp.to_disk(path)
    return path


def check_actors(path: Path, gpus: int) -> Dict[str, Any]:
    import ray

    from spacy_zeroshot.engines.worker import PipelineWorker

    class Probe(PipelineWorker):
        def where(self) -> Dict[str, Any]:
            import torch

            return {
                "devices": self.devices,
                "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "cuda_initialized": torch.cuda.is_initialized(),
                "allocated": torch.cuda.memory_allocated() if torch.cuda.is_initialized() else 0,
                "cats": self.nlp("The team won the match.").cats,
            }

    remote = ray.remote(Probe)
    gpu_actors = [remote.options(num_gpus=1, num_cpus=1).remote(str(path), num_gpus=1) for _ in range(gpus)]
    cpu_actor = remote.options(num_gpus=0, num_cpus=1).remote(str(path), num_gpus=0)
    on_gpus = ray.get([actor.where.remote() for actor in gpu_actors])
    on_cpu = ray.get(cpu_actor.where.remote())
    for actor in [*gpu_actors, cpu_actor]:
        ray.kill(actor)
    ok = all(r["devices"] == ["cuda:0"] and r["allocated"] > 0 for r in on_gpus)
    ok = ok and len({r["visible"] for r in on_gpus}) == gpus
    ok = ok and on_cpu["devices"] == ["cpu"] and not on_cpu["cuda_initialized"]
    gaps = [max(abs(r["cats"][k] - on_cpu["cats"][k]) for k in LABELS) for r in on_gpus]
    return {"ok": ok and max(gaps) < 1e-2, "gpu_actors": on_gpus, "cpu_actor": on_cpu, "max_score_gap": max(gaps)}


def run_cli(path: Path, source: Path, out: Path, args: List[str]) -> Dict[str, Any]:
    out.mkdir()
    command = [sys.executable, "-m", "spacy_zeroshot", "annotate", str(path), str(source), str(out / "out.jsonl")]
    command += ["--quiet", "--summary", str(out / "summary.json"), "--batch-size", "64", *args]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    report = json.loads((out / "summary.json").read_text())
    report["wall"] = round(time.perf_counter() - start, 2)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--model", default=str(SHARED / "models" / "minilm-nli"))
    parser.add_argument("--out", type=Path, default=None)
    options = parser.parse_args()
    import ray
    import torch

    gpus = torch.cuda.device_count()
    if gpus == 0:
        print("no CUDA GPU: nothing to check")
        return 1
    for key, value in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}.items():
        os.environ.setdefault(key, value)
    results: Dict[str, Any] = {"gpus": gpus, "gpu_name": torch.cuda.get_device_name(0)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = options.model
        if not (Path(model) / "config.json").exists():
            from tiny_models import build_deberta

            model = str(build_deberta(root / "tiny"))
        path = pipeline(model, root / "nlp")
        ray.init(num_gpus=gpus, num_cpus=max(4, (os.cpu_count() or 4)), include_dashboard=False)
        try:
            results["actors"] = check_actors(path, gpus)
        finally:
            ray.shutdown()
        data = SHARED / "data" / "ag_news" / "test.csv"
        texts = read_texts(data, options.n) if data.exists() else [f"Sample text {i} about sports." for i in range(options.n)]
        source = root / "in.jsonl"
        source.write_text("".join(json.dumps({"text": t, "meta": {"id": i}}) + "\n" for i, t in enumerate(texts)))
        small = root / "small.jsonl"
        small.write_text("".join(source.read_text().splitlines(keepends=True)[:64]))
        ray_args = ["--engine", "ray", "--num-actors", str(gpus), "--gpus-per-actor", "1", "--chunk-size", "512"]
        results["ray_gpu"] = run_cli(path, source, root / "ray", ray_args)
        results["local_cpu_64"] = run_cli(path, small, root / "local", ["--gpu-id", "-1"])
        ray_rows = [json.loads(line) for line in (root / "ray" / "out.jsonl").read_text().splitlines()]
        cpu_rows = [json.loads(line) for line in (root / "local" / "out.jsonl").read_text().splitlines()]
        gap = max(abs(a["cats"][k] - b["cats"][k]) for a, b in zip(ray_rows, cpu_rows) for k in LABELS)
        ordered = [row["meta"]["id"] for row in ray_rows] == list(range(len(texts)))
        summary = results["ray_gpu"]
        results["end_to_end"] = {
            "ok": gap < 1e-2 and ordered,
            "max_score_gap_vs_cpu": gap,
            "docs_per_s": summary["docs_per_second"],
            "pairs_per_s_per_gpu": round(summary["pairs"] / summary["seconds"] / gpus, 1),
        }
    text = json.dumps(results, indent=1, default=str)
    print(text)
    if options.out is not None:
        options.out.write_text(text)
    return 0 if results["actors"]["ok"] and results["end_to_end"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
