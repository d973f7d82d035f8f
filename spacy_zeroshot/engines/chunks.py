"""Crash-safe output of an annotation run: numbered chunks, atomic renames, resume.

A run writes its output in chunks to `<first output>.parts/`. Each chunk's data files are
written to a temporary name, flushed to disk and renamed into place; its `.json` record
(counts, skipped records) is written last the same way and marks the chunk complete. An
interrupted run (even SIGKILL) leaves complete chunks plus, at worst, temporary files; a
resumed run keeps the longest complete prefix, skips the records it covers, and continues.
At the end the chunks are joined into the final files (again through atomic renames) and
the parts folder is removed.
"""

import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc, DocBin

from ..errors import Errors

STATE_FILE = "run.json"
OUTPUT_SUFFIXES = (".spacy", ".jsonl")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_outputs(outputs: Sequence[Path]) -> List[Path]:
    """Validate the output paths: .spacy and/or .jsonl, at most one of each."""
    outputs = [Path(p) for p in outputs]
    suffixes = [p.suffix for p in outputs]
    for path in outputs:
        if path.suffix not in OUTPUT_SUFFIXES:
            raise ValueError(Errors.E203.format(path=path, suffixes=", ".join(OUTPUT_SUFFIXES)))
    if len(set(suffixes)) != len(suffixes):
        raise ValueError(Errors.E204.format(outputs=[str(p) for p in outputs]))
    return outputs


class ChunkStore:
    """The parts folder of one run.

    outputs (Sequence[Path]): The final output files (.spacy and/or .jsonl).
    fingerprint (Dict[str, Any]): What defines the run (pipeline, inputs, settings); a
        resumed run must match it exactly, so that its output equals an uninterrupted run's.
    """

    def __init__(self, outputs: Sequence[Path], fingerprint: Dict[str, Any]) -> None:
        self.outputs = list(outputs)
        self.fingerprint = fingerprint
        first = self.outputs[0]
        self.path = first.with_name(first.name + ".parts")

    @property
    def exists(self) -> bool:
        return (self.path / STATE_FILE).exists()

    def start(self, resume: bool) -> int:
        """Prepare the folder; returns how many chunks are already complete (0 for a new run).

        Only the longest complete prefix is kept: the local engine writes chunks in order.
        """
        if not self._open(resume):
            return 0
        done = 0
        while self.is_complete(done):
            done += 1
        self._remove_from(done)
        return done

    def start_any(self, resume: bool) -> List[int]:
        """Prepare the folder; returns the numbers of all complete chunks, in order.

        For engines whose chunks finish in any order: every complete chunk is kept, and
        whatever else an interrupted run left (temporary files, data without its record) is removed.
        """
        if not self._open(resume):
            return []
        paths = list(self.path.iterdir())
        complete = sorted({n for n in map(_chunk_number, paths) if n is not None and self.is_complete(n)})
        for path in paths:
            number = _chunk_number(path)
            if path.name != STATE_FILE and (number is None or number not in complete or path.name.endswith(".tmp")):
                path.unlink()
        return complete

    def _open(self, resume: bool) -> bool:
        """Create the folder of a new run (False), or check the saved run's fingerprint (True)."""
        if self.path.exists() and not resume:
            raise ValueError(Errors.E205.format(path=self.path))
        if not self.exists:
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            atomic_write(self.path / STATE_FILE, _dumps(self.fingerprint))
            return False
        saved = json.loads((self.path / STATE_FILE).read_text(encoding="utf8"))
        if saved != self.fingerprint:
            keys = sorted(k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k))
            raise ValueError(Errors.E206.format(path=self.path, keys=", ".join(keys)))
        return True

    def completed_records(self, chunks: Union[int, Iterable[int]]) -> List[Dict[str, Any]]:
        """The `.json` records of the first `chunks` chunks (an int), or of the chunks numbered so."""
        numbers = range(chunks) if isinstance(chunks, int) else chunks
        return [json.loads(self._file(i, ".json").read_text(encoding="utf8")) for i in numbers]

    def write(self, number: int, docs: Sequence[Doc], rows: Sequence[Dict[str, Any]], info: Dict[str, Any]) -> None:
        """Write chunk `number`: its docs, their review rows, and last its record `info`."""
        self.write_files(number, chunk_files([o.suffix for o in self.outputs], docs, rows), info)

    def write_files(self, number: int, files: Dict[str, bytes], info: Dict[str, Any]) -> None:
        """Write chunk `number` from its serialized data files ({suffix: bytes}, see
        `chunk_files`), and last its record `info`, which marks it complete."""
        for output in self.outputs:
            atomic_write(self._file(number, output.suffix), files[output.suffix])
        atomic_write(self._file(number, ".json"), _dumps(info))

    def assemble(self, n_chunks: int) -> None:
        """Join the chunks into the final outputs, then remove the parts folder."""
        for output in self.outputs:
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp = output.with_name(output.name + ".tmp")
            if output.suffix == ".spacy":
                merged = DocBin(store_user_data=True)
                for i in range(n_chunks):
                    merged.merge(DocBin(store_user_data=True).from_disk(self._file(i, ".spacy")))
                merged.to_disk(tmp)
            else:
                with tmp.open("wb") as out:
                    for i in range(n_chunks):
                        with self._file(i, ".jsonl").open("rb") as part:
                            shutil.copyfileobj(part, out)
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, output)
        shutil.rmtree(self.path)

    def _file(self, number: int, suffix: str) -> Path:
        return self.path / f"chunk-{number:06d}{suffix}"

    def is_complete(self, number: int) -> bool:
        """Whether chunk `number` has its record and every data file."""
        files: Iterable[Path] = [self._file(number, ".json")] + [self._file(number, o.suffix) for o in self.outputs]
        return all(f.exists() for f in files)

    def _remove_from(self, number: int) -> None:
        """Delete what an interrupted run left after the complete prefix (temporary files too)."""
        for path in self.path.iterdir():
            if path.name == STATE_FILE:
                continue
            stem = path.name.split(".", 1)[0]
            if not stem.startswith("chunk-") or int(stem[6:]) >= number or path.name.endswith(".tmp"):
                path.unlink()


def chunk_files(suffixes: Sequence[str], docs: Sequence[Doc], rows: Sequence[Dict[str, Any]]) -> Dict[str, bytes]:
    """A chunk's data files as bytes, for the output formats named by `suffixes`: a DocBin with
    user data (".spacy") and/or one JSON review record per line (".jsonl")."""
    files: Dict[str, bytes] = {}
    for suffix in suffixes:
        if suffix == ".spacy":
            files[suffix] = DocBin(store_user_data=True, docs=docs).to_bytes()
        else:
            files[suffix] = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf8")
    return files


def _chunk_number(path: Path) -> Optional[int]:
    stem = path.name.split(".", 1)[0]
    return int(stem[6:]) if stem.startswith("chunk-") and stem[6:].isdigit() else None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, indent=1, sort_keys=True).encode("utf8")
