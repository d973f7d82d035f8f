"""The documentation cannot rot: every Python block of the user pages runs, and the generated
reference pages build from the code.

Convention for ```python blocks in the pages listed in `RUN_PAGES`:
- A page's blocks run in order in one namespace, like a notebook (a later block may use the
  `nlp` of an earlier one), in a temporary working folder.
- The default model's hub id, "knowledgator/comprehend_it-base", is replaced by a tiny random
  DeBERTa built offline, so the blocks run without the hub (their scores are then random:
  the comments show what the real model gives).
- A block that cannot run here (a Ray cluster, a cloud bucket, a real model's answer) has the
  line `<!-- docs-test: skip REASON -->` right before its opening fence; REASON is required.
"""

import importlib.util
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN_PAGES = ["getting-started.md", *sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "tasks").glob("*.md"))]
DEFAULT_MODEL = "knowledgator/comprehend_it-base"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!-- docs-test: skip (\S.*?) -->\s*$")


def python_blocks(text: str) -> List[Tuple[int, str, str]]:
    """(line, code, skip reason or "") of each ```python block of a Markdown page."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        if "docs-test:" in before and not skip:
            raise ValueError(f"a docs-test marker without a reason: {before!r}")
        line = text[: match.start()].count("\n") + 1
        blocks.append((line, match.group(2), skip.group(1) if skip else ""))
    return blocks


def _hooks() -> ModuleType:
    path = DOCS / "hooks" / "reference.py"
    spec = importlib.util.spec_from_file_location("docs_reference_hooks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_python_blocks_are_found_with_their_skip_markers():
    text = (
        "a\n```python\nx = 1\n```\n<!-- docs-test: skip needs a cluster -->\n```python\ny = 2\n```\n"
        "```bash\nls\n```\n```python\nz = 3\n```\n"
    )
    assert python_blocks(text) == [(2, "x = 1\n", ""), (6, "y = 2\n", "needs a cluster"), (12, "z = 3\n", "")]
    with pytest.raises(ValueError, match="without a reason"):
        python_blocks("<!-- docs-test: skip -->\n```python\nz = 3\n```\n")


@pytest.mark.parametrize("page", RUN_PAGES)
def test_docs_page_python_blocks_run(page, deberta_path, tmp_path, monkeypatch):
    blocks = python_blocks((DOCS / page).read_text(encoding="utf8"))
    assert blocks, f"{page} has no Python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for line, code, skip in blocks:
        if skip:
            continue
        source = code.replace(DEFAULT_MODEL, deberta_path)
        try:
            exec(compile(source, f"{page}:{line}", "exec"), namespace)
        except Exception as err:  # name the block, not just the exec frame
            raise AssertionError(f"the Python block at {page}:{line} failed: {err!r}") from err


def test_docs_run_pages_cover_every_task_page():
    assert len(RUN_PAGES) >= 10
    for name in ("text-classification", "entity-typing", "entity-linking", "relations", "reranking",
                 "qa-multiple-choice", "fewshot", "calibration", "audit"):  # fmt: skip
        assert f"tasks/{name}.md" in RUN_PAGES


def test_docs_configuration_reference_has_every_factory_setting():
    from spacy.language import Language

    import spacy_zeroshot  # noqa: F401

    page = _hooks().config_reference()
    for name in ("zeroshot_nli", "zeroshot_textcat", "zeroshot_entity_typer", "zeroshot_entity_linker",
                 "zeroshot_relation_extractor", "zeroshot_span_ranker"):  # fmt: skip
        section = page.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        for key in Language.get_factory_meta(name).default_config:
            assert f"| `{key}` |" in section, (name, key)
    assert "| `model` | `str` | `\"knowledgator/comprehend_it-base\"` |" in page
    assert "`spacy-zeroshot.kb_candidates.v1`" in page and "`kb_path: str`" in page


def settings_tables(text: str) -> List[Tuple[str, str, str]]:
    """(component, key, default cell) of each row of the hand-written settings tables
    (`| key | default | meaning |`): the component is the last `zeroshot_*` name in a heading
    above the table (or in the table's first header cell)."""
    rows = []
    component = ""
    in_table = False
    for line in text.splitlines():
        if line.startswith("#"):
            names = re.findall(r"`(zeroshot_\w+)`", line)
            component = names[-1] if names else component
        elif re.match(r"\| (`zeroshot_\w+` )?key \| default \| meaning \|", line):
            named = re.search(r"`(zeroshot_\w+)`", line)
            component = named.group(1) if named else component
            in_table = True
        elif in_table and line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if re.fullmatch(r"`\w+`", cells[0]):
                rows.append((component, cells[0].strip("`"), cells[1]))
        else:
            in_table = False
    return rows


def test_docs_settings_tables_give_the_factories_defaults():
    import json

    from spacy.language import Language

    import spacy_zeroshot  # noqa: F401

    checked = 0
    for page in RUN_PAGES:
        for component, key, cell in settings_tables((DOCS / page).read_text(encoding="utf8")):
            defaults = Language.get_factory_meta(component).default_config
            assert key in defaults, f"{page}: {component} has no setting {key!r}"
            if re.fullmatch(r"`[^`]*`", cell):
                assert json.loads(cell.strip("`")) == defaults[key], f"{page}: {component}.{key} default {cell}"
                checked += 1
    assert checked >= 40


def test_docs_cli_reference_is_each_commands_help():
    page = _hooks().cli_reference()
    assert "## `spacy-zeroshot annotate`" in page and "## `spacy-zeroshot finetune`" in page
    assert "--resume" in page and "--engine {local,ray}" in page


def test_docs_errors_reference_lists_every_code():
    from spacy_zeroshot.errors import Errors, Warnings

    hooks = _hooks()
    page = hooks.errors_reference()
    codes = [c for c in vars(Errors) if re.fullmatch(r"E\d{3}", c)] + [c for c in vars(Warnings) if re.fullmatch(r"W\d{3}", c)]
    assert len(codes) == len(hooks.error_codes())
    for code in codes:
        assert f"`{code}` |" in page
    assert "Could not find the entailment label" in page


def test_docs_relations_picture_is_an_svg_of_the_relations():
    svg = _hooks().relations_svg()
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    for label in ("founded_by", "based_in", "works_for", "Steve Jobs"):
        assert label in svg


def test_docs_pages_in_the_nav_exist():
    nav = re.findall(r":\s*([\w/-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf8"), re.MULTILINE)
    assert "reference/errors.md" in nav
    for page in nav:
        assert (DOCS / page).exists(), page


def test_docs_readme_starts_with_the_install_and_test_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line for line in first_block.splitlines() if line.strip()][:2] == [
        'pip install torch==2.13.0 -e ".[test,ray]"',
        "python -m pytest",
    ]
    assert len(readme.splitlines()) <= 200



def test_docs_api_docstrings_brackets_are_escaped_outside_code():
    pytest.importorskip("griffe")
    path = DOCS / "hooks" / "griffe_plain_docstrings.py"
    spec = importlib.util.spec_from_file_location("griffe_plain_docstrings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "RAISES ValueError: [E001] [E010] for `x[0][1]` and\n```\na[b]\n```\nend[s]"
    assert module.escape_brackets(text) == "RAISES ValueError: \\[E001\\] \\[E010\\] for `x[0][1]` and\n```\na[b]\n```\nend\\[s\\]"
