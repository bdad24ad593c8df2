"""Reading the text files users hand in (datasets, gate and recipe configs, identity files, baselines) one way,
and the TOML ones parsed one way (`read_toml`).

UTF-8, with or without a byte-order mark (editors on Windows add one; it is accepted, not an error). Anything
else is an error of the caller's boundary type that names the file, what is wrong and what to do, instead of a
bare `UnicodeDecodeError` or `IsADirectoryError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def read_text_file(path: Path, error: type[Exception], what: str = "file") -> str:
    """The text of `path` (UTF-8, a leading BOM dropped); `error(message)` when it is missing, a folder, unreadable
    or not UTF-8, the message naming the file and, for bad bytes, the offset of the first one.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "bom.json"), "wb") as f:
    ...     _ = f.write(b"\\xef\\xbb\\xbf[1]")
    >>> read_text_file(Path(folder) / "bom.json", ValueError)
    '[1]'
    >>> with open(os.path.join(folder, "latin.json"), "wb") as f:
    ...     _ = f.write(b'["caf\\xe9"]')
    >>> read_text_file(Path(folder) / "latin.json", ValueError)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../latin.json: not UTF-8 text (byte 0xe9 at offset 5); save the file as UTF-8
    """
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a {what}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {dangling_link(path) or f'no such {what}'}") from None
    except OSError as err:
        raise error(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if err.reason == "unexpected end of data":  # a multi-byte character cut off: truncated, not mis-encoded
            raise error(f"{path}: ends in the middle of a UTF-8 character (byte 0x{data[err.start]:02x} at offset "
                        f"{err.start} of {len(data)}): the file looks cut short; restore it whole") from None
        raise error(f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); save the file "
                    "as UTF-8") from None


def read_toml(path: Path, error: type[Exception], what: str = "TOML file") -> dict[str, Any]:
    """The TOML document of `path` (read as `read_text_file` reads it); `error(message)` naming the file when it is
    not TOML, or nests arrays or tables deeper than the parser follows (it recurses: a RecursionError otherwise).

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "deep.toml"), "w") as f:
    ...     _ = f.write("a = " + "[" * 50_000 + "]" * 50_000)
    >>> read_toml(Path(folder) / "deep.toml", ValueError)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../deep.toml: not valid TOML (arrays or tables nested too deeply to read)
    """
    from harness.foundation.compat import tomllib

    text = read_text_file(path, error, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML ({err})") from None
    except RecursionError:
        raise error(f"{path}: not valid TOML (arrays or tables nested too deeply to read)") from None


def dangling_link(path: Path) -> str | None:
    """'a symbolic link to TARGET, which does not exist' when `path` is a link whose target is missing, else None
    (what a message names instead of "not found", and why nothing is created through it)."""
    if path.is_symlink() and not path.exists():
        return f"a symbolic link to {os.readlink(path)}, which does not exist"
    return None
