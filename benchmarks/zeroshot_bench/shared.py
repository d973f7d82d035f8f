"""Where the benchmarks find `../shared` (real data sets and a small trained model, research
licences: read by path, never copied into the repository).

`SPACY_ZEROSHOT_SHARED=/path` points every benchmark (and the test suite, which honours the same
variable in `tests/shared_paths.py`) at another folder; a path that does not exist makes them
behave as in a fresh clone, where `../shared` is absent. Unset or empty: the `shared` folder
beside the repository.
"""

import os
from pathlib import Path

ENV_VAR = "SPACY_ZEROSHOT_SHARED"
ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared folder: `$SPACY_ZEROSHOT_SHARED` when set, else `../shared` beside the repository."""
    value = os.environ.get(ENV_VAR, "")
    return Path(value) if value else ROOT.parent / "shared"


SHARED = shared_dir()
SHARED_DATA = SHARED / "data"
MINILM = SHARED / "models" / "minilm-nli"
