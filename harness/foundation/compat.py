"""Compatibility: `tomllib` is in the standard library from Python 3.11; `tomli` provides it on 3.10."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
