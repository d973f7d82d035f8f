"""The `zeroshot_entity_linker` component: zero-shot disambiguation among candidate entities."""

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import SimpleFrozenList

from ..errors import Errors
from ..tasks.candidates import CandidateSource, source_from_disk, source_to_disk
from ..tasks.entities import respan, target_spans, write_spans
from ..tasks.linking import LinkerSettings, LinkerTask
from ..training import TrainGroup
from .base import ZeroShotTask
from .entity_typer import entries_by_span
from .user_strings import SettingPath, keep_exact

LINK_SCORES_ATTR = "zeroshot_link_scores"
if not Span.has_extension(LINK_SCORES_ATTR):
    Span.set_extension(LINK_SCORES_ATTR, default=None)

CANDIDATES_DIR = "candidates"


def score_entity_links(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """spaCy's entity-linking scores (`nel_micro_p/r/f`) over `doc.ents`; `nil` is negative."""
    return Scorer.score_links(examples, negative_labels=[kwargs.get("nil", "NIL")])


class ZeroShotEntityLinker(ZeroShotTask):
    """Chooses among a mention's candidate entities with the pipeline's NLI model.

    Candidates come from `candidates` (a registered candidate source: an alias table or a
    spaCy KB plus descriptions). Each candidate becomes a hypothesis, by default "{mention}
    is {description}.", checked against the mention's context; the best candidate at or
    above `threshold` becomes `span.kb_id_`, otherwise `nil`. Scores of every candidate go to
    `span._.zeroshot_link_scores`. The candidate data is saved with the pipeline.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        candidates: CandidateSource,
        spans_key: Optional[str],
        ent_labels: List[str],
        hypothesis_template: str,
        context: str,
        window: int,
        mention_markers: Optional[List[str]],
        threshold: float,
        nil: str,
        nli_component: str,
        scorer: Optional[Callable[..., Dict[str, Any]]],
    ) -> None:
        super().__init__(nlp, name, nli_component)
        if not isinstance(candidates, CandidateSource):
            raise ValueError(Errors.E109.format(name=name, value=type(candidates).__name__))
        self.candidates = candidates
        self.settings: LinkerSettings = LinkerSettings.from_config(
            name,
            spans_key=spans_key,
            ent_labels=ent_labels,
            hypothesis_template=hypothesis_template,
            context=context,
            window=window,
            mention_markers=mention_markers,
            threshold=threshold,
            nil=nil,
        )
        self.scorer = scorer
        user_settings: Dict[SettingPath, Any] = {("candidates", key): value for key, value in candidates.settings.items()}
        user_settings.update(
            spans_key=spans_key,
            ent_labels=ent_labels,
            hypothesis_template=hypothesis_template,
            mention_markers=mention_markers,
            nil=nil,
            nli_component=nli_component,
        )
        keep_exact(nlp, name, user_settings)

    def set_candidates(self, source: CandidateSource) -> None:
        """Use another candidate source (e.g. `KBCandidates(kb=kb, descriptions=...)`)."""
        if not isinstance(source, CandidateSource):
            raise ValueError(Errors.E109.format(name=self.name, value=type(source).__name__))
        self.candidates = source

    gold_description = "entity spans with a `kb_id_` among their candidates"

    def load_resources(self) -> None:
        """Read the candidate files (in `initialize`), so that a bad file fails early."""
        self.candidates.load()

    def training_groups(self, examples: Sequence[Example]) -> List[TrainGroup]:
        """Per gold mention whose `kb_id_` is one of its candidates: that candidate vs the
        others, with the inference premise and hypotheses."""
        return self.pair_task().gold_groups(examples, self.backend)

    def pair_task(self) -> LinkerTask:
        return LinkerTask(self.settings, self.candidates, self.name)

    def set_annotations(self, docs: Iterable[Doc], predictions: List[List[Dict[str, Any]]]) -> None:
        spans_key = self.settings.spans_key
        for doc, entries in zip(docs, predictions):
            if not entries:
                continue
            index = entries_by_span(entries, "label")
            result = []
            for span in target_spans(doc, spans_key):
                entry = index.get((span.start, span.end, span.label_))
                result.append(span if entry is None else respan(span, kb_id=entry["kb_id"]))
            write_spans(doc, spans_key, result)
            for entry in entries:
                doc[entry["start"] : entry["end"]]._.set(LINK_SCORES_ATTR, dict(entry["scores"]))

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Entity-linking P/R/F for `nlp.evaluate`: `nel_micro_p`, `nel_micro_r`, `nel_micro_f`."""
        if self.scorer is None:
            return {}
        return self.scorer(examples, **{"nil": self.settings.nil, **kwargs})

    # The candidate data travels with the pipeline, so `spacy.load` needs no original files.

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = Path(path)
        super().to_disk(path, exclude=exclude)
        if CANDIDATES_DIR not in exclude:
            source_to_disk(self.candidates, path / CANDIDATES_DIR)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "ZeroShotEntityLinker":
        path = Path(path)
        if CANDIDATES_DIR not in exclude and (path / CANDIDATES_DIR).is_dir():
            self.candidates = source_from_disk(path / CANDIDATES_DIR)
        super().from_disk(path, exclude=exclude)
        return self
