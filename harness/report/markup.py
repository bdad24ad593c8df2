"""The HTML building blocks every report part shares: an escaped cell, a table that scrolls in its own box, a
count with its noun, element ids, paths relative to the run's folder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any


def cell(value: object, cls: str = "") -> str:
    """One escaped `<td>`, with a class (`num`, `pass`, `fail`, `mono`) when given (quotes left as they are: in
    element text they need no escape, and a report holds thousands of model answers)."""
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(str(value), quote=False)}</td>"


def table(headers: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    """A table in a box that scrolls sideways on a narrow screen instead of widening the page."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    attr = f" class='{cls}'" if cls else ""
    return (f"<div class='scroll'><table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>")


def plural(count: int, noun: str) -> str:
    """`1 breakdown figure`, `3 breakdown figures`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def anchor(prefix: str, name: str) -> str:
    """An element id from any name: `gate-old_task.exact_match`, brackets and spaces as dashes."""
    return prefix + "-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def run_root(record: Any) -> str:
    """The folder the run was started from (`run.config.rootdir`), '' when not recorded."""
    return str((record.run.config or {}).get("rootdir", ""))


def relative(text: str, root: str) -> str:
    """`text` with the run's folder `root` left off paths under it (`fixtures/...`, not `/home/...`)."""
    return text.replace(root.rstrip("/") + "/", "") if root and root != "/" else text
