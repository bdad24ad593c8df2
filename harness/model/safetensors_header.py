"""The header of a safetensors file, read and checked without torch.

A safetensors file is an 8-byte header length, a JSON header (name -> dtype, shape, byte range) and the data.
Reading the header gives every tensor's shape and tells a damaged file from a whole one in microseconds: a header
that is not a JSON object, a tensor of an unknown dtype, a shape that is not a list of whole numbers, a byte range
that does not hold the shape's bytes, or one reaching past the end of the file (a truncated copy). Each is a
`ModelFolderError` naming the file and the tensor.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import TypeGuard

from harness.foundation.errors import ModelFolderError
from harness.foundation.values import is_whole

# bits per element of every dtype safetensors writes (its Rust `Dtype`), sub-byte float formats included
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
              "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
              "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64, "C64": 64}
_AGAIN = "copy or download it again"


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in a safetensors file; a ModelFolderError naming the file (and tensor) when it is
    truncated or its header is not a whole safetensors header."""
    length, raw, size = _read_header(path)
    tensors = _tensor_entries(path, raw)
    _check_layout(path, tensors, size - 8 - length)
    return {k: tuple(v["shape"]) for k, v in tensors.items()}


def _tensor_entries(path: Path, raw: bytes) -> dict[str, dict]:
    """The header's tensor entries, each checked (`_check_entry`); its `__metadata__` an object of strings."""
    try:
        header = json.loads(raw)
    except ValueError as err:
        raise ModelFolderError(f"{path}: not a safetensors file (unreadable header: {err}); {_AGAIN}") from err
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: not a safetensors file: its header is a {type(header).__name__}, not a "
                               f"JSON object of tensors; {_AGAIN}")
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise ModelFolderError(f"{path}: header key '__metadata__' must be an object of strings, got {metadata!r}; "
                               f"{_AGAIN}")
    for name, entry in header.items():
        _check_entry(path, name, entry)
    return header


def _check_layout(path: Path, tensors: dict[str, dict], data: int) -> None:
    """The checked entries' byte ranges lie in the file's `data` bytes, each holds its shape, and together they
    cover the data without overlap or gap (as safetensors requires; an overlap is named before a gap)."""
    if tensors:
        last = max(tensors, key=lambda k: tensors[k]["data_offsets"][1])
        if (end := tensors[last]["data_offsets"][1]) > data:
            raise ModelFolderError(f"{path}: truncated: tensor {last!r} ends at byte {end:,} of the data, the file "
                                   f"holds {data:,} bytes of data; {_AGAIN}")
    covered, previous, gap = 0, "", ""
    for name, entry in sorted(tensors.items(), key=lambda item: item[1]["data_offsets"]):
        _check_span(path, name, entry)
        begin, end = entry["data_offsets"]
        if begin < covered:
            raise ModelFolderError(f"{path}: tensor {name!r}: data_offsets {[begin, end]} overlap those of tensor "
                                   f"{previous!r} (up to byte {covered:,}); {_AGAIN}")
        gap = gap or (f"{path}: tensor {name!r}: data_offsets {[begin, end]} leave a gap after byte {covered:,}; "
                      f"{_AGAIN}" if begin > covered else "")
        covered, previous = end, name
    if gap:
        raise ModelFolderError(gap)
    if covered != data:
        raise ModelFolderError(f"{path}: {data - covered:,} bytes after the last tensor's data: not a whole "
                               f"safetensors file; {_AGAIN}")


def _read_header(path: Path) -> tuple[int, bytes, int]:
    """The header's declared length, its bytes and the file's size."""
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size < 8:
                raise ModelFolderError(f"{path}: truncated ({size} bytes; a safetensors file starts with an 8-byte "
                                       "header length)")
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size - 8:
                raise ModelFolderError(f"{path}: truncated or not safetensors (header of {length} bytes, file of "
                                       f"{size}); {_AGAIN}")
            return length, handle.read(length), size
    except OSError as err:
        raise ModelFolderError(f"{path}: cannot read: {err.strerror or err}") from err


def _check_entry(path: Path, name: str, entry: object) -> None:
    """One tensor's header entry: a known dtype, a shape of whole numbers and a byte range."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(entry, dict):
        raise ModelFolderError(f"{where}: header entry is {entry!r}, expected an object with dtype, shape and "
                               f"data_offsets; {_AGAIN}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise ModelFolderError(f"{where}: dtype {dtype!r} is not a safetensors dtype ({', '.join(DTYPE_BITS)}); "
                               f"{_AGAIN}")
    if not _whole_numbers(shape):
        raise ModelFolderError(f"{where}: shape {shape!r} is not a list of whole numbers; {_AGAIN}")
    if not (_whole_numbers(offsets) and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise ModelFolderError(f"{where}: data_offsets {offsets!r} is not a [begin, end] byte range; {_AGAIN}")


def _check_span(path: Path, name: str, entry: dict) -> None:
    """A checked entry's byte range holds exactly its shape's elements of its dtype."""
    (begin, end), needed = entry["data_offsets"], math.prod(entry["shape"]) * DTYPE_BITS[entry["dtype"]]
    if needed != 8 * (end - begin):
        raise ModelFolderError(f"{path}: tensor {name!r}: data_offsets {[begin, end]} span {end - begin:,} bytes, its "
                               f"shape {entry['shape']} of {entry['dtype']} takes {needed / 8:,g}; {_AGAIN}")


def _whole_numbers(value: object) -> TypeGuard[list[int]]:
    """Whether `value` is a list of non-negative integers (booleans excluded)."""
    return isinstance(value, list) and all(is_whole(v) and v >= 0 for v in value)
