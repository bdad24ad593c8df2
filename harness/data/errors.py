"""The data layer's errors: `DataError` for every data-folder document (datasets, identity, prompt baselines), and
`ContextOverflowError` for an input longer than the model's context."""

from __future__ import annotations

from harness.foundation.errors import InputError


class DataError(InputError):
    """A data-folder document is malformed; the message starts with the file (and line, table or key)."""


class ContextOverflowError(DataError):
    """An input longer than the model's context: `detail` says which and by how much, `remedy` what to do."""

    def __init__(self, detail: str, remedy: str = "shorten or drop that record") -> None:
        super().__init__(f"{detail}; {remedy}")
        self.detail = detail
