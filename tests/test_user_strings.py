"""Every user string of every component comes back exactly after every way of saving a pipeline.

spaCy's config layer (confection interpolation) doubles a `$`, reads `${...}` as a variable and
breaks mapping keys such as "key = value"; `components.user_strings` stores such settings as
literal blocks. Each test below puts a corpus of hostile strings into every string setting of a
component and checks the settings (and, with the model, the scores) after `nlp.to_disk` /
`spacy.load` (also with load-time overrides), `nlp.to_bytes` / `from_bytes` with the config that
travels in the bytes, `nlp.config.to_str()` -> `Config().from_str()` -> `load_model_from_config`,
and `spacy assemble` of that config written to a `.cfg` file.
"""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import spacy
import srsly
from confection import Config
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_model_from_config

from spacy_zeroshot.components.base import ZeroShotTask
from spacy_zeroshot.components.nli import ZeroShotNLI
from spacy_zeroshot.components.user_strings import LITERAL, is_literal, literal, read_literal, survives_config
from spacy_zeroshot.tasks.candidates import CandidateSource

HOSTILE = [
    "$",
    "$$",
    "US$",
    "${x}",
    "${paths.train}",
    "$${x}",
    "${",
    "%",
    "%(x)s",
    "#",
    ";",
    '"',
    "'",
    "\\",
    "a\nb",
    "a\tb",
    "a\r\nb",
    "[section]",
    "key = value",
    "key: value",
    " padded ",
    "é ß 中文",
    "🙂",
    "null",
    "1e3",
    "true",
    "{}",
    "a\u2028b",
]
JOINED = " ".join(s.strip() for s in HOSTILE)
PATTERNS = [
    {"label": "ORG", "pattern": "Apple"},
    {"label": "PERSON", "pattern": [{"LOWER": "steve"}, {"LOWER": "jobs"}]},
    {"label": "LOC", "pattern": "California"},
    {"label": "LOC", "pattern": "Paris"},
]
TEXTS = ["Apple was founded by Steve Jobs in California. Paris is nice.", "", "Paris and Apple."]


def braces(text: str) -> str:
    """`text` as literal text inside a format template."""
    return text.replace("{", "{{").replace("}", "}}")


# Settings: one component per hostile string, every string setting holding it --------------


def textcat_configs(i: int, s: str, tmp: Path) -> Dict[str, Dict[str, Any]]:
    return {
        f"textcat_list{i}": {"labels": [s, "other"], "hypothesis_template": braces(s) + " {}"},
        f"textcat_map{i}": {"labels": {s: s, "other": "other"}, "hypothesis_template": "{} " + braces(s)},
    }


def typer_configs(i: int, s: str, tmp: Path) -> Dict[str, Dict[str, Any]]:
    return {
        f"typer{i}": {
            "labels": {"ORG": {s: s, "other": "x"}, s: [s, "other"]},
            "hypothesis_template": "{mention} " + braces(s) + " {label}",
            "mention_markers": [s, s],
            "spans_key": s,
        },
        f"typer_list{i}": {"labels": [s, "other"]},
    }


def linker_configs(i: int, s: str, tmp: Path) -> Dict[str, Dict[str, Any]]:
    aliases = tmp / f"aliases {i} {s}.json"
    srsly.write_json(aliases, {s: [{"id": s, "name": s, "description": s}]})
    table = {s: [{"id": s, "name": s, "description": s}], "paris": [{"id": "Q90", "name": s}]}
    return {
        f"linker{i}": {
            "candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": table},
            "hypothesis_template": "{mention} " + braces(s) + " {description}",
            "nil": s,
            "ent_labels": [s],
            "mention_markers": [s, s],
            "spans_key": s,
        },
        f"linker_file{i}": {"candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "path": str(aliases)}},
    }


def relation_configs(i: int, s: str, tmp: Path) -> Dict[str, Dict[str, Any]]:
    pair = s.replace(":", "") + ":" + s.replace(":", "")
    spec = {"templates": ["{subj} " + braces(s) + " {obj}"], "allowed_head": [s], "allowed_tail": [s], "allowed_pairs": [pair]}
    return {
        f"relations{i}": {
            "labels": {s: spec, "other": "{subj} other {obj}"},
            "thresholds": {s: 0.25},
            "spans_key": s,
        },
        f"relations_list{i}": {"labels": [s, "other"], "template": "{subj} {label} " + braces(s) + " {obj}"},
    }


def ranker_configs(i: int, s: str, tmp: Path) -> Dict[str, Dict[str, Any]]:
    return {
        f"ranker{i}": {"query": s, "hypothesis_template": braces(s) + " {}", "spans_key": s, "output_key": s},
    }


FACTORIES = {
    "ranker": "zeroshot_span_ranker",
    "textcat_": "zeroshot_textcat",
    "typer": "zeroshot_entity_typer",
    "linker": "zeroshot_entity_linker",
    "relations": "zeroshot_relation_extractor",
}
KINDS: Dict[str, Callable[[int, str, Path], Dict[str, Dict[str, Any]]]] = {
    "textcat": textcat_configs,
    "typer": typer_configs,
    "linker": linker_configs,
    "relations": relation_configs,
    "ranker": ranker_configs,
}


def factory_of(name: str) -> str:
    return next(factory for prefix, factory in FACTORIES.items() if name.startswith(prefix))


def settings_state(nlp: Language) -> Dict[str, Any]:
    """What the components do with their user strings: their settings, candidate tables, model ids."""
    state: Dict[str, Any] = {}
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, ZeroShotNLI):
            state[name] = [pipe.backend.source, pipe.backend.revision]
            continue
        if not isinstance(pipe, ZeroShotTask):
            continue
        entry: Dict[str, Any] = {"cfg": dict(pipe.cfg), "labels": list(getattr(pipe, "labels", []))}
        if isinstance(getattr(pipe, "candidates", None), CandidateSource):
            entry["table"] = pipe.candidates.table
        state[name] = entry
    return json.loads(json.dumps(state))


def roundtrips(nlp: Language, tmp: Path, skip: List[str]) -> Dict[str, Language]:
    """The pipeline after each way of saving it; components in `skip` (models) stay out of disk/bytes."""
    results = {"config": load_model_from_config(Config().from_str(nlp.config.to_str()), auto_fill=True)}
    nlp.to_disk(tmp / "saved", exclude=skip)
    results["disk"] = spacy.load(tmp / "saved", exclude=skip)
    # Any load-time override makes confection parse without interpolation, then interpolate.
    results["disk+override"] = spacy.load(tmp / "saved", exclude=skip, config={"nlp": {"batch_size": 17}})
    data = nlp.to_bytes(exclude=skip)
    fresh = load_model_from_config(Config().from_bytes(srsly.msgpack_loads(data)["config.cfg"]), auto_fill=True)
    results["bytes"] = fresh.from_bytes(data, exclude=skip)
    return results


@pytest.mark.parametrize("kind", list(KINDS))
def test_user_strings_every_setting_survives_every_roundtrip(kind: str, tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("zeroshot_nli", name="nli0", config={"model": "unused", "device": "cpu"})
    for i, s in enumerate(HOSTILE):
        for name, config in KINDS[kind](i, s, tmp_path).items():
            nlp.add_pipe(factory_of(name), name=name, config={**config, "nli_component": "nli0"})
    expected = settings_state(nlp)
    if kind == "textcat":  # what the user gave is what the component holds
        assert [nlp.get_pipe(f"textcat_list{i}").labels for i in range(len(HOSTILE))] == [(s, "other") for s in HOSTILE]
    for path, reloaded in roundtrips(nlp, tmp_path, skip=["nli0"]).items():
        state = settings_state(reloaded)
        for name in expected:
            if name != "nli0":
                assert state[name] == expected[name], f"{path}: {name} changed"


def test_user_strings_model_path_and_revision_survive(deberta_path: str, tmp_path: Path) -> None:
    """The NLI model's path may hold any of the hostile characters; the saved pipeline reloads."""
    nlp = spacy.blank("en")
    folders = []
    for i, s in enumerate(["$", "${x}", "$$ % # ; é 🙂", "key = value", " padded "]):
        folder = tmp_path / f"models{i} {s}"
        folder.mkdir()
        (folder / "deberta").symlink_to(deberta_path)
        folders.append(str(folder / "deberta"))
        nlp.add_pipe("zeroshot_nli", name=f"nli{i}", config={"model": folders[-1], "revision": s, "device": "cpu"})
    expected = settings_state(nlp)
    reloaded = roundtrips(nlp, tmp_path, skip=[])
    for path, again in reloaded.items():
        assert settings_state(again) == expected, path
    assert reloaded["config"].get_pipe("nli0").backend.load(folders[0]).is_loaded


# Scores: every setting of every component hostile at once, with the model ----------------


def full_pipeline(model: str) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.add_pipe("zeroshot_nli", config={"model": model, "device": "cpu"})
    nlp.add_pipe("zeroshot_textcat", config={"labels": HOSTILE, "hypothesis_template": braces(JOINED) + " {}"})
    nlp.add_pipe(
        "zeroshot_entity_typer",
        config={
            "labels": {"ORG": {s: f"{s} d" for s in HOSTILE}, "PERSON": HOSTILE[::-1]},
            "hypothesis_template": "{mention} " + braces(JOINED) + " {label}",
            "mention_markers": ["$", "${x}"],
            "threshold": 0.0,
        },
    )
    candidates = [{"id": s, "name": f"{s} n", "description": f"{s} d"} for s in HOSTILE]
    table: Dict[str, Any] = {"paris": candidates, "apple": candidates[:3], **{s: candidates[:1] for s in HOSTILE}}
    nlp.add_pipe(
        "zeroshot_entity_linker",
        config={
            "candidates": {"@misc": "spacy-zeroshot.alias_candidates.v1", "table": table},
            "hypothesis_template": "{mention} " + braces(JOINED) + " {description}",
            "nil": "${NIL} $",
            "threshold": 0.2,
        },
    )
    types = [s for s in HOSTILE] + ["PERSON", "LOC"]
    labels = {s: {"templates": ["{subj} " + braces(s) + " {obj}"], "allowed_head": types} for s in HOSTILE}
    nlp.add_pipe(
        "zeroshot_relation_extractor",
        config={"labels": labels, "thresholds": {s: 0.0 for s in HOSTILE[:6]}, "threshold": 0.3},
    )
    return nlp


def annotations(nlp: Language, docs: Any = None) -> List[Dict[str, Any]]:
    result = []
    for doc in docs if docs is not None else nlp.pipe(TEXTS):
        ents = [
            [e.start, e.end, e.label_, e.kb_id_, e._.zeroshot_type_scores, e._.zeroshot_link_scores] for e in doc.ents
        ]
        result.append({"cats": doc.cats, "ents": ents, "relations": doc._.relations})
    return json.loads(json.dumps(result))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*W001")
def test_user_strings_hostile_pipeline_gives_identical_scores_after_every_roundtrip(
    deberta_path: str, tmp_path: Path
) -> None:
    folder = tmp_path / "models $ ${x} % #;"
    folder.mkdir()
    (folder / "deberta").symlink_to(deberta_path)
    nlp = full_pipeline(str(folder / "deberta"))
    expected = annotations(nlp)
    assert set(expected[0]["cats"]) == set(HOSTILE)
    assert {e[2] for e in expected[0]["ents"]} <= set(HOSTILE) | {"PERSON", "LOC"}
    assert expected[0]["relations"], "the relations must be exercised"
    docbin = DocBin(docs=list(nlp.pipe(TEXTS)), store_user_data=True).to_bytes()
    assert annotations(nlp, DocBin().from_bytes(docbin).get_docs(nlp.vocab)) == expected
    settings = settings_state(nlp)
    reloaded = roundtrips(nlp, tmp_path, skip=[])
    for path, again in reloaded.items():
        assert settings_state(again) == settings, path
        if path in ("config", "bytes"):
            # The ruler's patterns are its data, not config; and spaCy's entity_ruler loses its
            # phrase patterns in nlp.from_bytes into a fresh pipeline (without our components too).
            again.get_pipe("entity_ruler").clear()
            again.get_pipe("entity_ruler").add_patterns(PATTERNS)
        assert annotations(again) == expected, path

    # `spacy assemble` of the config written to a .cfg file (patterns read in [initialize]).
    srsly.write_json(tmp_path / "patterns.json", PATTERNS)
    nlp.config["initialize"]["components"]["entity_ruler"] = {
        "patterns": {"@readers": "srsly.read_json.v1", "path": str(tmp_path / "patterns.json")}
    }
    (tmp_path / "hostile.cfg").write_text(nlp.config.to_str(), encoding="utf8")
    command = [sys.executable, "-m", "spacy", "assemble", str(tmp_path / "hostile.cfg"), str(tmp_path / "assembled")]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assembled = spacy.load(tmp_path / "assembled")
    assert settings_state(assembled) == settings
    assert annotations(assembled) == expected


# The mechanism -------------------------------------------------------------------------


def test_user_strings_plain_settings_stay_readable_in_the_config(make_nlp: Callable[..., Language]) -> None:
    nlp = make_nlp("zeroshot_textcat", {"labels": ["travel", "null", "1e3", "a = b", "#x"], "hypothesis_template": "It is {}."})
    config = nlp.config["components"]["zeroshot_textcat"]
    assert config["labels"] == ["travel", "null", "1e3", "a = b", "#x"]
    assert config["hypothesis_template"] == "It is {}."
    assert LITERAL not in nlp.config.to_str()


def test_user_strings_only_what_needs_it_becomes_a_literal_block(make_nlp: Callable[..., Language]) -> None:
    nlp = make_nlp("zeroshot_textcat", {"labels": {"EUR": "euros", "USD": "US$"}})
    config = nlp.config["components"]["zeroshot_textcat"]
    assert is_literal(config["labels"])
    assert read_literal(config["labels"]["json"]) == {"EUR": "euros", "USD": "US$"}
    assert "$" not in config["labels"]["json"]
    assert config["hypothesis_template"] == "This example is {}."


def test_user_strings_config_variables_stay_variables(deberta_path: str, tmp_path: Path) -> None:
    """A setting that a config fills from a variable keeps the variable; the value is not frozen."""
    text = f"""
[paths]
aliases = "{tmp_path / 'aliases.json'}"

[nlp]
lang = "en"
pipeline = ["zeroshot_nli","zeroshot_entity_linker"]

[components]

[components.zeroshot_nli]
factory = "zeroshot_nli"
model = "{deberta_path}"
device = "cpu"

[components.zeroshot_entity_linker]
factory = "zeroshot_entity_linker"
nil = "US\\u0024"

[components.zeroshot_entity_linker.candidates]
@misc = "spacy-zeroshot.alias_candidates.v1"
path = ${{paths.aliases}}
"""
    srsly.write_json(tmp_path / "aliases.json", {"paris": [{"id": "Q90"}]})
    config = spacy.util.load_config_from_str(text, interpolate=False)
    nlp = load_model_from_config(config, auto_fill=True)
    linker = nlp.get_pipe("zeroshot_entity_linker")
    assert linker.candidates.path == str(tmp_path / "aliases.json")
    assert linker.cfg["nil"] == "US$"
    stored = nlp.config["components"]["zeroshot_entity_linker"]
    assert stored["candidates"]["path"] == "${paths.aliases}"
    assert is_literal(stored["nil"])
    nlp.to_disk(tmp_path / "saved")
    assert spacy.load(tmp_path / "saved").get_pipe("zeroshot_entity_linker").cfg["nil"] == "US$"


@pytest.mark.slow
def test_user_strings_hand_written_cfg_forms(deberta_path: str, tmp_path: Path) -> None:
    """In a .cfg a user writes `$` as `\\u0024` inside a JSON string, or a literal block."""
    text = f"""
[nlp]
lang = "en"
pipeline = ["zeroshot_nli","zeroshot_textcat"]

[components]

[components.zeroshot_nli]
factory = "zeroshot_nli"
model = "{deberta_path}"
device = "cpu"

[components.zeroshot_textcat]
factory = "zeroshot_textcat"
hypothesis_template = "Price in US\\u0024: {{}}."

[components.zeroshot_textcat.labels]
@misc = "spacy-zeroshot.literal.v1"
json = "[\\"US\\\\u0024\\", \\"\\\\u0024{{x}}\\", \\"key = value\\"]"
"""
    (tmp_path / "hand.cfg").write_text(text, encoding="utf8")
    command = [sys.executable, "-m", "spacy", "assemble", str(tmp_path / "hand.cfg"), str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    textcat = spacy.load(tmp_path / "out").get_pipe("zeroshot_textcat")
    assert textcat.labels == ("US$", "${x}", "key = value")
    assert textcat.cfg["hypothesis_template"] == "Price in US$: {}."


def test_user_strings_load_time_override_replaces_a_literal_setting(make_nlp: Callable[..., Language], tmp_path: Path) -> None:
    nlp = make_nlp("zeroshot_textcat", {"labels": ["US$", "EUR"]})
    nlp.to_disk(tmp_path / "p")
    again = spacy.load(tmp_path / "p", config={"components": {"zeroshot_textcat": {"labels": ["a$", "b"]}}})
    assert again.get_pipe("zeroshot_textcat").labels == ("a$", "b")


def test_user_strings_unencodable_string_fails_at_add_pipe(make_nlp: Callable[..., Language]) -> None:
    """A lone surrogate cannot be written as UTF-8: spaCy refuses the config at add_pipe, so no
    folder that cannot be loaded is ever written."""
    with pytest.raises(UnicodeEncodeError):
        make_nlp("zeroshot_textcat", {"labels": ["ok", "bad\ud800"]})


def test_user_strings_bad_literal_block_raises(make_nlp: Callable[..., Language]) -> None:
    with pytest.raises(ValueError, match=r"\[E063\]"):
        make_nlp("zeroshot_textcat", {"labels": {"@misc": LITERAL, "json": "[not json"}})


def test_user_strings_literal_helpers() -> None:
    for value in [HOSTILE, {s: [s] for s in HOSTILE}, "${x}", 1.5, None]:
        block = literal(value)
        assert "$" not in block["json"] and block["json"].isascii()
        assert read_literal(block["json"]) == value
        assert survives_config(block)
    assert survives_config(["travel", "null", "a = b"])
    assert not survives_config(["US$"])
    assert not survives_config({"key = value": "x"})
    assert not survives_config("${x}")


def test_user_strings_pipeline_pickles(make_nlp: Callable[..., Language]) -> None:
    """Processes started by `nlp.pipe(n_process=...)` may receive the pipeline pickled."""
    nlp = make_nlp("zeroshot_textcat", {"labels": ["US$", "EUR"]})
    again = pickle.loads(pickle.dumps(nlp))
    assert again._pipe_configs == nlp._pipe_configs
    assert again.config.to_str() == nlp.config.to_str()
    assert again.get_pipe("zeroshot_textcat").labels == ("US$", "EUR")
