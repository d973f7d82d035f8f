"""Benchmark: spacy-zeroshot against transformers' zero-shot pipeline, in one run.

The benchmark lives in the `zeroshot_bench` package beside this script (see its
`__init__` for the map); this file runs it. `python benchmarks/bench_zeroshot.py --help`
lists the options.

    python benchmarks/bench_zeroshot.py              # the full run
    python benchmarks/bench_zeroshot.py --short      # the quick version (under 3 minutes)
    python benchmarks/bench_zeroshot.py --model knowledgator/comprehend_it-base --device cuda --docs 512
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):  # the package and trained_like; spacy_zeroshot when not installed
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from zeroshot_bench.cli import main  # noqa: E402
from zeroshot_bench.report import compare  # noqa: E402, F401  (the script's helpers, for tests)
from zeroshot_bench.runners import round_robin  # noqa: E402, F401

if __name__ == "__main__":
    main()
