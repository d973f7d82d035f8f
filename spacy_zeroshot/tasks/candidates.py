"""Candidate sources for entity linking: which entities a mention may refer to.

A source maps a mention's text to candidates `{"id", "name", "description"}` (plain dicts).
Sources are built by registered functions (`spacy-zeroshot.alias_candidates.v1`,
`spacy-zeroshot.kb_candidates.v1`) from the pipeline config, read their files lazily (so
building a pipeline, or `spacy.load` of a saved one, never needs the original files), and
serialize their data with the pipeline.
"""

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import srsly
from spacy.kb import InMemoryLookupKB
from spacy.vocab import Vocab

from ..encodings import read_utf8
from ..errors import Errors

Candidate = Dict[str, str]
AliasTableData = Dict[str, List[Candidate]]
PathLike = Union[str, Path]


def alias_key(text: str) -> str:
    """How aliases are matched: case-insensitively, ignoring surrounding and repeated spaces."""
    return " ".join(text.split()).casefold()


def _read_records(path: PathLike) -> Any:
    """A JSON file's value, or the list of records of a JSONL file (blank lines skipped).

    Read as UTF-8 with or without a byte-order mark (`encodings.read_utf8`: [E210] for UTF-16/32,
    [E211] for invalid UTF-8); invalid JSON is [E106], naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(Errors.E106.format(path=path, problem="does not exist"))
    text = read_utf8(path, "candidate file")
    if path.suffix.lower() != ".jsonl":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            problem = f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
            raise ValueError(Errors.E106.format(path=path, problem=problem)) from None
    records = []
    # Records are split at "\n" only: U+2028 and other line separators may occur in strings.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            problem = f"is not valid JSON at line {number} ({err.msg} at column {err.colno})"
            raise ValueError(Errors.E106.format(path=path, problem=problem)) from None
    return records


def _candidate(entry: Any, where: str) -> Candidate:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
        raise ValueError(Errors.E107.format(entry=entry, where=where))
    name = entry.get("name") or entry["id"]
    description = entry.get("description") or ""
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError(Errors.E107.format(entry=entry, where=where))
    return {"id": entry["id"], "name": name, "description": description}


def _alias_entries(data: Any, where: str) -> Iterable[tuple]:
    """(alias, candidate entry) pairs from a table or from JSONL records."""
    if isinstance(data, Mapping):
        for alias, entries in data.items():
            if not isinstance(entries, list):
                raise ValueError(Errors.E107.format(entry={alias: entries}, where=where))
            for entry in entries:
                yield alias, entry
        return
    if not isinstance(data, list):
        raise ValueError(Errors.E107.format(entry=data, where=where))
    for record in data:
        if not isinstance(record, Mapping):
            raise ValueError(Errors.E107.format(entry=record, where=where))
        aliases = record.get("aliases", [record["alias"]] if "alias" in record else [])
        if isinstance(aliases, str):
            aliases = [aliases]
        if not aliases:
            raise ValueError(Errors.E107.format(entry=record, where=where))
        entries = record["candidates"] if "candidates" in record else [record]
        for alias in aliases:
            for entry in entries:
                yield alias, entry


def build_alias_table(data: Any, where: str) -> AliasTableData:
    """Normalize a table alias -> [{"id", "name", "description"}] or JSONL records into one
    keyed by `alias_key`, with each entity once per alias (first occurrence wins)."""
    table: AliasTableData = {}
    for alias, entry in _alias_entries(data, where):
        if not isinstance(alias, str) or not alias.strip():
            raise ValueError(Errors.E107.format(entry={"alias": alias}, where=where))
        candidate = _candidate(entry, where)
        bucket = table.setdefault(alias_key(alias), [])
        if all(c["id"] != candidate["id"] for c in bucket):
            bucket.append(candidate)
    return table


class CandidateSource:
    """Base of candidate sources: `candidates(text)` plus serialization of the data."""

    kind = "base"
    # The arguments it was built with from the config (for `components.user_strings.keep_exact`).
    settings: Dict[str, Any] = {}

    def candidates(self, text: str) -> List[Candidate]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> "CandidateSource":
        """Read the configured files now (otherwise on first use)."""
        return self

    def to_disk(self, path: PathLike) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def from_disk(self, path: PathLike) -> "CandidateSource":  # pragma: no cover - abstract
        raise NotImplementedError


class AliasTable(CandidateSource):
    """Candidates from an alias table: alias -> list of {"id", "name", "description"}.

    table (Optional[Mapping]): The table inline (also accepts JSONL-style records). Neither
        `table` nor `path`: an empty table (every mention gets no candidates).
    path (Optional[str]): A .json file holding the table, or a .jsonl file with one record per
        line: {"alias": ..., "candidates": [...]} or {"alias"/"aliases": ..., "id", "name",
        "description"}. Read on first use, not when the pipeline is built.
    """

    kind = "alias_table"

    def __init__(self, table: Optional[Any] = None, path: Optional[PathLike] = None) -> None:
        if table is not None and path is not None:
            raise ValueError(Errors.E108.format(source="spacy-zeroshot.alias_candidates.v1", a="table", b="path"))
        self.settings = {"table": table, "path": path}
        self.path = None if path is None else str(path)
        self._table: Optional[AliasTableData] = None
        if path is None:
            self._table = build_alias_table(table or {}, "the inline table")

    @property
    def table(self) -> AliasTableData:
        if self._table is None:
            assert self.path is not None
            self._table = build_alias_table(_read_records(self.path), self.path)
        return self._table

    def load(self) -> "AliasTable":
        self.table  # noqa: B018 - reads the file
        return self

    def candidates(self, text: str) -> List[Candidate]:
        return [dict(c) for c in self.table.get(alias_key(text), [])]

    def to_disk(self, path: PathLike) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_msgpack(path / "aliases.msgpack", self.table)

    def from_disk(self, path: PathLike) -> "AliasTable":
        self._table = srsly.read_msgpack(Path(path) / "aliases.msgpack")
        return self


def _read_descriptions(data: Any, where: str) -> Dict[str, Dict[str, str]]:
    """id -> {"name", "description"} from {id: description}, {id: {...}} or records with "id"."""
    records: Iterable[Any]
    if isinstance(data, Mapping):
        records = [
            {"id": key, "description": value} if isinstance(value, str) else {"id": key, **value}
            for key, value in data.items()
            if isinstance(value, (str, Mapping))
        ]
        if len(records) != len(data):
            raise ValueError(Errors.E107.format(entry=data, where=where))
    elif isinstance(data, list):
        records = data
    else:
        raise ValueError(Errors.E107.format(entry=data, where=where))
    result: Dict[str, Dict[str, str]] = {}
    for record in records:
        candidate = _candidate(record, where)
        result[candidate["id"]] = {"name": candidate["name"], "description": candidate["description"]}
    return result


class KBCandidates(CandidateSource):
    """Candidate ids from a spaCy knowledge base (`InMemoryLookupKB`), text from a table.

    The KB's aliases give the candidate ids of a mention (exact alias first, else a
    case-insensitive match); the descriptions table gives each id its name and description
    for the hypotheses (an id without an entry is described by the id itself).

    kb (Optional[InMemoryLookupKB]): A KB object (Python API).
    kb_path (Optional[str]): A folder written by `InMemoryLookupKB.to_disk`, read on first use.
    descriptions (Optional[Mapping]): id -> description, or id -> {"name", "description"}.
    descriptions_path (Optional[str]): The same as a .json file, or .jsonl records {"id", ...}.
    """

    kind = "kb"
    KB_DIR = "kb"
    META_FILE = "kb_meta.json"
    DESCRIPTIONS_FILE = "descriptions.msgpack"

    def __init__(
        self,
        kb: Optional[InMemoryLookupKB] = None,
        kb_path: Optional[PathLike] = None,
        descriptions: Optional[Any] = None,
        descriptions_path: Optional[PathLike] = None,
    ) -> None:
        if (kb is None) == (kb_path is None):
            raise ValueError(Errors.E108.format(source="spacy-zeroshot.kb_candidates.v1", a="kb", b="kb_path"))
        if descriptions is not None and descriptions_path is not None:
            raise ValueError(
                Errors.E108.format(source="spacy-zeroshot.kb_candidates.v1", a="descriptions", b="descriptions_path")
            )
        self.settings = {"kb_path": kb_path, "descriptions": descriptions, "descriptions_path": descriptions_path}
        self.kb_path = None if kb_path is None else str(kb_path)
        self.descriptions_path = None if descriptions_path is None else str(descriptions_path)
        self._kb = kb
        self._descriptions = None if descriptions is None else _read_descriptions(descriptions, "descriptions")
        if descriptions is None and descriptions_path is None:
            self._descriptions = {}
        self._lowercase: Optional[Dict[str, List[str]]] = None

    @property
    def kb(self) -> InMemoryLookupKB:
        if self._kb is None:
            assert self.kb_path is not None
            path = Path(self.kb_path)
            if not (path / "contents").is_file():
                raise ValueError(Errors.E106.format(path=path, problem="is not a folder written by InMemoryLookupKB.to_disk"))
            length = srsly.read_json(path / self.META_FILE)["entity_vector_length"] if (path / self.META_FILE).exists() else 1
            kb = InMemoryLookupKB(Vocab(), entity_vector_length=length)
            kb.from_disk(path)
            self._kb = kb
        return self._kb

    @property
    def descriptions(self) -> Dict[str, Dict[str, str]]:
        if self._descriptions is None:
            assert self.descriptions_path is not None
            self._descriptions = _read_descriptions(_read_records(self.descriptions_path), self.descriptions_path)
        return self._descriptions

    def load(self) -> "KBCandidates":
        self.kb  # noqa: B018 - reads the files
        self.descriptions  # noqa: B018
        return self

    def _aliases(self, text: str) -> List[str]:
        if self.kb.contains_alias(text):
            return [text]
        if self._lowercase is None:
            # Built whole, then published: a thread never reads a half-filled index.
            lowercase: Dict[str, List[str]] = {}
            for alias in self.kb.get_alias_strings():
                lowercase.setdefault(alias_key(alias), []).append(alias)
            self._lowercase = lowercase
        return sorted(self._lowercase.get(alias_key(text), []))

    def candidates(self, text: str) -> List[Candidate]:
        result: List[Candidate] = []
        seen = set()
        for alias in self._aliases(text):
            for candidate in self.kb.get_alias_candidates(alias):
                entity = candidate.entity_
                if entity in seen:
                    continue
                seen.add(entity)
                info = self.descriptions.get(entity, {})
                result.append({"id": entity, "name": info.get("name", entity), "description": info.get("description", "")})
        return result

    def to_disk(self, path: PathLike) -> None:
        path = Path(path)
        (path / self.KB_DIR).mkdir(parents=True, exist_ok=True)
        self.kb.to_disk(path / self.KB_DIR)
        srsly.write_json(path / self.KB_DIR / self.META_FILE, {"entity_vector_length": self.kb.entity_vector_length})
        srsly.write_msgpack(path / self.DESCRIPTIONS_FILE, self.descriptions)

    def from_disk(self, path: PathLike) -> "KBCandidates":
        path = Path(path)
        self._kb, self.kb_path, self._lowercase = None, str(path / self.KB_DIR), None
        self.kb  # noqa: B018 - read now: the folder may be a temporary one (from_bytes)
        self._descriptions = srsly.read_msgpack(path / self.DESCRIPTIONS_FILE)
        return self


SOURCES = {AliasTable.kind: AliasTable, KBCandidates.kind: KBCandidates}


def source_from_disk(path: PathLike) -> CandidateSource:
    """Rebuild a source saved by `CandidateSource.to_disk` under `path` (its kind is in "source.json")."""
    path = Path(path)
    kind = srsly.read_json(path / "source.json")["kind"] if (path / "source.json").exists() else None
    if kind == AliasTable.kind:
        return AliasTable(table={}).from_disk(path)
    if kind == KBCandidates.kind:
        return KBCandidates(kb=InMemoryLookupKB(Vocab(), entity_vector_length=1)).from_disk(path)
    raise ValueError(Errors.E110.format(path=path, kind=kind, options=", ".join(SOURCES)))


def source_to_disk(source: CandidateSource, path: PathLike) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    srsly.write_json(path / "source.json", {"kind": source.kind})
    source.to_disk(path)
