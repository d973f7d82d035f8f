"""`python -m spacy_zeroshot annotate ...`: the same command line as `spacy-zeroshot`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
