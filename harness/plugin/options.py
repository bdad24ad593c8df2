"""How a tunegate option is declared: once, as a `Settings` field (`option(...)`, like peft's `LoraConfig`
fields carry their help), and everything else derived from that field: the pytest option, the mapping from
the command line to the field's value, the per-option check and the table in docs/options.md.

Light on purpose, like `harness.plugin.settings`: no torch until a run uses tunegate.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TABLE_START, TABLE_END = "<!-- options:start -->", "<!-- options:end -->"
SAME = object()  # `option(value=SAME)`: the field's default is the pytest default
REQUIRED = object()  # `option(value=REQUIRED)`: the field has no default (it depends on the rootdir)


@dataclass(frozen=True)
class Given:
    """What a converter reads: the rootdir and every option's value as pytest parsed it (by field name)."""

    rootdir: Path
    values: Mapping[str, Any]

    def in_rootdir(self, value: str) -> Path:
        """A path taken from the rootdir when relative (as every path of a pytest.ini's addopts is), made absolute
        without following symbolic links: a link is written through as the user meant it, and a dangling one is
        named, not silently replaced by its target's tree."""
        return Path(os.path.abspath(self.rootdir / value))


Convert = Callable[[Any, Given], Any]
Check = Callable[[str, Any], "str | None"]


@dataclass(frozen=True)
class Option:
    """One command-line option: its pytest registration, its conversion to the field's value, its check (a
    message naming the flag, or None) and its row of the docs table (`doc` when the docs say more than --help,
    `shown` when the default is not the pytest value, `metavar` for the value's name there)."""

    flag: str
    help: str
    default: Any = None
    parse: Callable[[str], Any] | None = None  # argparse `type`; None: the text as given
    choices: tuple[str, ...] | None = None
    switch: bool = False  # a flag without a value (store_true)
    path: bool = False  # takes a path: `--flag PATH` outside the repository must be written `--flag=PATH`
    convert: Convert | None = None  # None: the parsed value is the field's value
    check: Check | None = None
    metavar: str = ""
    shown: str = ""
    doc: str = ""

    @property
    def dest(self) -> str:
        """The name pytest stores the value under (`config.getoption`)."""
        return self.flag.lstrip("-").replace("-", "_")

    def register(self, group: pytest.OptionGroup) -> None:
        """Add this option to pytest's parser."""
        if self.switch:
            group.addoption(self.flag, action="store_true", default=self.default, help=self.help)
            return
        extra = {"type": self.parse} if self.parse else {}
        group.addoption(self.flag, default=self.default, choices=self.choices, help=self.help, **extra)

    def row(self) -> str:
        """This option's line of the docs table: usage, default, meaning."""
        value = "|".join(self.choices) if self.choices and not self.metavar else self.metavar
        usage = f"`{self.flag} {value}`" if value else f"`{self.flag}`"
        default = self.shown or ("off" if self.switch else "—" if self.default is None else f"`{self.default}`")
        cells = (usage, default, self.doc or self.help)
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def option(flag: str, help: str, *, value: Any = SAME, **declared: Any) -> Any:
    """A dataclass field declaring the option `flag` (the rest as `Option`'s attributes); `value` is the
    field's default when the class is built directly (SAME: the pytest default; REQUIRED: none)."""
    spec = Option(flag, help, **declared)
    default = spec.default if value is SAME else value
    if default is REQUIRED:
        return dataclasses.field(metadata={"option": spec})
    return dataclasses.field(default=default, metadata={"option": spec})


def declared(cls: type) -> Iterator[tuple[str, Option]]:
    """The (field name, option) pairs of a dataclass, in declaration order; fields without a flag left out."""
    for item in dataclasses.fields(cls):
        if "option" in item.metadata:
            yield item.name, item.metadata["option"]


def values(cls: type, config: pytest.Config) -> dict[str, Any]:
    """The field values the command line gives: each option's value converted (relative paths against the
    rootdir, names to files); keyword arguments for `cls` besides the fields that have no flag."""
    specs = dict(declared(cls))
    given = Given(Path(config.rootpath), {name: config.getoption(spec.dest) for name, spec in specs.items()})
    for name, spec in specs.items():
        refuse_empty(spec.flag, given.values[name])
    return {name: spec.convert(given.values[name], given) if spec.convert else given.values[name]
            for name, spec in specs.items()}


def refuse_empty(flag: str, value: Any) -> None:
    """Raise ValueError for a value given empty or blank: what `--adapter="$CKPT"` passes when the variable is
    unset. Read as "not given", it would quietly run without the adapter, or write reports into the rootdir."""
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{flag} {value!r}: the value is empty (an unset variable, as in {flag}=\"$NAME\"?); give "
                         "a value, or leave the option out")


def check_values(instance: Any) -> None:
    """Raise ValueError with the first declared option whose value its check rejects."""
    for name, spec in declared(type(instance)):
        if spec.check and (problem := spec.check(spec.flag, getattr(instance, name))):
            raise ValueError(problem)


def options_table(cls: type) -> str:
    """The markdown table of docs/options.md: one row per declared option."""
    rows = [spec.row() for _, spec in declared(cls)]
    return "\n".join(["| option | default | meaning |", "|---|---|---|", *rows])


def page_table(page: Path) -> str:
    """The table between the markers of docs/options.md, as written there."""
    return _split(page.read_text(encoding="utf-8"))[1]


def rewrite_table(page: Path, table: str) -> bool:
    """Replace the marked table of `page` by `table`; whether the page changed."""
    text = page.read_text(encoding="utf-8")
    head, current, tail = _split(text)
    if current == table:
        return False
    page.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}", encoding="utf-8")
    return True


def _split(text: str) -> tuple[str, str, str]:
    """Text before the start marker, the table between the markers (stripped), text after the end marker."""
    head, rest = text.split(TABLE_START, 1)
    table, tail = rest.split(TABLE_END, 1)
    return head, table.strip("\n"), tail
