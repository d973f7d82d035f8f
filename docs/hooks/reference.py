"""MkDocs hooks: the reference pages that must not drift are generated from the code at build time.

A page holds a marker line `<!-- generated: NAME -->`; the build replaces it with:

- `config`: every factory's settings (type from the factory's signature, default from its
  registered default config) and every registered function of the package;
- `cli`: each `spacy-zeroshot` command's own `--help`;
- `errors`: every code of `spacy_zeroshot/errors.py` with its message.

`img/relations.svg` (the relations page's picture) is rendered by `spacy_zeroshot.render` during
the build too. `tests/test_docs.py` calls these functions, so a broken generator fails the tests
as well as `mkdocs build --strict`.
"""

import ast
import contextlib
import inspect
import io
import json
import os
import re
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.MULTILINE)
# Where each factory is explained, relative to docs/reference/.
TASK_PAGES = {
    "zeroshot_nli": "../getting-started.md#zeroshot_nli-settings",
    "zeroshot_textcat": "../tasks/text-classification.md",
    "zeroshot_entity_typer": "../tasks/entity-typing.md",
    "zeroshot_entity_linker": "../tasks/entity-linking.md",
    "zeroshot_relation_extractor": "../tasks/relations.md",
    "zeroshot_span_ranker": "../tasks/reranking.md",
}


def _type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    text = inspect.formatannotation(annotation)
    return re.sub(r"\b(typing|spacy_zeroshot|spacy)\.([\w.]+\.)?", "", text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _doc_summary(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_reference() -> str:
    """Markdown: each factory's settings with type and default, its default config as spaCy
    writes it, and the package's registered functions with their arguments."""
    from spacy.language import Language
    from spacy.util import registry
    from thinc.api import Config

    import spacy_zeroshot  # noqa: F401  (registers the factories)

    factories = {k: v for k, v in registry.factories.get_all().items() if v.__module__.startswith("spacy_zeroshot")}
    out: List[str] = []
    for name in sorted(factories, key=lambda n: (n != "zeroshot_nli", n)):
        func = factories[name]
        meta = Language.get_factory_meta(name)
        hints = typing.get_type_hints(func)
        params = inspect.signature(func).parameters
        out += [f"## `{name}`", "", _doc_summary(func), ""]
        if meta.assigns:
            out += ["Writes: " + ", ".join(f"`{a}`" for a in meta.assigns) + ".", ""]
        if name in TASK_PAGES:
            out += [f"What each setting does: [the {name} page]({TASK_PAGES[name]}).", ""]
        out += ["| setting | type | default |", "|---|---|---|"]
        for key, default in meta.default_config.items():
            kind = _type_name(hints.get(key, params[key].annotation if key in params else inspect.Parameter.empty))
            out.append(f"| `{key}` | `{_cell(kind)}` | `{_cell(_json(default))}` |")
        ini = Config({"components": {name: {"factory": name, **meta.default_config}}}).to_str()
        out += ["", '??? note "Default config"', "", "    ```ini"]
        out += [f"    {line}" if line else "" for line in ini.strip().splitlines()]
        out += ["    ```", ""]
    out += ["## Registered functions", "", "| registry | name | arguments | what it is |", "|---|---|---|---|"]
    for registry_name in ("misc", "scorers"):
        functions = getattr(registry, registry_name).get_all()
        for key in sorted(k for k in functions if k.startswith("spacy-zeroshot.")):
            func = functions[key]
            hints = typing.get_type_hints(func)
            args = []
            for param in inspect.signature(func).parameters.values():
                arg = f"{param.name}: {_type_name(hints.get(param.name, param.annotation))}"
                args.append(arg if param.default is inspect.Parameter.empty else f"{arg} = {_json(param.default)}")
            summary = _doc_summary(func) or "a scorer for `nlp.evaluate`"
            out.append(f"| `@{registry_name}` | `{key}` | {_cell(', '.join(f'`{a}`' for a in args)) or '-'} | {_cell(summary)} |")
    return "\n".join(out) + "\n"


def _subcommands() -> List[Tuple[str, Any]]:
    import argparse

    from spacy_zeroshot.cli import _parser

    parser = _parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [("", parser)] + [(name, sub) for action in actions for name, sub in action.choices.items()]


def cli_reference() -> str:
    """Markdown: `spacy-zeroshot --help` and each command's `--help`, as the commands print them."""
    out: List[str] = []
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        for name, parser in _subcommands():
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                parser.print_help()
            title = f"spacy-zeroshot {name}".strip()
            out += [f"## `{title}`", "", "```text", f"$ {title} --help", buffer.getvalue().rstrip(), "```", ""]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(out)


def error_codes() -> List[Tuple[str, str, str]]:
    """(class, code, message) of every code in `spacy_zeroshot/errors.py`, in code order; the
    message as written, `{placeholders}` kept."""
    tree = ast.parse((ROOT / "spacy_zeroshot" / "errors.py").read_text(encoding="utf8"))
    codes = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
                code = item.targets[0].id
                if re.fullmatch(r"[EW]\d{3}", code):
                    codes.append((node.name, code, ast.literal_eval(item.value)))
    return sorted(codes, key=lambda c: (c[1][0] == "W", int(c[1][1:])))


AREAS = [
    (0, 49, "Backend and models"),
    (50, 99, "Shared components and text classification"),
    (100, 149, "Entity typing and linking"),
    (150, 199, "Relations"),
    (200, 249, "Corpus annotation"),
    (250, 299, "Performance and runtime modes"),
    (300, 349, "Few-shot fine-tuning"),
    (350, 399, "Other"),
    (400, 429, "Reranking"),
    (430, 469, "Calibration and the audit trail"),
    (470, 499, "Other"),
    (500, 549, "Engines (Ray Data)"),
    (550, 999, "Other"),
]


def errors_reference() -> str:
    """Markdown: every error and warning, grouped by area, with its message (which says what
    to do); `{...}` are filled in when the message is raised."""
    out: List[str] = []
    for kind, title in (("E", "Errors"), ("W", "Warnings")):
        out += [f"## {title}", ""]
        last = None
        for _cls, code, message in error_codes():
            if code[0] != kind:
                continue
            area = next(t for lo, hi, t in AREAS if lo <= int(code[1:]) <= hi)
            if area != last:
                out += [f"### {title}: {area.lower()}", "", "| code | message |", "|---|---|"]
                last = area
            out.append(f'| <a id="{code.lower()}"></a>`{code}` | {_cell(message).replace(chr(10), " ")} |')
        out.append("")
    return "\n".join(out)


GENERATORS: Dict[str, Callable[[], str]] = {"config": config_reference, "cli": cli_reference, "errors": errors_reference}


def relations_svg() -> str:
    """The relations page's picture: `render_relations` on a doc of the model card's example,
    with relations as the component writes them (the scores are illustrative)."""
    import spacy
    from spacy.tokens import Doc, Span

    from spacy_zeroshot.render import render_relations

    nlp = spacy.blank("en")
    doc = nlp("Apple was founded by Steve Jobs in California, and Tim Cook works for Apple.")
    doc.ents = [
        Span(doc, 0, 1, "ORG"),
        Span(doc, 4, 6, "PERSON"),
        Span(doc, 7, 8, "GPE"),
        Span(doc, 10, 12, "PERSON"),
        Span(doc, 14, 15, "ORG"),
    ]
    if not Doc.has_extension("relations"):
        Doc.set_extension("relations", default=None)
    doc._.relations = [
        {"head": [0, 1], "tail": [4, 6], "label": "founded_by", "score": 0.94, "scores": {"founded_by": 0.94}},
        {"head": [0, 1], "tail": [7, 8], "label": "based_in", "score": 0.81, "scores": {"based_in": 0.81}},
        {"head": [10, 12], "tail": [14, 15], "label": "works_for", "score": 0.9, "scores": {"works_for": 0.9}},
    ]
    html = render_relations(doc)
    match = re.search(r"<svg.*</svg>", html, re.DOTALL)
    assert match is not None
    svg = match.group(0)
    if "xmlns=" not in svg[:200]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return svg + "\n"


# --------------------------------------------------------------------------- MkDocs hooks


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, "img/relations.svg", content=relations_svg()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: GENERATORS[m.group(1)]().rstrip("\n"), markdown)
