"""Load the pipeline of a run: a folder, a package name or a config file."""

import importlib.util
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
from spacy.language import Language
from spacy.util import get_sourced_components, load_config_from_str, load_model_from_config

from ..components.nli import ZeroShotNLI
from ..encodings import read_utf8
from ..errors import Errors


def load_pipeline(source: str, overrides: Dict[str, Any]) -> Language:
    """Load a saved pipeline folder, an installed pipeline package, or assemble one from a config.

    source (str): Folder written by `nlp.to_disk`, package name, or path of a .cfg file.
    overrides (Dict[str, Any]): Config overrides, e.g. {"components.zeroshot_nli.model": "..."}.
    RETURNS (Language): The pipeline, initialized (models loaded).
    """
    path = Path(source)
    if path.is_file() and path.suffix == ".cfg":
        # What `spacy assemble` does, without writing the result to disk.
        # spaCy's `load_config` reads plain UTF-8: a byte-order mark would hide the first section.
        text = read_utf8(path, "config file")
        config = load_config_from_str(text, overrides=overrides, interpolate=False)
        nlp = load_model_from_config(config, auto_fill=True)
        sourced = get_sourced_components(config.interpolate())
        nlp._link_components()
        with nlp.select_pipes(disable=[*sourced]):
            nlp.initialize()
        return nlp
    check_pipeline_source(source)
    return spacy.load(source, config=overrides)


def assemble_pipeline(source: str, overrides: Dict[str, Any]) -> Language:
    """The pipeline's tokenizer and components with their settings, without loading any
    model: what reading labels and tokenizing need (`spacy-zeroshot convert`).

    A .cfg file is assembled but not initialized, so no NLI model is loaded (nor fetched
    from a hub: the model setting may name one that is not there); a saved folder or an
    installed package is loaded as `spacy.load` does.

    source (str): Folder written by `nlp.to_disk`, package name, or path of a .cfg file.
    overrides (Dict[str, Any]): Config overrides, e.g. {"components.zeroshot_textcat.labels": [...]}.
    RETURNS (Language): The pipeline, not initialized when it comes from a .cfg file.
    """
    path = Path(source)
    if path.is_file() and path.suffix == ".cfg":
        config = load_config_from_str(read_utf8(path, "config file"), overrides=overrides, interpolate=False)
        return load_model_from_config(config, auto_fill=True)
    check_pipeline_source(source)
    return spacy.load(source, config=overrides)


def check_pipeline_source(source: str) -> None:
    """Raise `[E207]` unless `source` is a .cfg file, a folder or an installed pipeline package."""
    path = Path(source)
    if path.is_file() and path.suffix == ".cfg":
        return
    if (path.exists() and not path.is_dir()) or (not path.exists() and not spacy.util.is_package(source)):
        raise ValueError(Errors.E207.format(source=source))


def nli_component_names(source: str, overrides: Dict[str, Any]) -> List[str]:
    """The names of the 'zeroshot_nli' components in a pipeline's config, without loading it.

    source (str): Folder written by `nlp.to_disk`, package name, or path of a .cfg file.
    overrides (Dict[str, Any]): Config overrides, as given to `load_pipeline`.
    RETURNS (List[str]): The component names, in pipeline order.
    """
    check_pipeline_source(source)
    path = Path(source)
    if path.is_dir():
        path = path / "config.cfg"
    elif not path.is_file():  # an installed package: its data folder holds the config
        path = next(spacy.util.get_package_path(source).glob("*/config.cfg"))
    config = load_config_from_str(read_utf8(path, "config file"), overrides=overrides, interpolate=False)
    components = config.get("components", {})
    pipeline = config.get("nlp", {}).get("pipeline", list(components))
    return [name for name in pipeline if components.get(name, {}).get("factory") == "zeroshot_nli"]


def device_overrides(source: str, overrides: Dict[str, Any], gpu_id: int) -> Dict[str, Any]:
    """Config overrides that load every NLI model of the pipeline on GPU `gpu_id` (-1: the CPU).

    Setting the device before loading (rather than moving the model afterwards) keeps a
    CPU-only worker on a GPU machine off the GPU entirely.
    """
    return {f"components.{name}.device": gpu_id for name in nli_component_names(source, overrides)}


def nli_components(nlp: Language) -> List[ZeroShotNLI]:
    """The pipeline's 'zeroshot_nli' components (the owners of its models)."""
    return [pipe for _, pipe in nlp.pipeline if isinstance(pipe, ZeroShotNLI)]


def move_to_device(nlp: Language, gpu_id: Optional[int]) -> None:
    """Run the pipeline's NLI models on GPU `gpu_id` (-1: the CPU); None keeps their setting."""
    if gpu_id is None:
        return
    for component in nli_components(nlp):
        component.backend.move_to(gpu_id)


def enable_audit_trail(nlp: Language) -> None:
    """Turn on `save_io` for every 'zeroshot_nli' component (what `--explain` exports)."""
    for component in nli_components(nlp):
        component.save_io = True


def import_code(path: Optional[str]) -> None:
    """Import a Python file with the user's registered functions and components (like spaCy's --code)."""
    if not path:
        return
    file = Path(path)
    if not file.is_file():
        raise ValueError(Errors.E200.format(what="--code file", path=path))
    spec = importlib.util.spec_from_file_location("spacy_zeroshot_user_code", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["spacy_zeroshot_user_code"] = module
    spec.loader.exec_module(module)
