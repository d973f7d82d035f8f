"""Where the tests find `../shared` (real data sets and a small trained model, research licences:
read by path, never copied). Tests that need it skip when it is absent.

`SPACY_ZEROSHOT_SHARED=/path` points the suite (and the benchmarks, which honour the same variable
in `benchmarks/zeroshot_bench/shared.py`) at another folder; a path that does not exist runs the
suite as a fresh clone meets it. Unset or empty: the `shared` folder beside the repository.
"""

import os
from pathlib import Path

ENV_VAR = "SPACY_ZEROSHOT_SHARED"
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
MINILM = SHARED / "models" / "minilm-nli"
