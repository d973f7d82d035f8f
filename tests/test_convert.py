"""`spacy-zeroshot convert`: plain CSV / TSV / JSONL rows -> the gold docs the trainer reads."""

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_zeroshot.cli import main
from spacy_zeroshot.engines.convert import ConvertError, convert, pipeline_labels

HOSTILE_TEXT = 'He said ""hi, there""\r\nand left \ufeff $x'


def read(path: Path) -> List[spacy.tokens.Doc]:
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def write_bytes(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf8"))
    return path


def jsonl(path: Path, rows: List[Any], lines: str = "\n") -> Path:
    return write_bytes(path, lines.join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows))


def test_convert_csv_hostile_file_keeps_strings_exact(tmp_path: Path) -> None:
    content = (
        "\ufefftext,label,label\r\n"
        f'"{HOSTILE_TEXT}",$pay,\r\n'
        "\r\n"
        'plain 😀 café,news,"a,b"\r\n'
    )
    source = write_bytes(tmp_path / "in.csv", content)
    summary = convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    docs = read(tmp_path / "out.spacy")
    assert summary.docs == 2 == len(docs)
    assert docs[0].text == 'He said "hi, there"\r\nand left \ufeff $x'
    assert docs[1].text == "plain 😀 café"
    assert docs[0].cats == {"$pay": 1.0, "news": 0.0, "a,b": 0.0}
    assert docs[1].cats == {"$pay": 0.0, "news": 1.0, "a,b": 1.0}
    assert summary.labels["cats"] == {"$pay": 1, "news": 1, "a,b": 1}


def test_convert_tsv_and_jsonl_labels(tmp_path: Path) -> None:
    tsv = write_bytes(tmp_path / "a.tsv", "first text\tsports\n")
    rows = jsonl(tmp_path / "b.jsonl", [{"text": "second", "label": "world"}, {"text": "third", "labels": ["world", "sports"]},
                                        {"text": "fourth", "cats": {"world": 0.0, "sports": 1}}], lines="\r\n")
    convert([tsv, rows], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    assert [d.cats for d in read(tmp_path / "out.spacy")] == [
        {"sports": 1.0, "world": 0.0}, {"sports": 0.0, "world": 1.0}, {"sports": 1.0, "world": 1.0},
        {"sports": 1.0, "world": 0.0},
    ]


def test_convert_spans_and_relations_are_what_the_trainer_reads(deberta_path: str, tmp_path: Path) -> None:
    from test_relations_component import build

    text = "Apple was founded by Steve Jobs in California."
    spans = [{"start": 0, "end": 5, "label": "ORG", "kb_id": "Q312"}, {"start": 21, "end": 31, "label": "PERSON"}]
    rows = [
        {"text": text, "spans": spans, "relations": [{"head": 0, "tail": 1, "label": "founded_by"},
                                                      {"head": {"start": 21, "end": 31}, "tail": {"start": 35, "end": 45, "label": "LOC"},
                                                       "label": "located_in"}]},
        {"text": "Paris is nice.", "spans": [{"start": 0, "end": 5, "label": "LOC"}], "relations": []},
    ]
    convert([jsonl(tmp_path / "rel.jsonl", rows)], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    docs = read(tmp_path / "out.spacy")
    assert [(e.text, e.label_, e.kb_id_) for e in docs[0].ents] == [
        ("Apple", "ORG", "Q312"), ("Steve Jobs", "PERSON", ""), ("California", "LOC", "")]
    # DocBin's msgpack gives lists back as tuples
    assert [dict(r, head=list(r["head"]), tail=list(r["tail"])) for r in docs[0]._.relations] == [{"head": [0, 1], "tail": [4, 6], "label": "founded_by"},
                                   {"head": [4, 6], "tail": [7, 8], "label": "located_in"}]
    assert list(docs[1]._.relations) == [] and docs[1].cats == {}
    nlp = build(deberta_path, {"negatives_per_positive": -1})
    rel = nlp.get_pipe("zeroshot_relation_extractor")
    sentences = nlp.get_pipe("sentencizer")
    groups = rel.training_groups([Example(sentences(nlp.make_doc(d.text)), d) for d in docs])
    assert sum(t == 1.0 for g in groups for t in g.target) == 2  # both gold relations are positives


def test_convert_spans_key_allows_overlaps(tmp_path: Path) -> None:
    rows = [{"text": "New York City", "spans": [{"start": 0, "end": 8, "label": "CITY"}, {"start": 0, "end": 13, "label": "CITY"}]}]
    source = jsonl(tmp_path / "s.jsonl", rows)
    with pytest.raises(ConvertError, match="overlap"):
        convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"), spans_key="sc")
    doc = read(tmp_path / "out.spacy")[0]
    assert [s.text for s in doc.spans["sc"]] == ["New York", "New York City"]


def test_convert_bad_rows_reported_by_file_and_line(tmp_path: Path) -> None:
    rows: List[Any] = [
        {"text": "fine", "label": "a"},
        "",
        "{not json",
        {"text": 3, "label": "a"},
        {"text": "no annotation"},
        {"text": "Apple pie", "spans": [{"start": 0, "end": 3, "label": "X"}]},  # cuts a token
        {"text": "Apple", "spans": [{"start": 0, "end": 9, "label": "X"}]},  # out of range
        {"text": "Apple", "relations": [{"head": 2, "tail": 0, "label": "r"}]},
        {"text": "x", "label": "a", "labels": ["b"]},
    ]
    source = jsonl(tmp_path / "bad.jsonl", rows)
    csv_file = write_bytes(tmp_path / "bad.csv", "only text\n\"unclosed,a\n")
    with pytest.raises(ConvertError) as info:
        convert([source, csv_file], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    problems = info.value.problems
    assert [p.split(": [")[0] for p in problems] == [
        f"{source}:{n}" for n in (3, 4, 5, 6, 7, 8, 9)] + [f"{csv_file}:1", f"{csv_file}:2"]
    assert all("[E652]" in p for p in problems) and "[E650] 9 bad row(s)" in str(info.value)
    assert "token boundaries" in problems[3] and not (tmp_path / "out.spacy").exists()
    assert "`--alignment expand`" in problems[3] and "`--alignment contract`" in problems[3]


def test_convert_not_utf8_or_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\r\nfine,a\r\nsoir\u00e9e,b\r\n".encode("latin-1"))
    good = write_bytes(tmp_path / "good.jsonl", '{"text": "x", "label": "a"}\n')
    with pytest.raises(ConvertError) as info:
        convert([good, latin1], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    assert info.value.problems == [
        f"{latin1}:3: [E655] the file is not UTF-8: the byte(s) 0xe9 at byte 5 of this line are not UTF-8 text; "
        "save the file as UTF-8 (a byte order mark is fine)."]
    assert main(["convert", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.spacy")]) == 1
    assert f"[E656] Cannot convert {tmp_path / 'missing.csv'}: the input file does not exist." in capsys.readouterr().err


def test_convert_unclosed_quote_is_hinted(tmp_path: Path) -> None:
    source = write_bytes(tmp_path / "h.csv", 'a,x\r\n"Stocks fell, bonds rose,Business\r\nb,y\r\nc,z"\r\nd,x\r\n')
    with pytest.raises(ConvertError) as info:
        convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    assert info.value.problems == [
        f"{source}:2: [E652] a row needs a text and at least one label (a cell holds a line break: it covers "
        "lines 2-4; a quote may be unclosed)"]
    write_bytes(source, 'a,x\n"unclosed,x\nb,y\n')
    with pytest.raises(ConvertError, match="covers lines 2-3; a quote may be unclosed"):
        convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    write_bytes(source, 'a,x\nb\n')
    with pytest.raises(ConvertError) as info:
        convert([source], tmp_path / "out.spacy", nlp=spacy.blank("en"))
    assert info.value.problems == [f"{source}:2: [E652] a row needs a text and at least one label"]


def test_convert_padded_labels_are_warned_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_bytes(tmp_path / "in.csv", "Stocks fell, bonds rose,Business\nGoal!,Sports \nWin,Sports \nok,Sports\n")
    assert main(["convert", str(source), "-o", str(tmp_path / "out.spacy")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"spacy-zeroshot convert: {source}:1: [W650] the cats label ' bonds rose' starts or ends with whitespace (1 row(s)); "
        "it is kept as it is, a label of its own. An unquoted comma in a CSV text, or a stray space?",
        f"spacy-zeroshot convert: {source}:2: [W650] the cats label 'Sports ' starts or ends with whitespace (2 row(s)); "
        "it is kept as it is, a label of its own. An unquoted comma in a CSV text, or a stray space?"]
    assert read(tmp_path / "out.spacy")[1].cats == {" bonds rose": 0.0, "Business": 0.0, "Sports ": 1.0, "Sports": 0.0}


def test_convert_unknown_label_is_named(make_nlp: Any, tmp_path: Path) -> None:
    nlp = make_nlp("zeroshot_textcat", {"labels": ["$pay", "news"]})
    known = pipeline_labels(nlp)
    assert known == {"cats": ["$pay", "news"]}
    source = write_bytes(tmp_path / "in.csv", "a,$pay\nb,News\nc,News\n")
    with pytest.raises(ConvertError) as info:
        convert([source], tmp_path / "out.spacy", nlp=nlp, known=known)
    (problem,) = info.value.problems
    assert problem.startswith(f"{source}:2: [E653]") and "'News'" in problem
    assert "it knows '$pay', 'news'." in problem
    write_bytes(source, "a,$pay\nb,News\nc\nd,Sports\n")  # problems in line order, whatever their kind
    with pytest.raises(ConvertError) as info:
        convert([source], tmp_path / "out.spacy", nlp=nlp, known=known)
    assert [p.split(": ")[0:2] for p in info.value.problems] == [
        [f"{source}:2", "[E653] the cats label 'News' is not one the pipeline knows; it knows '$pay', 'news'. Names must match exactly (case included)."],
        [f"{source}:3", "[E652] a row needs a text and at least one label"],
        [f"{source}:4", "[E653] the cats label 'Sports' is not one the pipeline knows; it knows '$pay', 'news'. Names must match exactly (case included)."]]
    write_bytes(source, "a,$pay\n")
    convert([source], tmp_path / "out.spacy", nlp=nlp, known=known)
    assert read(tmp_path / "out.spacy")[0].cats == {"$pay": 1.0, "news": 0.0}


def test_convert_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_bytes(tmp_path / "in.csv", "text,label\nhello,greeting\n")
    assert main(["convert", str(source), "--output", str(tmp_path / "out.spacy")]) == 0
    assert "wrote 1 doc(s)" in capsys.readouterr().out
    assert read(tmp_path / "out.spacy")[0].cats == {"greeting": 1.0}
    write_bytes(source, "text,label\nhello\n")
    assert main(["convert", str(source), "-o", str(tmp_path / "bad.spacy")]) == 1
    assert f"{source}:2: [E652]" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "x.txt"), "-o", str(tmp_path / "bad.spacy")]) == 1
    assert "[E651]" in capsys.readouterr().err


def test_pipeline_labels_relation_extractor_reads_every_span(deberta_path: str, tmp_path: Path) -> None:
    from test_relations_component import LABELS, build

    nlp = build(deberta_path)  # "located_in" pairs any two spans
    known: Dict[str, List[str]] = pipeline_labels(nlp)
    assert known == {"relations": list(LABELS)}
    text = "The company hired the engineer."
    rows = [{"text": text, "spans": [{"start": 4, "end": 11, "label": "NOMINAL"}, {"start": 22, "end": 30, "label": "NOMINAL"}],
             "relations": [{"head": 1, "tail": 0, "label": "located_in"}]}]
    convert([jsonl(tmp_path / "rel.jsonl", rows)], tmp_path / "out.spacy", nlp=nlp, known=known)
    assert [e.label_ for e in read(tmp_path / "out.spacy")[0].ents] == ["NOMINAL", "NOMINAL"]
    nlp.add_pipe("zeroshot_entity_typer", config={"labels": {"ORG": {"company": "a company"}, "*": {"thing": "a thing"}}})
    assert pipeline_labels(nlp) == {"relations": list(LABELS)}


def test_pipeline_labels_typer_for_every_span_reads_every_span(make_nlp: Any) -> None:
    nlp = make_nlp("zeroshot_entity_typer", {"labels": ["PER", "ORG"]})
    assert pipeline_labels(nlp) == {}  # not {"spans": ["PER", "ORG", "*"]}
    nlp = make_nlp("zeroshot_entity_typer", {"labels": {"ORG": ["company", "school"], "$x": ["a 😀"]}})
    assert pipeline_labels(nlp) == {"spans": ["company", "school", "a 😀", "ORG", "$x"]}


def test_pipeline_labels_textcat_without_labels_reads_every_label(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")  # labels come from the data in `initialize`
    known = pipeline_labels(nlp)
    assert known == {}
    convert([write_bytes(tmp_path / "in.csv", "a,x\n")], tmp_path / "out.spacy", nlp=nlp, known=known)


def test_pipeline_labels_constrained_relations_name_their_span_types(make_nlp: Any, tmp_path: Path) -> None:
    labels = {"works_for": {"templates": "{subj} works for {obj}.", "allowed_head": ["PER"], "allowed_tail": ["ORG"]},
              "causes": {"templates": "{subj} causes {obj}.", "allowed_pairs": ["GENE:DISEASE"]}}
    nlp = make_nlp("zeroshot_relation_extractor", {"labels": labels})
    known = pipeline_labels(nlp)
    assert known == {"relations": ["works_for", "causes"], "spans": ["PER", "ORG", "GENE", "DISEASE"]}
    rows = [{"text": "Ann joined Acme.", "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 11, "end": 15, "label": "NOMINAL"}],
             "relations": [{"head": 0, "tail": 1, "label": "works_for"}]}]
    with pytest.raises(ConvertError) as info:
        convert([jsonl(tmp_path / "rel.jsonl", rows)], tmp_path / "out.spacy", nlp=nlp, known=known)
    (problem,) = info.value.problems
    assert "[E653] the spans label 'NOMINAL'" in problem and "it knows 'PER', 'ORG', 'GENE', 'DISEASE'." in problem


def test_convert_cli_pipeline_cfg_loads_no_model(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a hub look-up would fail at once
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", config={"model": "nobody/no-such-model-xyz"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": ["$pay", "news"]})
    config = tmp_path / "p.cfg"
    nlp.config.to_disk(config)
    source = write_bytes(tmp_path / "in.csv", "a,$pay\nb,sports\n")
    started = time.perf_counter()
    assert main(["convert", str(source), "-o", str(tmp_path / "out.spacy"), "--pipeline", str(config)]) == 1
    assert f"{source}:2: [E653] the cats label 'sports' is not one the pipeline knows; it knows '$pay', 'news'." in capsys.readouterr().err
    args = ["convert", str(source), "-o", str(tmp_path / "out.spacy"), "--pipeline", str(config),
            "--components.zeroshot_textcat.labels", '["$pay", "sports"]']
    assert main(args) == 0, capsys.readouterr().err
    assert time.perf_counter() - started < 30
    assert [d.cats for d in read(tmp_path / "out.spacy")] == [{"$pay": 1.0, "sports": 0.0}, {"$pay": 0.0, "sports": 1.0}]
    assert main(args[:3] + args[5:]) == 1  # overrides without --pipeline
    assert "[E657] Config overrides (--components.zeroshot_textcat.labels) apply to the pipeline" in capsys.readouterr().err


def test_convert_cli_fewshot_pipeline_relations_with_any_span_labels(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = Path(__file__).resolve().parents[1] / "configs" / "fewshot_pipeline.cfg"
    text = "Acme hired the engineer in Paris."
    rows = [{"text": text, "spans": [{"start": 0, "end": 4, "label": "ORG"}, {"start": 15, "end": 23, "label": "NOMINAL"}],
             "relations": [{"head": 1, "tail": 0, "label": "works_for"}]}]
    source = jsonl(tmp_path / "rel.jsonl", rows)
    args = ["convert", str(source), "-o", str(tmp_path / "out.spacy"), "--pipeline", str(config),
            "--components.zeroshot_nli.model", "nobody/no-such-model-xyz"]
    assert main(args) == 0, capsys.readouterr().err
    assert [(e.text, e.label_) for e in read(tmp_path / "out.spacy")[0].ents] == [("Acme", "ORG"), ("engineer", "NOMINAL")]
    rows[0]["relations"][0]["label"] = "born_in"
    jsonl(source, rows)
    assert main(args) == 1
    assert "[E653] the relations label 'born_in' is not one the pipeline knows; it knows 'founded_by', 'located_in', 'works_for'." in capsys.readouterr().err
