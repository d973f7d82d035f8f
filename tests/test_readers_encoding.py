"""Every reader of the library's inputs reads UTF-8 with or without a byte-order mark, keeps CRLF,
blank lines and U+2028 working, and reports anything else by file and line.

Readers: the annotate CLI's .txt and .jsonl inputs, its .cfg pipelines, and the candidate files
of the entity linker (.json / .jsonl alias tables and KB descriptions)."""

import codecs
import json
import re
from pathlib import Path
from typing import Any, List

import pytest
import spacy
import srsly
from spacy.vocab import Vocab

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.loading import load_pipeline
from spacy_zeroshot.engines.readers import count_records, read_records
from spacy_zeroshot.tasks.candidates import AliasTable, KBCandidates

BOM = codecs.BOM_UTF8
LINE = "Apple was founded by Steve Jobs."
ALIASES = {"apple": [{"id": "Q312", "name": "Apple Inc.", "description": "a company"}]}


def records(path: Path) -> List[Any]:
    return list(read_records([path], Vocab()))


# .txt ----------------------------------------------------------------------------------


def test_txt_reader_drops_the_byte_order_mark_of_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(BOM + f"{LINE}\n{LINE}\n".encode())
    texts = [r.text for r in records(path)]
    assert texts == [LINE, LINE]
    assert count_records([path]) == 2


def test_txt_reader_keeps_crlf_blank_lines_and_a_mark_inside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes("one\r\n\r\ntwo\u2028still two\r\n".encode() + BOM + b"three\r\n")
    assert [r.text for r in records(path)] == ["one", "", "two\u2028still two", "\ufeffthree"]
    assert all(r.error is None for r in records(path))


def test_txt_reader_reports_invalid_utf8_by_line(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(BOM + b"fine\nbad \xff byte\nfine again\n")
    result = records(path)
    assert [r.text for r in result] == ["fine", None, "fine again"]
    assert result[1].where == f"{path}:2" and "not valid UTF-8" in (result[1].error or "")
    assert [r.index for r in result] == [0, 1, 2], "nothing shifts: the bad line keeps its place"


MARKS = {
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}


@pytest.mark.parametrize("encoding", list(MARKS))
def test_readers_refuse_utf16_and_utf32_files(tmp_path: Path, encoding: str) -> None:
    """Read as UTF-8 line by line, such a file would give texts full of NUL characters."""
    data = MARKS[encoding] + f"{LINE}\n".encode(encoding)
    for name in ("in.txt", "in.jsonl", "aliases.json"):
        (tmp_path / name).write_bytes(data)
    expected = "UTF-16" if "16" in encoding else "UTF-32"
    for name in ("in.txt", "in.jsonl"):
        with pytest.raises(ValueError, match=rf"\[E210\].*encoded as {expected}"):
            records(tmp_path / name)
    with pytest.raises(ValueError, match=rf"\[E210\].*encoded as {expected}"):
        AliasTable(path=str(tmp_path / "aliases.json")).load()


# .jsonl --------------------------------------------------------------------------------


def test_jsonl_reader_accepts_a_byte_order_mark_crlf_blank_lines_and_u2028(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    first = json.dumps({"text": LINE, "meta": {"id": 0}})
    second = json.dumps({"text": "a\u2028b", "meta": {"id": 1}}, ensure_ascii=False)
    path.write_bytes(BOM + first.encode() + b"\r\n\r\n" + second.encode() + b"\r\n")
    result = records(path)
    assert [(r.text, r.meta, r.line, r.error) for r in result] == [(LINE, {"id": 0}, 1, None), ("a\u2028b", {"id": 1}, 3, None)]
    assert count_records([path]) == 2


def test_jsonl_reader_mark_alone_on_the_first_line_is_a_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(BOM + b"\n" + json.dumps({"text": LINE}).encode() + b"\n")
    assert [(r.text, r.line) for r in records(path)] == [(LINE, 2)]
    assert count_records([path]) == 1


def test_jsonl_reader_reports_invalid_utf8_by_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    result = records(path)
    assert result[0].text == "ok" and result[1].text is None
    assert result[1].where == f"{path}:2" and "not valid UTF-8" in (result[1].error or "")


# The annotate CLI end to end: a BOM costs the first doc nothing -------------------------


@pytest.fixture(scope="module")
def entity_pipeline(deberta_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "ORG", "pattern": "Apple"}, {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]}]
    )
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": {"ORG": ["company", "city"]}, "threshold": 0.0})
    nlp.add_pipe(
        "zeroshot_entity_linker",
        config={"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": ALIASES}, "threshold": 0.0},
    )
    nlp.add_pipe("zeroshot_relation_extractor", config={"labels": ["founded by"], "threshold": 0.0})
    path = tmp_path_factory.mktemp("entities") / "nlp"
    nlp.to_disk(path)
    return path


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_annotate_first_line_with_byte_order_mark_gets_everything(
    entity_pipeline: Path, tmp_path: Path, suffix: str
) -> None:
    lines = [LINE, LINE] if suffix == ".txt" else [json.dumps({"text": LINE})] * 2
    source = tmp_path / f"in{suffix}"
    source.write_bytes(BOM + "\r\n".join(lines).encode() + b"\r\n")
    assert main(["annotate", str(entity_pipeline), str(source), str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf8").splitlines()]
    assert [row["text"] for row in rows] == [LINE, LINE]
    assert rows[0]["spans"] and rows[0]["relations"]
    assert [s["kb_id"] for s in rows[0]["spans"]] == ["Q312", "NIL"]
    assert rows[0]["spans"] == rows[1]["spans"] and rows[0]["relations"] == rows[1]["relations"]


def test_annotate_invalid_utf8_fails_or_is_skipped_by_file_and_line(
    entity_pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(BOM + json.dumps({"text": LINE}).encode() + b'\r\n{"text": "caf\xe9"}\r\n')
    assert main(["annotate", str(entity_pipeline), str(source), str(tmp_path / "out.jsonl"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "E208" in err and f"{source}:2" in err and "not valid UTF-8" in err
    summary = tmp_path / "summary.json"
    args = ["--quiet", "--on-error", "skip", "--summary", str(summary)]
    assert main(["annotate", str(entity_pipeline), str(source), str(tmp_path / "out.jsonl"), *args]) == 0
    assert [r["line"] for r in json.loads(summary.read_text())["skipped_records"]] == [2]
    rows = (tmp_path / "out.jsonl").read_text(encoding="utf8").splitlines()
    assert [json.loads(row)["text"] for row in rows] == [LINE]


def test_annotate_utf16_input_fails_before_loading_the_model(
    entity_pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(f"{LINE}\n".encode("utf-16"))
    assert main(["annotate", str(entity_pipeline), str(source), str(tmp_path / "out.jsonl"), "--quiet"]) == 1
    assert "E210" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_annotate_config_file_with_byte_order_mark(deberta_path: str, tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": deberta_path, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["US$", "EUR"]})
    config = tmp_path / "pipeline.cfg"
    config.write_bytes(BOM + nlp.config.to_str().replace("\n", "\r\n").encode())
    loaded = load_pipeline(str(config), {})
    assert loaded.get_pipe("zeroshot_textcat").labels == ("US$", "EUR")
    config.write_bytes(b"[nlp]\r\nlang = \"caf\xe9\"\r\n")
    with pytest.raises(ValueError, match=r"\[E211\].*line 2"):
        load_pipeline(str(config), {})


# Candidate files -----------------------------------------------------------------------


def test_alias_json_with_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    path.write_bytes(BOM + json.dumps(ALIASES, indent=1).replace("\n", "\r\n").encode())
    assert AliasTable(path=str(path)).candidates("Apple")[0]["id"] == "Q312"


def test_alias_jsonl_with_byte_order_mark_crlf_blank_lines_and_u2028(tmp_path: Path) -> None:
    path = tmp_path / "aliases.jsonl"
    lines = [
        json.dumps({"alias": "Apple", "id": "Q312", "description": "a\u2028company"}, ensure_ascii=False),
        "",
        json.dumps({"alias": "Paris", "id": "Q90"}),
    ]
    path.write_bytes(BOM + "\r\n".join(lines).encode() + b"\r\n")
    table = AliasTable(path=str(path))
    assert table.candidates("apple") == [{"id": "Q312", "name": "Q312", "description": "a\u2028company"}]
    assert table.candidates("paris")[0]["id"] == "Q90"


def test_candidate_files_report_invalid_utf8_and_json_by_line(tmp_path: Path) -> None:
    path = tmp_path / "aliases.jsonl"
    path.write_bytes(b'{"alias": "a", "id": "Q1"}\n{"alias": "caf\xe9", "id": "Q2"}\n')
    expected = rf"\[E211\] The candidate file {re.escape(str(path))} is not valid UTF-8 at line 2, byte 15"
    with pytest.raises(ValueError, match=expected):
        AliasTable(path=str(path)).load()
    path.write_bytes(b'{"alias": "a", "id": "Q1"}\r\n\r\n{"alias": \r\n')
    with pytest.raises(ValueError, match=r"\[E106\].*at line 3"):
        AliasTable(path=str(path)).load()
    descriptions = tmp_path / "descriptions.json"
    descriptions.write_bytes(BOM + b'{"Q1": "one",\n "Q2": }')
    kb = KBCandidates(kb_path=str(tmp_path / "kb"), descriptions_path=str(descriptions))
    with pytest.raises(ValueError, match=r"\[E106\].*line 2, column"):
        kb.descriptions  # noqa: B018


def test_kb_descriptions_jsonl_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "descriptions.jsonl"
    srsly.write_jsonl(path, [{"id": "Q1", "name": "One", "description": "the first"}])
    path.write_bytes(BOM + path.read_bytes().replace(b"\n", b"\r\n"))
    kb = KBCandidates(kb_path=str(tmp_path / "kb"), descriptions_path=str(path))
    assert kb.descriptions == {"Q1": {"name": "One", "description": "the first"}}
