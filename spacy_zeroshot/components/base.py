"""What every zero-shot task component shares: finding the pipeline's backend, batching docs."""

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from ..backend import NLIBackend
from ..errors import Errors
from .nli import ZeroShotNLI

DEFAULT_NLI_COMPONENT = "zeroshot_nli"


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

    # Settings live in `self.cfg` and come from the pipeline config, so `spacy.load(path,
    # config=...)` overrides apply; components with data of their own add to_disk/from_disk.

    def initialize(self, get_examples: Optional[Callable[[], Iterable[Any]]] = None, *, nlp: Optional[Language] = None) -> None:
        """Check that the backend is reachable; zero-shot components need no training."""
        self.nli  # noqa: B018 - raises a clear error when the pipeline has no backend


def docs_as_list(docs: Iterable[Doc]) -> List[Doc]:
    return docs if isinstance(docs, list) else list(docs)
