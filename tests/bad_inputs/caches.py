"""Caches: the request cache, the answer and model caches."""

from __future__ import annotations

from tests.bad_inputs.project import BadInput, file_option

TITLE = "caches"


CASES = [
    BadInput("request-cache-not-sqlite", "--request-cache naming a file that is not an SQLite database",
             lambda p: ((p.root / "answers.sqlite").write_text("notes, not a database\n"),
                        ["--request-cache", str(p.root / "answers.sqlite")])[1],
             ("--request-cache", "answers.sqlite", "not an SQLite database")),
    BadInput("cache-dir-file", "--cache-dir naming a file", file_option("cache-file", "x", "--cache-dir"),
             ("--cache-dir", "cache-file", "is a file, expected a folder")),
]
