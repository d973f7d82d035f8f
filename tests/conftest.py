"""Session fixtures: tiny random NLI models built offline, and pipelines over them."""

import os
import sys
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest
import spacy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from shared_paths import MINILM  # noqa: E402
from tiny_models import build_bert, build_deberta  # noqa: E402


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def deberta_path(models_dir: Path) -> str:
    """Tiny DeBERTa-v2 (the default model's architecture), entailment first."""
    return str(build_deberta(models_dir / "deberta"))


@pytest.fixture(scope="session")
def bert_path(models_dir: Path) -> str:
    """Tiny BERT, labels upper case with entailment last."""
    return str(build_bert(models_dir / "bert"))


@pytest.fixture(scope="session")
def make_model(models_dir: Path) -> Callable[..., str]:
    """Build (once per layout) a tiny model of `arch` with the given id2label."""
    cache: Dict[str, str] = {}

    def make(arch: str, id2label: Optional[Dict[int, str]] = None) -> str:
        key = f"{arch}-{sorted((id2label or {}).items())}"
        if key not in cache:
            target = models_dir / f"layout-{len(cache)}"
            build = build_deberta if arch == "deberta" else build_bert
            cache[key] = str(build(target, id2label=id2label))
        return cache[key]

    return make


@pytest.fixture(params=["deberta", "bert"])
def model_path(request: pytest.FixtureRequest, deberta_path: str, bert_path: str) -> str:
    return deberta_path if request.param == "deberta" else bert_path


@pytest.fixture
def make_nlp(deberta_path: str) -> Callable[..., spacy.language.Language]:
    """A blank English pipeline with 'zeroshot_nli' on a tiny model (CPU) and an optional task."""

    def make(task: Optional[str] = None, config: Optional[dict] = None, model: Optional[str] = None, **nli_config):
        nlp = spacy.blank("en")
        nlp.add_pipe("zeroshot_nli", config={"model": model or deberta_path, "device": "cpu", **nli_config})
        if task is not None:
            nlp.add_pipe(task, config=config or {})
        return nlp

    return make


@pytest.fixture(scope="session")
def shared_minilm() -> str:
    """The small trained NLI model in ../shared (research licence; read by path, never copied;
    `SPACY_ZEROSHOT_SHARED` moves it, see shared_paths.py)."""
    if not (MINILM / "config.json").exists():
        pytest.skip(f"{MINILM} (../shared/models/minilm-nli) is not available")
    return str(MINILM)
