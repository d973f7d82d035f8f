"""What the audit trail (`save_io`) costs: time per doc with it off and on, side by side.

Runs one textcat pipeline over the first N AG News test texts in alternating rounds with
`save_io` off and on (the same loaded model; the pair cache off, so every round scores every
pair), and prints docs/s per setting, the on/off time ratio, and the size of the trail per
doc (msgpack bytes of `doc.user_data["zeroshot_io"]`). Off, the trail code does not run at all
(tests/test_audit.py makes it raise); this measures what turning it on costs.

    python benchmarks/audit_overhead.py --model ../shared/models/minilm-nli --n 200 --rounds 3
"""

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import spacy
import srsly

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_agnews import LABELS, SHARED, read_texts  # noqa: E402

from spacy_zeroshot.audit import USER_DATA_KEY  # noqa: E402


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "ag_news" / "test.csv")
    parser.add_argument("--model", default="knowledgator/comprehend_it-base")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"AG News data not found at {args.data}; skipping.")
        return 0
    texts = read_texts(args.data, args.n)
    nlp = spacy.blank("en")
    nli = nlp.add_pipe("zeroshot_nli", config={"model": args.model, "device": args.device})
    nlp.add_pipe("zeroshot_textcat", config={"labels": LABELS, "hypothesis_template": "This example is about {}."})
    nli.backend.load()
    list(nlp.pipe(texts[: args.batch_size], batch_size=args.batch_size))  # warm-up
    seconds: Dict[bool, List[float]] = {False: [], True: []}
    trail_bytes = 0
    for _ in range(args.rounds):
        for save_io in (False, True):
            nli.save_io = save_io
            start = time.perf_counter()
            docs = list(nlp.pipe(texts, batch_size=args.batch_size))
            seconds[save_io].append(time.perf_counter() - start)
            if save_io:
                trail_bytes = sum(len(srsly.msgpack_dumps(doc.user_data[USER_DATA_KEY])) for doc in docs)
            else:
                assert all(USER_DATA_KEY not in doc.user_data for doc in docs)
    off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
    pairs = len(texts) * len(LABELS)
    print(f"model: {args.model}   {len(texts)} docs x {len(LABELS)} labels = {pairs} pairs, {args.rounds} alternating rounds")
    print(f"save_io off: {len(texts) / off:8.1f} docs/s  (median {off:.2f}s; rounds {', '.join(f'{s:.2f}' for s in seconds[False])})")
    print(f"save_io on:  {len(texts) / on:8.1f} docs/s  (median {on:.2f}s; rounds {', '.join(f'{s:.2f}' for s in seconds[True])})")
    print(f"on / off time: {on / off:.3f}   trail size: {trail_bytes / len(texts):.0f} bytes per doc (msgpack)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
