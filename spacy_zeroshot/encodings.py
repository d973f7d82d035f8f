"""Reading the user's text files: UTF-8, with or without a byte-order mark.

Windows tools often start a UTF-8 file with a byte-order mark (U+FEFF). Read as plain UTF-8, it
stays glued to the first word of the first record, so rules and aliases no longer match it;
every reader of the library therefore reads "utf-8-sig" (the mark is dropped at the start of a
file only). UTF-16 and UTF-32 files, recognised by their byte-order marks, are refused with a
numbered error: decoded as UTF-8 line by line they would give text full of NUL characters.
"""

import codecs
from pathlib import Path
from typing import Optional, Tuple, Union

from .errors import Errors

# UTF-32 first: its little-endian mark starts with UTF-16's.
_OTHER_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def check_utf8_file(path: Union[str, Path], what: str) -> None:
    """Raise [E210] when the file starts with a UTF-16 or UTF-32 byte-order mark.

    path (Union[str, Path]): The file.
    what (str): What the file is, for the message (e.g. "input file").
    """
    with Path(path).open("rb") as f:
        head = f.read(4)
    for mark, encoding in _OTHER_ENCODINGS:
        if head.startswith(mark):
            raise ValueError(Errors.E210.format(what=what, path=path, encoding=encoding))


def strip_bom(first_line: bytes) -> bytes:
    """The first line of a file without a UTF-8 byte-order mark (what "utf-8-sig" drops)."""
    return first_line[len(codecs.BOM_UTF8) :] if first_line.startswith(codecs.BOM_UTF8) else first_line


def decode_line(raw: bytes) -> Tuple[Optional[str], Optional[str]]:
    """One line of a UTF-8 file as text.

    raw (bytes): The line's bytes (the first line of a file through `strip_bom`).
    RETURNS (Tuple[Optional[str], Optional[str]]): (text, None), or (None, what is wrong).
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"not valid UTF-8 ({err.reason} at byte {err.start + 1} of the line)"


def read_utf8(path: Union[str, Path], what: str) -> str:
    """A whole UTF-8 file as text (byte-order mark dropped).

    RAISES ValueError: [E210] for UTF-16/32; [E211] for invalid UTF-8, naming the line.
    """
    check_utf8_file(path, what)
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line, column = error_position(data, err)
        raise ValueError(
            Errors.E211.format(what=what, path=path, line=line, column=column, reason=err.reason)
        ) from None


def error_position(data: bytes, err: UnicodeDecodeError) -> Tuple[int, int]:
    """Where in `data` decoding failed, as editors count: (line, byte of that line), from 1."""
    line = data.count(b"\n", 0, err.start) + 1
    column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
    return line, column
