"""A small trained NLI model made decisive on the benchmark's workload, for agreement runs.

Random weights give nearly tied entailment logits, and ../shared/models/minilm-nli (trained
on SICK and RTE only) is weak on news topics, so both make many decisions that any rounding
flips. A model fine-tuned for the task spreads its logits the way a production model does.
This fine-tunes minilm-nli, for one short epoch on the CPU, on AG News test rows that the
benchmark does not score (rows from `FIRST_ROW` on): premise = the news text, hypothesis = the
benchmark's template with each label, target = entailment for the row's class, else
contradiction. The result is written to the benchmark's work folder, never into the project.
"""

import csv
import random
import time
from pathlib import Path
from typing import Any, List, Sequence, Tuple

FIRST_ROW = 3000  # the benchmark reads the first qualifying rows; this stays clear of them
AG_CLASSES = {"1": "world", "2": "sports", "3": "business", "4": "science and technology"}


def training_pairs(ag_news: Path, labels: Sequence[str], template: str, n_docs: int) -> List[Tuple[str, str, bool]]:
    """(premise, hypothesis, entailed?) for `n_docs` AG News rows past FIRST_ROW."""
    pairs: List[Tuple[str, str, bool]] = []
    with ag_news.open(encoding="utf8", newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if i < FIRST_ROW:
                continue
            text = f"{row[1]}. {row[2]}".replace("\\", " ")
            truth = AG_CLASSES[row[0]]
            pairs.extend((text, template.format(label), label == truth) for label in labels)
            if len(pairs) >= n_docs * len(labels):
                break
    return pairs


def build_decisive_minilm(
    source: Path, ag_news: Path, path: Path, labels: Sequence[str], template: str, n_docs: int = 400, seed: int = 0
) -> Path:
    """Fine-tune `source` (an NLI cross-encoder) on AG News pairs; save to `path` (cached)."""
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model: Any = AutoModelForSequenceClassification.from_pretrained(source, torch_dtype=torch.float32)
    names = {v.lower(): int(k) for k, v in model.config.id2label.items()}
    entail = next(i for name, i in names.items() if name.startswith("entail"))
    contra = next(i for name, i in names.items() if name.startswith("contradict"))
    pairs = training_pairs(ag_news, labels, template, n_docs)
    random.Random(seed).shuffle(pairs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()
    started = time.perf_counter()
    for start in range(0, len(pairs), 16):
        batch = pairs[start : start + 16]
        inputs = tokenizer(
            [p for p, _, _ in batch], [h for _, h, _ in batch], truncation="only_first", max_length=128,
            padding=True, return_tensors="pt",
        )
        targets = torch.tensor([entail if yes else contra for _, _, yes in batch])
        loss = torch.nn.functional.cross_entropy(model(**inputs).logits, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    print(f"fine-tuned {source.name} on {len(pairs)} AG News pairs in {time.perf_counter() - started:.0f} s -> {path}")
    return path
