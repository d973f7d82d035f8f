"""What every zero-shot task component shares: finding the pipeline's backend, batching docs,
the audit trail (`save_io`) and calibration on gold examples (`initialize`, `calibrate`)."""

import warnings
from contextlib import contextmanager
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Collection,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import SimpleFrozenList, minibatch
from thinc.api import Optimizer

from .. import audit
from ..backend import NLIBackend
from ..errors import Errors, Warnings
from ..tasks.base import PairTask, run_task
from ..tasks.decisions import CalibrationTask
from .nli import ZeroShotNLI
from .serialization import folder_from_bytes, folder_to_bytes

if TYPE_CHECKING:  # pragma: no cover
    from ..calibration import CalibrationReport
    from ..training import TrainGroup

CALIBRATION_FILE = "calibration.json"

DEFAULT_NLI_COMPONENT = "zeroshot_nli"
# Training examples `initialize` checks for gold decisions.
INIT_SAMPLE = 200


class ZeroShotTask(Pipe):
    """Base of the task components: a spaCy `Pipe` (labels, the error handler of `nlp.pipe`).
    Subclasses give their task's pair logic (`pair_task`) and `set_annotations` (only writes,
    idempotent); `predict` runs the one scoring loop (`tasks.base.run_task`) for every task.

    Settings: `self.settings`, the task's frozen settings dataclass (e.g. `TextcatSettings`),
    built and validated once by the subclass' `__init__` (the factory's arguments); a change
    (calibration, `from_disk`) assigns new settings. `cfg` is the same settings as a read-only
    mapping under the config's key names.

    The backend is not owned here: it is looked up on every use in the pipeline's
    'zeroshot_nli' component (`nli_component`), like a spacy-transformers listener finds its
    transformer, so all task components of a pipeline share one model.
    """

    def __init__(self, nlp: Language, name: str, nli_component: str = DEFAULT_NLI_COMPONENT) -> None:
        self._nlp = nlp
        self.name = name
        self.nli_component = nli_component
        # Thresholds and wording chosen on gold examples (`calibrate`); saved by `to_disk`.
        self.calibration: Optional[Dict[str, Any]] = None

    # The task's frozen settings dataclass; each subclass sets it in `__init__`.
    settings: Any = None

    @property
    def cfg(self) -> Mapping[str, Any]:
        """The settings as a read-only mapping under the config's key names
        (`dataclasses.asdict(self.settings)`): a write raises instead of being lost."""
        return MappingProxyType(asdict(self.settings))

    @property
    def nli(self) -> ZeroShotNLI:
        """The pipeline's 'zeroshot_nli' component that this task uses."""
        names = list(self._nlp.component_names)
        owner = self.nli_component
        if owner not in names:
            before = names[: names.index(self.name)] if self.name in names else names
            found = [n for n in before if isinstance(self._nlp.get_pipe(n), ZeroShotNLI)]
            if owner != DEFAULT_NLI_COMPONENT or len(found) != 1:
                raise ValueError(Errors.E050.format(name=self.name, pipeline=names))
            owner = found[0]
        component = self._nlp.get_pipe(owner)
        if not isinstance(component, ZeroShotNLI):
            raise ValueError(
                Errors.E051.format(name=self.name, nli=owner, problem="is not a 'zeroshot_nli' component", pipeline=names)
            )
        if self.name in names and names.index(owner) > names.index(self.name):
            raise ValueError(Errors.E051.format(name=self.name, nli=owner, problem="comes after it", pipeline=names))
        return component

    def uses(self, nli: ZeroShotNLI) -> bool:
        """Whether this task scores with `nli` (False when its backend cannot be found)."""
        try:
            return self.nli is nli
        except ValueError:
            return False

    @property
    def backend(self) -> NLIBackend:
        """The shared NLI backend (the same object for every task of the pipeline)."""
        return self.nli.backend

    def pair_task(self) -> PairTask:  # pragma: no cover - abstract
        """The task's pair logic with the component's current settings."""
        raise NotImplementedError

    def predict(self, docs: Iterable[Doc]) -> Any:
        """Per doc, the task's plain prediction. The one scoring loop of every task: its
        requests, one pooled backend call, the close-call re-check, its decisions, and (with
        `save_io`) the audit trail of them; docs are never changed."""
        docs = docs_as_list(docs)
        task = self.pair_task()
        backend = self.backend
        return run_task(backend, task, docs, task.requests(docs, backend))

    def set_annotations(self, docs: Iterable[Doc], predictions: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        self._annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs in minibatches; all pairs of a minibatch share the scheduler. A
        minibatch that fails goes to the error handler (`nlp.set_error_handler`; default:
        raise), as with spaCy's own components."""
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size):
            try:
                self._annotate(docs)
                yield from docs
            except Exception as error:
                error_handler(self.name, self, docs, error)

    # Few-shot training: the task builds groups from gold examples with its inference
    # premises and hypotheses; the shared 'zeroshot_nli' component backpropagates them and
    # steps. Tasks deliberately have no `model`/`is_trainable`: spaCy would then step the
    # shared weights once per task.

    def training_groups(self, examples: Sequence[Example]) -> List["TrainGroup"]:
        """The gold decisions of `examples` (the task's `gold_groups`). A task that does not learn
        from gold examples (e.g. 'zeroshot_span_ranker', for now) has none: its `update`
        then adds nothing."""
        return []

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from gold examples: accumulate the gradient of this task's loss (the mean
        over its gold decisions of -log the score inference gives the gold answer) in the
        shared model. The step is 'zeroshot_nli'.finish_update's, once per batch; when
        'zeroshot_nli' is frozen the loss is only computed. `drop` is the NLI component's.

        RETURNS (Dict[str, float]): `losses`, with this task's loss added under its name.
        """
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        nli = self.nli
        losses[self.name] += nli.learn(self.name, self.training_groups(examples), losses)
        nli.task_updated(self.name)
        return losses

    def _annotate(self, docs: List[Doc]) -> None:
        nli = self.nli
        if not nli.save_io:
            self.set_annotations(docs, self.predict(docs))
            return
        # The scoring loop adds the task's decisions to the active trail (`tasks.base.capture`).
        with audit.recording() as trail:
            predictions = self.predict(docs)
        self.set_annotations(docs, predictions)
        # An unloaded backend scored nothing (e.g. only empty docs): do not load it for names.
        trail.write(docs, self.name, nli.backend.class_names if nli.backend.is_loaded else [])

    # What `W300` says a task reads, when a training corpus has none of it; None: the task
    # does not learn from gold examples (no warning).
    gold_description: Optional[str] = None

    # Settings (`self.settings`) come from the pipeline config, so `spacy.load(path,
    # config=...)` overrides apply; what calibration chose is component data (`to_disk`),
    # applied to the settings again by `from_disk`.

    def initialize(
        self,
        get_examples: Optional[Callable[[], Iterable[Example]]] = None,
        *,
        nlp: Optional[Language] = None,
        examples: Optional[Callable[[Language], Iterable[Example]]] = None,
        calibrate: bool = True,
        templates: Optional[List[str]] = None,
        descriptions: Optional[Dict[str, List[Any]]] = None,
        min_examples: int = 10,
    ) -> None:
        """Check that the backend is reachable and, given gold examples, calibrate.

        get_examples (Optional[Callable]): spaCy's examples; used for calibration when they
            carry gold annotation for this component (spaCy's dummy examples do not).
        examples (Optional[Callable[[Language], Iterable[Example]]]): A corpus to calibrate
            on instead, e.g. `{"@readers": "spacy.Corpus.v1", "path": "dev.spacy"}` in
            `[initialize.components.<name>]` (`spacy assemble` passes no examples).
        calibrate (bool): False: never calibrate here.
        templates, descriptions, min_examples: As for `calibrate`.
        """
        self.nli  # noqa: B018 - raises a clear error when the pipeline has no backend
        self.load_resources()
        if calibrate:
            from ..calibration import calibrate_on_initialize

            source = (lambda: examples(nlp or self._nlp)) if examples is not None else get_examples
            calibrate_on_initialize(self, source, templates=templates, descriptions=descriptions, min_examples=min_examples)
        if get_examples is not None:
            self._check_training_examples(get_examples)

    def _check_training_examples(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Warn (`W300`) when gold examples hold nothing this task can learn from; a setting
        that cannot build training premises raises here, not mid-training. Examples without
        any gold annotation (spaCy's dummy examples for a plain `nlp.initialize()`, raw
        text) are no training corpus: nothing to warn about. The examples are checked as
        `update` will see them: annotated by the [training] annotating_components before this
        one (e.g. a sentencizer)."""
        if self.gold_description is None:
            return
        sample = [eg for eg in islice(get_examples(), INIT_SAMPLE) if _has_gold(eg)]
        if not sample:
            return
        sample = self._annotated_as_in_training(sample)
        found = self.gold_labels(sample)
        hint = ""
        if found:  # the usual cause: names that differ from the component's (case included)
            shown, known = _listed(found), _listed(self.labels)
            hint = f" The examples' gold labels are {shown}; its labels are {known}: they must match exactly."
        if not self.training_groups(sample):
            warnings.warn(
                Warnings.W300.format(name=self.name, n=len(sample), what=self.gold_description, found=hint), stacklevel=3
            )
        elif found and not set(found) & set(self.labels):  # e.g. relations: unknown labels are negatives
            warnings.warn(Warnings.W302.format(name=self.name, n=len(sample), found=hint), stacklevel=3)

    def _annotated_as_in_training(self, examples: List[Example]) -> List[Example]:
        """`examples` with copies of their predicted docs annotated by the components before
        this one that `spacy train` lists in [training] annotating_components
        (`nlp.update(..., annotates=...)` runs them before this component's update)."""
        annotating = self._nlp.config.get("training", {}).get("annotating_components", None)
        if not annotating:
            return examples
        docs = self.upstream_docs(examples, only=set(annotating))
        return [Example(doc, example.reference) for doc, example in zip(docs, examples)]

    def gold_labels(self, examples: Sequence[Example]) -> List[str]:
        """The gold label names the reference docs of `examples` hold for this task (for `W300`'s
        hint when none is one of the component's); [] when the task cannot tell."""
        return []

    @property
    def labels(self) -> Tuple[str, ...]:
        return ()

    def load_resources(self) -> None:
        """Read what the component needs besides the model (e.g. candidate files)."""

    def calibration_task(self) -> Optional[CalibrationTask]:
        """How this component's decisions are calibrated (None: they are not): its task's
        calibration adapter, with the current settings."""
        return self.pair_task().calibration()

    def upstream_docs(self, examples: Sequence[Example], only: Optional[Collection[str]] = None) -> List[Doc]:
        """Copies of the examples' predicted docs, annotated by the components before this one
        (what it sees in the pipeline; for calibration), or by those of them named in `only`."""
        docs = [example.predicted.copy() for example in examples]
        procs = self._nlp.pipeline
        position = next((i for i, (_, proc) in enumerate(procs) if proc is self), 0)
        for name, proc in procs[:position]:
            if only is None or name in only:
                docs = list(proc.pipe(docs)) if hasattr(proc, "pipe") else [proc(doc) for doc in docs]
        return docs

    @contextmanager
    def remembering_pairs(self, pairs: int) -> Iterator[None]:
        """Keep every scored pair (up to `pairs`) in the backend's pair cache, enlarged for the
        while (what it held is reused); its capacity is restored afterwards. Calibration tries
        many wordings that share premises and hypotheses."""
        cache = self.backend.cache
        size = cache.size
        cache.resize(max(size, pairs))
        try:
            yield
        finally:
            cache.resize(size)

    def calibrate(
        self,
        examples: Iterable[Example],
        *,
        templates: Optional[List[str]] = None,
        descriptions: Optional[Dict[str, List[Any]]] = None,
        min_examples: int = 10,
        thresholds: bool = True,
    ) -> "CalibrationReport":
        """Choose thresholds (and, given candidates, the wording) that maximise F1 on `examples`.

        See `spacy_zeroshot.calibration.calibrate`; the choice is kept in `self.calibration`,
        saved by `to_disk` and reused by `spacy.load`.
        """
        from ..calibration import calibrate

        return calibrate(
            self, examples, templates=templates, descriptions=descriptions, min_examples=min_examples, thresholds=thresholds
        )

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.calibration is not None:
            from ..calibration import write_calibration

            write_calibration(path / CALIBRATION_FILE, self.calibration)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotTask":
        file = Path(path) / CALIBRATION_FILE
        if file.exists():
            from ..calibration import apply_calibration, read_calibration

            apply_calibration(self, read_calibration(file))
        return self

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return folder_to_bytes(self.to_disk, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotTask":
        folder_from_bytes(bytes_data, self.from_disk, exclude)
        return self


def _listed(labels: Sequence[str], most: int = 10) -> str:
    """Labels for a message: 'a', 'b', ... (at most `most` of them)."""
    return ", ".join(repr(label) for label in labels[:most]) + (", ..." if len(labels) > most else "")


def _has_gold(example: Example) -> bool:
    reference = example.reference
    return bool(reference.cats or reference.ents or reference.spans or reference.user_data)


def docs_as_list(docs: Iterable[Doc]) -> List[Doc]:
    return docs if isinstance(docs, list) else list(docs)
