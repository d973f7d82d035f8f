"""Speed of the review formats: rank 2,000 AG News review records by uncertainty, convert them
to each tool's format and import them back (blank English tokenizer, one span and four category
scores per record; the scores are random, only the plumbing is timed).

    python benchmarks/review_formats.py

Reads ../shared/data/ag_news by path (research licence); skips when it is absent.
"""

import random
import sys
import tempfile
import time
from pathlib import Path

import spacy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_data import SHARED_DATA, read_ag_news  # noqa: E402

from spacy_zeroshot.engines.formats import convert, import_reviewed, select, serialize  # noqa: E402
from spacy_zeroshot.engines.formats.schema import CategorySet, ReviewSchema, SpanTarget  # noqa: E402
from spacy_zeroshot.engines.review import review_record  # noqa: E402

LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def main(n: int = 2000) -> None:
    if not (SHARED_DATA / "ag_news").exists():
        print(f"skipped: needs {SHARED_DATA / 'ag_news'}")
        return
    nlp = spacy.blank("en")
    rng = random.Random(0)
    docs, records = [], []
    for text, _ in read_ag_news(SHARED_DATA)[:n]:
        doc = nlp.make_doc(text)
        weights = [rng.random() for _ in LABELS]
        doc.cats = {label: w / sum(weights) for label, w in zip(LABELS, weights)}
        if len(doc):
            doc.ents = [doc.char_span(0, len(doc[0].text), label="ORG")]
        docs.append(doc)
        records.append(review_record(doc))
    schema = ReviewSchema(
        model_version="bench", categories=[CategorySet("zeroshot_textcat", LABELS, False)], spans=[SpanTarget("ents", ["ORG"])]
    )
    started = time.perf_counter()
    chosen, _ = select(records, schema, order="uncertainty")
    print(f"rank {len(records):,} records (uncertainty): {(time.perf_counter() - started) * 1000:.0f} ms")
    for fmt in ("label-studio", "prodigy", "doccano", "review"):
        started = time.perf_counter()
        out = [convert(fmt, {**records[i], "ranking": e}, schema, doc=docs[i], task_id=k) for k, (i, e) in enumerate(chosen)]
        data = serialize(fmt, out)
        export_s = time.perf_counter() - started
        path = Path(tempfile.mkdtemp()) / "export"
        path.write_bytes(data)
        started = time.perf_counter()
        gold, report = import_reviewed(path, fmt, nlp, schema, use_predictions=True)
        import_s = time.perf_counter() - started
        print(f"{fmt}: export {export_s * 1000:.0f} ms ({len(data) / 1e6:.2f} MB), import {import_s * 1000:.0f} ms, {report.docs:,} docs")


if __name__ == "__main__":
    main()
