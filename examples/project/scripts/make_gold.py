"""Turn the gold annotations of assets/gold.jsonl into a DocBin for `spacy evaluate`.

Each line: {"text", "cats": {label: 1.0}, "entities": [[start_char, end_char, type, kb_id]],
"relations": [[head_entity_index, tail_entity_index, label]]}. Categories missing from a line
get 0.0, so every doc has a value for every label seen in the file.
"""

import sys
from pathlib import Path

import spacy
import srsly
from spacy.tokens import Doc, DocBin


def main(source: Path, output: Path) -> None:
    records = list(srsly.read_jsonl(source))
    labels = sorted({label for record in records for label in record["cats"]})
    if not Doc.has_extension("relations"):
        Doc.set_extension("relations", default=None)
    nlp = spacy.blank("en")
    docs = []
    for record in records:
        doc = nlp.make_doc(record["text"])
        spans = []
        for start, end, label, kb_id in record["entities"]:
            span = doc.char_span(start, end, label=label, kb_id=kb_id)
            if span is None:
                raise ValueError(f"{record['text']!r}: [{start}, {end}] is not on token boundaries")
            spans.append(span)
        doc.ents = spans
        doc.cats = {label: float(record["cats"].get(label, 0.0)) for label in labels}
        doc._.relations = [
            {"head": [spans[h].start, spans[h].end], "tail": [spans[t].start, spans[t].end], "label": label, "score": 1.0}
            for h, t, label in record["relations"]
        ]
        docs.append(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(output)
    print(f"Wrote {len(docs)} gold docs to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
