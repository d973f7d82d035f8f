"""Few-shot fine-tuning of a saved pipeline with `spacy train`, as `spacy-zeroshot finetune` runs it.

No config to write: the pipeline's components are sourced from its folder (weights, labels,
candidate tables and all), the training sections are `training.defaults`, and spaCy's own
training loop runs. The pipeline is scored on the dev set before and after; unless told
otherwise the zero-shot pipeline is kept as `model-best` when fine-tuning does not improve
the dev score. `training.json` records the data, settings and scores.
"""

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

import spacy
from spacy.language import Language
from spacy.training import Corpus, Example
from thinc.api import Config

from ..errors import Errors
from ..training.defaults import FEWSHOT_TRAINING_CONFIG
from .loading import import_code, nli_components

REPORT_FILE = "training.json"
SPAN_TASKS = ("zeroshot_entity_typer", "zeroshot_entity_linker", "zeroshot_relation_extractor")
GOLD_SPANS = "spacy-zeroshot.gold_spans.v1"


@dataclass
class FinetuneSettings:
    """Everything `finetune` needs; the command line fills it (see `cli/__init__.py`)."""

    pipeline: str
    train: Path
    dev: Path
    output: Path
    overrides: Dict[str, Any] = field(default_factory=dict)
    gpu_id: int = -1
    keep_zero_shot: bool = True
    code: Optional[str] = None


def finetune(settings: FinetuneSettings, *, log: IO[str] = sys.stderr) -> Dict[str, Any]:
    """Fine-tune `settings.pipeline` on `settings.train`, choosing by `settings.dev`.

    RETURNS (Dict[str, Any]): The report also written to `OUTPUT/training.json` and
        `OUTPUT/model-best/training.json`: data hashes, settings, dev scores of the
        zero-shot and fine-tuned pipelines, and which one `model-best` holds.
    RAISES ValueError: [E304] for a pipeline without 'zeroshot_nli', a missing corpus, or a
        pipeline that is not a folder or package.
    """
    from spacy.cli.train import train

    import_code(settings.code)
    for what, path in (("training corpus", settings.train), ("dev corpus", settings.dev)):
        if not Path(path).is_file():
            raise ValueError(Errors.E304.format(what=settings.pipeline, problem=f"the {what} {str(path)!r} does not exist."))
    source = _pipeline_source(settings.pipeline)
    nlp = spacy.load(source)
    if not nli_components(nlp):
        raise ValueError(
            Errors.E304.format(what=settings.pipeline, problem="it has no 'zeroshot_nli' component to fine-tune.")
        )
    config = apply_overrides(training_config(nlp, source, settings.train, settings.dev), settings.overrides)
    augmenter = config["corpora"]["dev"].get("augmenter")
    if augmenter:
        print(f"Dev docs keep their gold spans ({augmenter['@augmenters']}): no component before the "
              "span tasks finds spans.", file=log)
    settings.output.mkdir(parents=True, exist_ok=True)
    config_path = settings.output / "config.cfg"
    config.to_disk(config_path)  # the whole run: `spacy train OUTPUT/config.cfg` repeats it
    weights = dict(config["training"]["score_weights"])
    zero_shot = dev_scores(nlp, settings.dev, weights, augmenter)
    print(f"Zero-shot dev score: {zero_shot['score']:.4f}", file=log)
    started = time.perf_counter()
    train(config_path, settings.output, use_gpu=settings.gpu_id)
    seconds = time.perf_counter() - started
    best = settings.output / "model-best"
    tuned = dev_scores(spacy.load(best), settings.dev, weights, augmenter)
    kept = "fine-tuned"
    if settings.keep_zero_shot and tuned["score"] <= zero_shot["score"]:
        kept = "zero-shot"
        shutil.rmtree(best)
        nlp.to_disk(best)
    print(f"Fine-tuned dev score: {tuned['score']:.4f}; model-best holds the {kept} pipeline.", file=log)
    report = {
        "pipeline": str(settings.pipeline),
        "data": {"train": corpus_info(settings.train, nlp), "dev": corpus_info(settings.dev, nlp)},
        "settings": {
            "overrides": settings.overrides,
            "training": config.interpolate()["training"],
            "gpu_id": settings.gpu_id,
        },
        "scores": {"zero_shot": zero_shot, "fine_tuned": tuned},
        "kept": kept,
        "seconds": round(seconds, 1),
        "spacy_zeroshot": _version(),
    }
    for folder in (settings.output, best):
        (folder / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf8")
    return report


def training_config(nlp: Language, source: str, train: Path, dev: Path) -> Config:
    """A `spacy train` config: every component of `nlp` sourced from `source`, the
    pipeline's score weights, and the few-shot training defaults. Two settings follow the
    pipeline, as `configs/fewshot_pipeline.cfg` sets them by hand: components that set
    sentence boundaries without training (a sentencizer) annotate the training docs
    ([training] annotating_components), and when no component before the span tasks (typer,
    linker, relations) finds spans, the dev docs keep their gold spans ([corpora.dev]
    augmenter `spacy-zeroshot.gold_spans.v1`), or every dev score would be 0.

    RETURNS (Config): Not interpolated; [paths] train and dev set.
    """
    config = Config().from_str(FEWSHOT_TRAINING_CONFIG, interpolate=False)
    config["paths"]["train"] = str(train)
    config["paths"]["dev"] = str(dev)
    config["nlp"] = {
        "lang": nlp.lang,
        "pipeline": list(nlp.component_names),
        "disabled": list(nlp.disabled),
        "batch_size": nlp.batch_size,
        "tokenizer": dict(nlp.config["nlp"]["tokenizer"]),
    }
    config["components"] = {name: {"source": source} for name in nlp.component_names}
    weights = {k: v for k, v in nlp.config["training"]["score_weights"].items()}
    if weights:
        config["training"]["score_weights"] = weights
    config["training"]["annotating_components"] = [
        name for name in nlp.component_names
        if not getattr(nlp.get_pipe(name), "is_trainable", False) and {"token.is_sent_start", "doc.sents"} & set(nlp.get_pipe_meta(name).assigns)
    ]
    span_task = _span_task_without_source(nlp)
    if span_task is not None:
        spans_key = nlp.config["components"][span_task].get("spans_key")
        config["corpora"]["dev"]["augmenter"] = {"@augmenters": GOLD_SPANS, "label": None, "spans_key": spans_key}
    return config


def _span_task_without_source(nlp: Language) -> Optional[str]:
    """The first span task (typer, linker, relations) when no component before it assigns
    spans (`doc.ents` / `doc.spans` in its meta's `assigns`); None otherwise."""
    for name in nlp.pipe_names:
        meta = nlp.get_pipe_meta(name)
        if meta.factory in SPAN_TASKS:
            return name
        if any(a.startswith(("doc.ents", "doc.spans")) for a in meta.assigns):
            return None
    return None


def apply_overrides(config: Config, overrides: Dict[str, Any]) -> Config:
    """`config` with spaCy-style dotted overrides applied (as `spacy train` applies them).

    One convenience: overriding `training.max_steps` without the learn-rate schedule's
    `total_steps` moves `total_steps` along, so a shorter (or longer) run still decays its
    learn rate to 0 at its last step, as the defaults do.

    RETURNS (Config): A new config, not interpolated.
    RAISES ConfigValidationError: spaCy's, for an override of a section that does not exist.
    """
    overrides = dict(overrides)
    schedule = config["training"]["optimizer"].get("learn_rate")
    total = "training.optimizer.learn_rate.total_steps"
    if "training.max_steps" in overrides and total not in overrides and isinstance(schedule, dict) and "total_steps" in schedule:
        overrides[total] = overrides["training.max_steps"]
    return Config(config).from_str(config.to_str(), overrides=overrides, interpolate=False)


def dev_scores(nlp: Language, dev: Path, weights: Dict[str, Any], augmenter: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`nlp.evaluate` on the dev corpus (through `augmenter`, a registered augmenter's
    config, as [corpora.dev] reads it), with the weighted score `spacy train` picks by."""
    augment = spacy.util.registry.resolve({"a": augmenter})["a"] if augmenter else None
    examples: List[Example] = list(Corpus(str(dev), augmenter=augment)(nlp))
    scores = nlp.evaluate(examples)
    numbers = {k: v for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    score = sum(float(numbers.get(key, 0.0) or 0.0) * float(w or 0.0) for key, w in weights.items())
    return {"score": score, **{k: numbers[k] for k in sorted(numbers) if k in weights}}


def corpus_info(path: Path, nlp: Language) -> Dict[str, Any]:
    data = Path(path).read_bytes()
    return {
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "docs": sum(1 for _ in Corpus(str(path))(nlp)),
    }


def _pipeline_source(pipeline: str) -> str:
    path = Path(pipeline)
    if path.is_dir():
        return str(path.resolve())
    if not path.exists() and spacy.util.is_package(pipeline):
        return pipeline
    problem = "give a pipeline folder (nlp.to_disk, spacy assemble) or an installed pipeline package."
    raise ValueError(Errors.E304.format(what=repr(pipeline), problem=problem))


def _version() -> str:
    from .. import __version__

    return __version__
