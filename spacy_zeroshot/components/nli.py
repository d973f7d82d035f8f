"""The `zeroshot_nli` component: owns the one NLI backend that the task components share."""

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList
from thinc.api import Model, Optimizer

from ..backend import NLIBackend
from ..errors import Errors, Warnings
from .serialization import folder_from_bytes, folder_to_bytes
from .user_strings import keep_exact

if TYPE_CHECKING:  # pragma: no cover
    from ..training import NLITrainer, TrainGroup

MODEL_DIR = "model"
CFG_FILE = "cfg"


class ZeroShotNLI:
    """Holds the NLI model for a pipeline. It annotates nothing itself: the task components
    after it ('zeroshot_textcat', ...) find it by name and score their pairs with its backend,
    so a pipeline loads its model once however many tasks it runs.

    The model loads lazily (on first use or in `nlp.initialize()`); `to_disk` stores the
    weights and tokenizer inside the pipeline folder, so `spacy.load` works offline.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        backend: NLIBackend,
        save_io: bool = False,
        *,
        freeze_embeddings: bool = True,
        l2_sp: float = 0.0,
    ) -> None:
        self._nlp = nlp
        self.name = name
        self.backend = backend
        # The audit trail: the task components store what they scored (`spacy_zeroshot.audit`).
        # A setting of the config, not of `cfg`, so that `spacy.load(..., config=...)` can turn it on.
        self.save_io = bool(save_io)
        self.cfg: Dict[str, Any] = {"model": backend.source, "revision": backend.revision}
        keep_exact(nlp, name, {"model": backend.source, "revision": backend.revision})
        self.freeze_embeddings = bool(freeze_embeddings)
        self.l2_sp = l2_sp
        # spaCy's training loop calls `finish_update` on components with a model that is
        # not True/False/None. The torch model is the backend's; this placeholder only
        # marks the component as trainable and is never run.
        self.model: Model = Model(name, _not_a_thinc_layer)
        self.listener_map: Dict[str, List[Any]] = {}
        self._trainer: Optional["NLITrainer"] = None
        self._learning = False  # `update` opened a batch that `finish_update` has not closed
        self._dropout = False
        self._deferred: Optional[Optimizer] = None
        self._warned_averages = False

    # Training --------------------------------------------------------------------------
    # spaCy's contract, spacy-transformers' handshake: the task components after this one
    # build training groups from gold examples in their `update` and backpropagate through
    # the shared model here; `finish_update` takes one optimizer step per batch. When this
    # component is frozen (not updated), the tasks' losses are computed without gradients.

    @property
    def is_trainable(self) -> bool:
        return True

    @property
    def trainer(self) -> "NLITrainer":
        """The training core that updates this backend's model (created on first use)."""
        if self._trainer is None:
            from ..training import NLITrainer

            self._trainer = NLITrainer(self.backend, freeze_embeddings=self.freeze_embeddings, l2_sp=self.l2_sp)
        return self._trainer

    # spaCy's listener protocol (as tok2vec and spacy-transformers' transformer implement
    # it): `Language._link_components` calls `find_listeners` with every later component, so
    # the map follows the pipeline as assembled, sourced components included.

    @property
    def listeners(self) -> List[Any]:
        return [task for tasks in self.listener_map.values() for task in tasks]

    @property
    def listening_components(self) -> List[str]:
        """Names of the task components that score with this model, in pipeline order
        (spaCy warns when this component is frozen but they are not, or the reverse)."""
        if not self.listener_map:
            for name in self._nlp.component_names:
                self.find_listeners(self._nlp.get_pipe(name))
        return list(self.listener_map)

    def add_listener(self, listener: Any, component_name: str) -> None:
        self.listener_map.setdefault(component_name, [])
        if listener not in self.listener_map[component_name]:
            self.listener_map[component_name].append(listener)

    def remove_listener(self, listener: Any, component_name: str) -> bool:
        if listener in self.listener_map.get(component_name, []):
            self.listener_map[component_name].remove(listener)
            if not self.listener_map[component_name]:
                del self.listener_map[component_name]
            return True
        return False

    def find_listeners(self, component: Any) -> None:
        """Register `component` if it is a task component that scores with this model.

        Task components are recognised by their `uses(nli)` method (`ZeroShotTask.uses`),
        not by class: the task base imports this module, so this one cannot import it back.
        """
        uses = getattr(component, "uses", None)
        if callable(uses) and uses(self) is True:
            self.add_listener(component, component.name)

    def update(
        self,
        examples: Iterable[Any],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Open a training batch: the task components updated after this one accumulate
        gradients into the model (their loss is also added to `losses[self.name]`). `drop`
        > 0 runs the model with its own dropout on."""
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        self._learning = True
        self._dropout = drop > 0
        self._deferred = None
        if sgd is not None:
            self._deferred = sgd  # the step follows the tasks' updates
        return losses

    def learn(self, task: str, groups: Sequence["TrainGroup"], losses: Dict[str, float]) -> float:
        """Accumulate the gradient of a task's groups (no step); returns the loss. Without
        an open batch (this component frozen), only the loss is computed."""
        loss = self.trainer.accumulate(groups, dropout=self._dropout, learn=self._learning)
        if self._learning:
            losses[self.name] = losses.get(self.name, 0.0) + loss
        return loss

    def task_updated(self, task: str) -> None:
        """Called by each task after its `update`: in a loop that steps right after this
        component's own update (`nlp.update(..., sgd=optimizer)` steps components in
        pipeline order, before the tasks have computed gradients), the step is deferred to
        the last task, so that it is still one step per batch with every task's gradient."""
        if self._deferred is not None and self.listening_components[-1:] == [task]:
            sgd, self._deferred = self._deferred, None
            self.finish_update(sgd)

    def finish_update(self, sgd: Optimizer) -> None:
        """One AdamW step with the gradients accumulated since the last one, using the
        learn rate, betas, eps, L2 and grad_clip that `sgd` holds now (schedules included)."""
        if not self.trainer.pending:
            if self._learning:
                self._deferred = sgd
            return
        if getattr(sgd, "averages", None) is not None and not self._warned_averages:
            warnings.warn(Warnings.W301.format(name=self.name), stacklevel=2)
            self._warned_averages = True
        self.trainer.step(step_settings(sgd))
        self._learning = False
        self._deferred = None

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        yield from stream

    def initialize(self, get_examples: Optional[Callable[[], Iterable[Any]]] = None, *, nlp: Optional[Language] = None) -> None:
        """Load the model now, so that a missing or broken model fails at start-up."""
        self.backend.ensure_loaded()

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


def _not_a_thinc_layer(model: Model, X: Any, is_train: bool) -> Any:
    raise NotImplementedError("zeroshot_nli's model runs in torch through its backend, not as a thinc layer")


def step_settings(sgd: Optimizer) -> "Any":
    """The current values of a thinc optimizer's settings, for the torch AdamW step."""
    from ..training import StepSettings

    l2 = float(getattr(sgd, "L2", 0.0) or 0.0)
    decoupled = bool(getattr(sgd, "L2_is_weight_decay", True))
    return StepSettings(
        learn_rate=float(sgd.learn_rate),
        beta1=float(getattr(sgd, "b1", 0.9)),
        beta2=float(getattr(sgd, "b2", 0.999)),
        eps=float(getattr(sgd, "eps", 1e-8)),
        weight_decay=l2 if decoupled else 0.0,
        l2=0.0 if decoupled else l2,
        grad_clip=float(getattr(sgd, "grad_clip", 0.0) or 0.0),
    )
