"""What every zero-shot task component shares: finding the pipeline's backend, batching docs."""

import warnings
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import minibatch
from thinc.api import Optimizer

from ..backend import NLIBackend
from ..errors import Errors, Warnings
from .nli import ZeroShotNLI

if TYPE_CHECKING:  # pragma: no cover
    from ..training import TrainGroup

DEFAULT_NLI_COMPONENT = "zeroshot_nli"
# Training examples `initialize` checks for gold decisions.
INIT_SAMPLE = 200


class ZeroShotTask:
    """Base of the task components. Subclasses implement `predict` (never touches docs) and
    `set_annotations` (only writes, idempotent); this class wires them into spaCy.

    The backend is not owned here: it is looked up on every use in the pipeline's
    'zeroshot_nli' component (`nli_component`), like a spacy-transformers listener finds its
    transformer, so all task components of a pipeline share one model.
    """

    def __init__(self, nlp: Language, name: str, nli_component: str = DEFAULT_NLI_COMPONENT) -> None:
        self._nlp = nlp
        self.name = name
        self.nli_component = nli_component
        self.cfg: Dict[str, Any] = {}

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

    def predict(self, docs: Iterable[Doc]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_annotations(self, docs: Iterable[Doc], predictions: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs in minibatches; all pairs of a minibatch share the scheduler."""
        for docs in minibatch(stream, size=batch_size):
            self.set_annotations(docs, self.predict(docs))
            yield from docs

    # Few-shot training: the task builds groups from gold examples with its inference
    # premises and hypotheses; the shared 'zeroshot_nli' component backpropagates them and
    # steps. Tasks deliberately have no `model`/`is_trainable`: spaCy would then step the
    # shared weights once per task.

    def training_groups(self, examples: Sequence[Example]) -> List["TrainGroup"]:  # pragma: no cover - abstract
        """The gold decisions of `examples` (see `tasks.gold`)."""
        raise NotImplementedError

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

    # Settings live in `self.cfg` and come from the pipeline config, so `spacy.load(path,
    # config=...)` overrides apply; components with data of their own add to_disk/from_disk.

    # What `W300` says a task reads, when a training corpus has none of it.
    gold_description = "gold annotation"

    def initialize(self, get_examples: Optional[Callable[[], Iterable[Any]]] = None, *, nlp: Optional[Language] = None) -> None:
        """Check that the backend is reachable. Given training examples (`spacy train`),
        check that they hold gold decisions for this task (warning `W300` if none; a setting
        that cannot build training premises raises here, not mid-training)."""
        self.nli  # noqa: B018 - raises a clear error when the pipeline has no backend
        if get_examples is None:
            return
        # Examples without any gold annotation (spaCy's dummy examples for a plain
        # `nlp.initialize()`, raw text) are no training corpus: nothing to warn about.
        sample = [eg for eg in islice(get_examples(), INIT_SAMPLE) if _has_gold(eg)]
        if sample and not self.training_groups(sample):
            warnings.warn(Warnings.W300.format(name=self.name, n=len(sample), what=self.gold_description), stacklevel=2)


def _has_gold(example: Example) -> bool:
    reference = example.reference
    return bool(reference.cats or reference.ents or reference.spans or reference.user_data)


def docs_as_list(docs: Iterable[Doc]) -> List[Doc]:
    return docs if isinstance(docs, list) else list(docs)
