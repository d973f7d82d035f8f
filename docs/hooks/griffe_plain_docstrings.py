"""A griffe extension for the Python API page: our docstrings are plain text in spaCy's style,
not Markdown, so square brackets in them (error codes such as `[E001] [E010]`, `x[0][1]`) are
escaped outside inline code; otherwise Markdown reads them as reference links, and
`mkdocs build --strict` fails on the unresolved cross-references."""

import re
from typing import Any

import griffe

CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def escape_brackets(text: str) -> str:
    """`text` with every `[` and `]` outside inline code and code fences escaped."""
    parts = CODE.split(text)
    return "".join(part if i % 2 else part.replace("[", "\\[").replace("]", "\\]") for i, part in enumerate(parts))


class PlainDocstrings(griffe.Extension):
    def on_instance(self, **kwargs: Any) -> None:
        obj = kwargs.get("obj")
        docstring = getattr(obj, "docstring", None)
        if docstring is not None:
            docstring.value = escape_brackets(docstring.value)
