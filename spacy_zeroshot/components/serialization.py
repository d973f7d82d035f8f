"""Bytes serialization for components whose data lives in a folder (model files, KBs).

`to_bytes` packs what `to_disk` writes into one msgpack dict {relative path: bytes}, and
`from_bytes` unpacks it into a temporary folder for `from_disk`, so each component writes its
data one way only.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import srsly

ToDisk = Callable[..., None]
FromDisk = Callable[..., object]


def folder_to_bytes(to_disk: ToDisk, exclude: Iterable[str]) -> bytes:
    """Run `to_disk` into a temporary folder and pack every file it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        to_disk(tmp, exclude=exclude)
        files = {str(p.relative_to(tmp)): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
    return srsly.msgpack_dumps(files)


def folder_from_bytes(bytes_data: bytes, from_disk: FromDisk, exclude: Iterable[str]) -> None:
    """Unpack files packed by `folder_to_bytes` into a temporary folder and run `from_disk` on it."""
    files = srsly.msgpack_loads(bytes_data)
    tmp = tempfile.mkdtemp()
    try:
        for rel, data in files.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        from_disk(tmp, exclude=exclude)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
