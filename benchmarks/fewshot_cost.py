"""Time and memory of few-shot fine-tuning per epoch, on this machine.

Each model runs in a fresh Python process (so that its peak memory is its own): the pipeline
of configs/fewshot_textcat.cfg (AG News labels and template) is built, the model loaded, the
epoch's docs scored once (inference), then `nlp.update` steps with the config's optimizer
and batch size (8 docs, 4 labels: 32 NLI pairs per step) run on AG News texts, exactly what
`spacy train` does per batch. Reported: seconds per step (the first step, which builds the
optimizer, excluded), the projected seconds per epoch at 8 and 64 examples per label, and
the peak resident memory (RSS) after loading, after inference, and after training steps.

`--base` adds a model of DeBERTa-v3-base's size and architecture (the default model's,
knowledgator/comprehend_it-base: 12 layers, hidden 768, 128,100-token vocabulary; 184M
parameters) with random weights, built locally (no download) with the bert-base-uncased
WordPiece vocabulary from ../shared/data/tokenizer, whose token counts are close to
DeBERTa-v3's. Random weights cost the same time and memory as trained ones.

    python benchmarks/fewshot_cost.py --model ../shared/models/minilm-nli --base --steps 8 --base-steps 3
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, draw, load_text_task  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "fewshot_textcat.cfg"
BATCH = 8  # docs per step, as [training.batcher] size in the config


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build_base_deberta(path: Path, vocab: Path) -> Path:
    """A DeBERTa-v3-base-sized NLI classifier with random weights (saved once to `path`)."""
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import BertTokenizerFast, DebertaV2Config, DebertaV2ForSequenceClassification

    labels = {0: "entailment", 1: "neutral", 2: "contradiction"}
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), model_max_length=512)
    config = DebertaV2Config(
        vocab_size=128100, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=512, relative_attention=True, position_buckets=256, max_relative_positions=-1,
        norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
        type_vocab_size=0, layer_norm_eps=1e-7, pad_token_id=tokenizer.pad_token_id,
        id2label=labels, label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(0)
    DebertaV2ForSequenceClassification(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def measure(model: str, steps: int, data: Path, threads: Optional[int]) -> Dict[str, Any]:
    """In this process: load, score one epoch's docs, run `steps` training steps."""
    from fewshot_table import textcat_overrides
    from spacy.training import Example
    from spacy.util import load_config, load_model_from_config, minibatch

    task = load_text_task("ag_news", data, 0, 0)
    overrides = {**textcat_overrides(task, model, "cpu"), "components.zeroshot_nli.num_threads": threads}
    config = load_config(CONFIG, overrides=overrides, interpolate=False)
    nlp = load_model_from_config(config, auto_fill=True)
    backend = nlp.get_pipe("zeroshot_nli").backend
    start = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - start
    result: Dict[str, Any] = {"model": model, "load_s": load_s, "rss_loaded_mb": peak_mb()}
    n_params = sum(p.numel() for p in backend.model.parameters())
    embeddings = backend.model.get_input_embeddings().weight.numel()
    result.update({"parameters": n_params, "trainable": n_params - embeddings})
    rows = draw(task.pool, 8, list(task.labels), random.Random(0))
    labels = list(task.labels)
    examples = []
    for text, label in rows:
        reference = nlp.make_doc(text)
        reference.cats = {name: float(name == label) for name in labels}
        examples.append(Example(nlp.make_doc(text), reference))
    start, cpu_start = time.perf_counter(), time.process_time()
    list(nlp.pipe([text for text, _ in rows], batch_size=64))
    result["inference_s_per_doc"] = (time.perf_counter() - start) / len(rows)
    result["inference_cpu_s_per_doc"] = (time.process_time() - cpu_start) / len(rows)
    result["threads"] = threads
    result["rss_inference_mb"] = peak_mb()
    optimizer = nlp.create_optimizer()
    batches = list(minibatch(examples * (1 + steps * BATCH // len(examples)), size=BATCH))[: steps + 1]
    times: List[float] = []
    cpu_times: List[float] = []
    for batch in batches:
        start, cpu_start = time.perf_counter(), time.process_time()
        nlp.update(batch, sgd=optimizer, drop=0.1)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    timed = max(1, len(times) - 1)
    step_s, step_cpu_s = sum(times[1:]) / timed, sum(cpu_times[1:]) / timed
    result.update({"first_step_s": times[0], "step_s": step_s, "step_cpu_s": step_cpu_s, "steps_timed": len(times) - 1,
                   "rss_training_mb": peak_mb(), "pairs_per_step": BATCH * len(labels)})
    for shots in (8, 64):
        steps_per_epoch = -(-shots * len(labels) // BATCH)
        result[f"epoch_s_{shots}"] = step_s * steps_per_epoch
        result[f"epoch_cpu_s_{shots}"] = step_cpu_s * steps_per_epoch
    return result


def in_subprocess(model: str, steps: int, data: Path, threads: Optional[int]) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--worker", "--model", model, "--steps", str(steps), "--data", str(data)]
    command += ["--threads", str(threads)] if threads else []
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: Sequence[Dict[str, Any]]) -> str:
    lines = ["| model | parameters (trainable) | wall s/step (32 pairs) | CPU s/step | epoch, 8/label: wall / CPU | "
             "epoch, 64/label: wall / CPU | inference s/doc: wall / CPU | peak RSS: loaded / inference / training (MB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['parameters'] / 1e6:.1f}M ({r['trainable'] / 1e6:.1f}M) | {r['step_s']:.2f} "
            f"(n={r['steps_timed']}) | {r['step_cpu_s']:.2f} | {r['epoch_s_8']:.0f} s / {r['epoch_cpu_s_8']:.0f} s | "
            f"{r['epoch_s_64']:.0f} s / {r['epoch_cpu_s_64']:.0f} s | {r['inference_s_per_doc']:.3f} / "
            f"{r['inference_cpu_s_per_doc']:.3f} | "
            f"{r['rss_loaded_mb']:.0f} / {r['rss_inference_mb']:.0f} / {r['rss_training_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Optional[List[Dict[str, Any]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hub id or local folder of an NLI model")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps (after a first, untimed one)")
    parser.add_argument("--base", action="store_true", help="also a random DeBERTa-v3-base-sized model")
    parser.add_argument("--base-steps", type=int, default=3)
    parser.add_argument("--base-dir", type=Path, default=None, help="where to build it (default: a temp dir)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, one per core); 1 makes CPU time a clean "
                        "measure of the work on a busy machine")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.model, args.steps, args.data, args.threads)))
        return None
    if not (args.data / "ag_news" / "test.csv").exists():
        print(f"shared data not found at {args.data}; skipping.")
        return None
    results = [{"name": Path(args.model).name, **in_subprocess(args.model, args.steps, args.data, args.threads)}]
    if args.base:
        folder = args.base_dir or Path(tempfile.mkdtemp(prefix="deberta-base-"))
        path = build_base_deberta(folder, args.data / "tokenizer" / "bert-base-uncased-vocab.txt")
        name = "DeBERTa-v3-base size (random weights)"
        results.append({"name": name, **in_subprocess(str(path), args.base_steps, args.data, args.threads)})
    print(f"torch threads: {args.threads or 'default'}; load average at the end: {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(table(results))
    print("Epoch = steps of 8 docs x 4 labels (AG News) over 8 or 64 docs per label. CPU s = process CPU time (all "
          "threads); on a busy machine wall time is inflated, CPU time much less. Peak RSS is the process's "
          "high-water mark after each phase.")
    return results


if __name__ == "__main__":
    main()
