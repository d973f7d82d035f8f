"""Relations around the component: HTML rendering, the example, the config and the benchmark."""

import importlib.util
import json
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import List, Tuple

import pytest
import spacy
from shared_paths import SHARED_DATA
from spacy.tokens import Doc, Span
from spacy.util import load_config, load_model_from_config

from spacy_zeroshot.render import relation_table, render_relations

ROOT = Path(__file__).resolve().parents[1]
SEMEVAL = SHARED_DATA / "semeval2010_task8" / "test.jsonl"
VOID = {"meta", "br", "img", "input", "link", "hr"}


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem + "_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TagBalance(HTMLParser):
    """Checks that every opened tag is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: List[str] = []
        self.errors: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, object]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, object]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def annotated_doc() -> Doc:
    nlp = spacy.blank("en")
    text = 'Apple <b>&</b> was founded by Steve Jobs in "California".'
    doc = nlp(text)

    def span(surface: str, label: str) -> Span:
        start = text.index(surface)
        found = doc.char_span(start, start + len(surface), label=label)
        assert found is not None
        return found

    apple, jobs, california = span("Apple", "ORG"), span("Steve Jobs", "PER<SON>"), span("California", "GPE")
    doc.ents = [apple, jobs, california]
    a, j, c = [[s.start, s.end] for s in (apple, jobs, california)]
    doc._.relations = [
        {"head": a, "tail": j, "label": "founded_by <&>", "score": 0.91, "scores": {}},
        {"head": j, "tail": a, "label": "founder_of", "score": 0.55, "scores": {}},
        {"head": a, "tail": c, "label": "based_in", "score": 0.8, "scores": {}},
        {"head": j, "tail": c, "label": "lives_in", "score": 0.3, "scores": {}},
    ]
    return doc


def test_render_relations_is_well_formed_xml() -> None:
    html = render_relations(annotated_doc())
    root = ElementTree.fromstring(html)
    assert root.tag == "div"
    svg = root.find("{http://www.w3.org/2000/svg}svg")
    assert svg is not None
    arcs = svg.findall("{http://www.w3.org/2000/svg}g[@class='relation']")
    assert [a.get("data-label") for a in arcs] == ["founded_by <&>", "founder_of", "based_in", "lives_in"]
    texts = "".join(svg.itertext())
    assert "founded_by <&> 0.91" in texts and "PER<SON>" in texts and "<b>&</b>" in texts


def test_render_relations_page_is_balanced_html() -> None:
    page = render_relations([annotated_doc(), spacy.blank("en")("")], page=True, min_score=0.5)
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>") and page.count('class="relation"') == 3
    ElementTree.fromstring(page[len("<!DOCTYPE html>") :].replace('<meta charset="utf-8"/>', ""))


def test_render_relations_without_relations_or_extension() -> None:
    doc = spacy.blank("en")("Nothing here.")
    assert ElementTree.fromstring(render_relations(doc)).tag == "div"
    assert ElementTree.fromstring(render_relations(doc, extension="no_such_attr")).tag == "div"
    assert relation_table(annotated_doc())[0] == {"head": "Apple", "label": "founded_by <&>", "tail": "Steve Jobs", "score": 0.91}


def test_relations_example_runs(deberta_path: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    html = tmp_path / "relations.html"
    result = load_script(ROOT / "examples" / "relations.py").main(
        ["--model", deberta_path, "--device", "cpu", "--threshold", "0.0", "--html", str(html)]
    )
    out = capsys.readouterr().out
    assert "FKBP5" in out and "Model card formulation" in out
    assert {(r["head"], r["tail"]) for r in result["relations"]} >= {("FKBP5", "PTSD"), ("PTSD", "FKBP5")}
    labels = {"associated with", "has no effect on", "is similar to", "inhibitor of", "ancestor of"}
    assert set(result["raw"][0]["scores"]) == labels
    assert sorted(result["model_card"]["labels"]) == sorted(labels)
    assert sum(result["model_card"]["scores"]) == pytest.approx(1.0, abs=1e-5)
    ElementTree.fromstring(html.read_text(encoding="utf8")[len("<!DOCTYPE html>") :].replace('<meta charset="utf-8"/>', ""))


def test_relations_config_loads_and_runs(deberta_path: str) -> None:
    overrides = {
        "components.zeroshot_nli.model": deberta_path,
        "components.zeroshot_nli.device": "cpu",
        "paths.patterns": str(ROOT / "configs" / "relation_patterns.json"),
    }
    config = load_config(ROOT / "configs" / "relations.cfg", overrides=overrides)
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    doc = nlp("Apple was founded by Steve Jobs in California. FKBP5 is associated with PTSD.")
    assert [e.label_ for e in doc.ents] == ["ORG", "PERSON", "GPE", "GENE", "DISEASE"]
    rels = {(doc[r["head"][0]].text, doc[r["tail"][0]].text): r for r in doc._.relations}
    assert set(rels[("Apple", "Steve")]["scores"]) == {"founded_by", "located_in"}
    assert set(rels[("FKBP5", "PTSD")]["scores"]) == {"associated_with", "located_in"}
    assert all(r["score"] >= 0.5 for r in doc._.relations)
    component = nlp.get_pipe("zeroshot_relation_extractor")
    assert component.cfg["thresholds"] == {"born_in": 0.6}


def test_relations_benchmark_skips_without_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    module = load_script(ROOT / "benchmarks" / "relations_semeval.py")
    assert module.main(["--data", str(tmp_path / "missing.jsonl")]) == 0
    assert "skipping" in capsys.readouterr().out


@pytest.mark.skipif(not SEMEVAL.exists(), reason="../shared SemEval-2010 task 8 data is not available")
def test_relations_benchmark_runs_on_tiny_model(deberta_path: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    module = load_script(ROOT / "benchmarks" / "relations_semeval.py")
    out_json = tmp_path / "semeval.json"
    args = ["--model", deberta_path, "--device", "cpu", "--limit", "4", "--threshold", "0.0", "--json", str(out_json)]
    assert module.main(args) == 0
    out = capsys.readouterr().out
    assert "pairs/s" in out and "macro-F1" in out
    result = json.loads(out_json.read_text(encoding="utf8"))
    assert result["sentences"] == 4 and result["entity_pairs"] == 8
    assert result["nli_pairs"] == 8 * 18 and result["backend_calls"] == 1
    assert 0.0 <= result["micro_f"] <= 1.0 and 0.0 <= result["macro_f"] <= 1.0
