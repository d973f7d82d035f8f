"""The span task of benchmarks/review_loop.py (`--task conll-typing`): the review loop on
CoNLL-2003 entity typing.

As in fewshot_entities.py's `typing` task, the gold entity spans of CoNLL-2003 sentences are
typed PER / ORG / LOC / MISC by `zeroshot_entity_typer` (every span "*", the same type
descriptions as hypotheses, the sentence as premise), and the score is `ents_f` with gold
boundaries, i.e. typing accuracy (fewshot_entities' `typing_scores`). The pool and the dev
sentences come from eng.testa, the test sentences from eng.testb (`typing_data`).

The typer types the spans an earlier component found. Here that component is
`review_loop_gold_spans`, a stand-in for a perfect NER: it sets `doc.ents` to the gold mention
boundaries of its text (labelled "ENT", no type), from a table saved with the pipeline. It is
part of the benchmark's pipeline, so annotating the pool, `finetune`'s and `spacy train`'s dev
scores and the test scores all see the same spans (fewshot_entities.py gets them into `spacy
train`'s dev corpus with an augmenter instead, which `finetune`'s own dev score does not read).
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import filter_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_entities import PLACEHOLDER, TYPES, conll_doc, typing_data, typing_scores  # noqa: E402

GOLD_SPANS = "review_loop_gold_spans"
TYPER = "zeroshot_entity_typer"
Entity = List[Any]  # [start_char, end_char, label]


class GoldSpans:
    """Sets `doc.ents` to the gold mention boundaries of the doc's text, labelled `label`
    (a perfect NER); a text not in the table keeps its `doc.ents`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.table: Dict[str, List[Tuple[int, int]]] = {}

    def __call__(self, doc: Doc) -> Doc:
        found = self.table.get(doc.text)
        if found is not None:
            spans = [doc.char_span(start, end, label=self.label, alignment_mode="expand") for start, end in found]
            doc.ents = filter_spans([span for span in spans if span is not None])
        return doc

    def to_disk(self, path: Path, *, exclude: Iterable[str] = ()) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "table.json").write_text(json.dumps(self.table, ensure_ascii=False), encoding="utf8")

    def from_disk(self, path: Path, *, exclude: Iterable[str] = ()) -> "GoldSpans":
        table = json.loads((Path(path) / "table.json").read_text(encoding="utf8"))
        self.table = {text: [(start, end) for start, end in spans] for text, spans in table.items()}
        return self


@Language.factory(GOLD_SPANS, default_config={"label": PLACEHOLDER})
def make_gold_spans(nlp: Language, name: str, label: str) -> GoldSpans:
    return GoldSpans(label)


def sentence(nlp: Language, record: Dict[str, Any]) -> Tuple[str, List[Entity]]:
    """A CoNLL record as the loop sees it: its text (the tokens joined by spaces, as `conll_doc`
    writes it) and its gold entities with character offsets."""
    doc = conll_doc(nlp, record)
    return doc.text, [[ent.start_char, ent.end_char, ent.label_] for ent in doc.ents]


def load_typing(data: Path, test_size: int, dev_size: int) -> Tuple[List[Tuple[str, List[Entity]]], List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(pool rows (text, gold entities), dev records, test records); a text repeated in
    eng.testa is one pool row, and no pool text is a dev or test text."""
    pool, dev, test = typing_data(data, test_size, dev_size)
    nlp = spacy.blank("en")
    held_out = {sentence(nlp, r)[0] for r in [*dev, *test]}
    rows = dict(sentence(nlp, r) for r in pool)
    return [(text, ents) for text, ents in rows.items() if text not in held_out], dev, test


def rows(records: Sequence[Dict[str, Any]]) -> List[Tuple[str, List[Entity]]]:
    nlp = spacy.blank("en")
    return [sentence(nlp, r) for r in records]


def build_typing_pipeline(model: str, gold_rows: Sequence[Tuple[str, List[Entity]]], path: Path) -> Path:
    """Gold spans (of `gold_rows`: every text the loop will annotate or score), the NLI model and
    the typer (fewshot_entities' typing settings), saved to `path`."""
    nlp = spacy.blank("en")
    gold = nlp.add_pipe(GOLD_SPANS)
    for text, ents in gold_rows:
        gold.table.setdefault(text, [(start, end) for start, end, _ in ents])
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe(TYPER, config={"labels": {"*": TYPES}, "context": "doc", "threshold": 0.0})
    nlp.initialize()
    nlp.to_disk(path)
    return path


def write_typing_docbin(records: Sequence[Dict[str, Any]], path: Path) -> Path:
    nlp = spacy.blank("en")
    DocBin(docs=[conll_doc(nlp, r) for r in records]).to_disk(path)
    return path


def typing_accuracy(nlp: Language, test: Sequence[Dict[str, Any]]) -> Dict[str, float]:
    """fewshot_entities' typing scores: "accuracy" is `ents_f` with gold boundaries."""
    scores = typing_scores(nlp, test)
    return {"accuracy": scores["ents_f"], "macro_f": scores["macro_f"]}


def gold_record(text: str, ents: List[Entity]) -> Dict[str, Any]:
    """The simulated reviewer's gold for a sentence: its entities with their gold types."""
    return {"text": text, "entities": ents}


def gold_labels(ents: List[Entity]) -> List[str]:
    return [str(label) for _, _, label in ents]
