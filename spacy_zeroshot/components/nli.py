"""The `zeroshot_nli` component: owns the one NLI backend that the task components share."""

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList

from ..backend import NLIBackend
from ..errors import Errors
from .serialization import folder_from_bytes, folder_to_bytes

MODEL_DIR = "model"
CFG_FILE = "cfg"


class ZeroShotNLI:
    """Holds the NLI model for a pipeline. It annotates nothing itself: the task components
    after it ('zeroshot_textcat', ...) find it by name and score their pairs with its backend,
    so a pipeline loads its model once however many tasks it runs.

    The model loads lazily (on first use or in `nlp.initialize()`); `to_disk` stores the
    weights and tokenizer inside the pipeline folder, so `spacy.load` works offline.
    """

    def __init__(self, nlp: Language, name: str, backend: NLIBackend, save_io: bool = False) -> None:
        self.name = name
        self.backend = backend
        # The audit trail: the task components store what they scored (`spacy_zeroshot.audit`).
        # A setting of the config, not of `cfg`, so that `spacy.load(..., config=...)` can turn it on.
        self.save_io = bool(save_io)
        self.cfg: Dict[str, Any] = {"model": backend.source, "revision": backend.revision}

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        yield from stream

    def initialize(self, get_examples: Optional[Callable[[], Iterable[Any]]] = None, *, nlp: Optional[Language] = None) -> None:
        """Load the model now, so that a missing or broken model fails at start-up."""
        if not self.backend.is_loaded:
            self.backend.load()

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / CFG_FILE, self.cfg)
        if MODEL_DIR not in exclude:
            self.backend.save(path / MODEL_DIR)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotNLI":
        path = Path(path)
        if (path / CFG_FILE).exists():
            self.cfg.update(srsly.read_json(path / CFG_FILE))
        if MODEL_DIR not in exclude:
            if not (path / MODEL_DIR).is_dir():
                raise ValueError(Errors.E015.format(path=path))
            self.backend.load(path / MODEL_DIR)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return folder_to_bytes(self.to_disk, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotNLI":
        folder_from_bytes(bytes_data, self.from_disk, exclude)
        return self
