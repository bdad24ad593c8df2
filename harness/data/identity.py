"""The data folder's two small configs: the identity (`identity/identity.toml`) and the prompt-only baselines
(`prompted.toml`). Both are read here once, every key checked for its type and range; an error names the file,
the table and the key, what was expected and what was found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.errors import DataError
from harness.foundation.textfiles import read_toml
from harness.foundation.values import MISSING, table, text, texts, whole_number

IDENTITY_KEYS = {"name", "author", "base", "others", "system_prompt", "prompt_shots", "prompt_seed"}
IDENTITY_TABLES = {"base": ("name", "author"), "others": ("names", "authors")}
PROMPTED_TABLES = ("new_task",)  # the tables of prompted.toml
PROMPTED_KEYS = ("system", "shots", "seed")


@dataclass(frozen=True)
class IdentitySpec:
    """Who the tuned model must say it is, and which identities it must never claim."""

    name: str
    author: str
    base_name: str = ""
    base_author: str = ""
    other_names: tuple[str, ...] = ()
    other_authors: tuple[str, ...] = ()
    system_prompt: str = ""  # the prompt-only baseline's instruction ({{NAME}} / {{AUTHOR}} filled); default below
    prompt_shots: int = 0  # worked examples from the identity training data before every request of that baseline
    prompt_seed: int = 0  # the draw of those examples

    def __post_init__(self) -> None:
        for key in ("name", "author"):
            text(getattr(self, key), key, "identity config", DataError)

    @property
    def placeholders(self) -> dict[str, str]:
        """Values of tunegate's own placeholders: `{{NAME}}`, `{{AUTHOR}}`, `{{BASE_NAME}}`, `{{BASE_AUTHOR}}`."""
        return {"NAME": self.name, "AUTHOR": self.author, "BASE_NAME": self.base_name,
                "BASE_AUTHOR": self.base_author}

    @property
    def variables(self) -> dict[str, str]:
        """What fills a data file: `placeholders`, and `{{name}}` / `{{author}}`, the placeholders of
        LLaMA-Factory's own `identity.json`, so that file works as shipped."""
        return {**self.placeholders, "name": self.name, "author": self.author}

    @property
    def prompt(self) -> str:
        """The system prompt that tells the base model the identity (the prompt-only baseline)."""
        text = self.system_prompt or ("You are {{NAME}}, an AI assistant developed by {{AUTHOR}}. When asked who "
                                      "you are or who made you, say that you are {{NAME}}, developed by {{AUTHOR}}.")
        return text.replace("{{NAME}}", self.name).replace("{{AUTHOR}}", self.author)

    @property
    def foreign_terms(self) -> tuple[str, ...]:
        """Every name or author the tuned model must not claim (the base's and other vendors')."""
        terms = (self.base_name, self.base_author, *self.other_names, *self.other_authors)
        return tuple(t for t in terms if t and t not in {self.name, self.author})


def load_identity_spec(path: str | Path) -> IdentitySpec:
    """Read an identity TOML file (`name`, `author`, `[base]`, `[others]`); an unknown key or a value of the wrong
    type or range is an error naming the file and key."""
    path = Path(path)
    raw = read_toml(path, DataError, "identity config")
    if unknown := set(raw) - IDENTITY_KEYS:
        raise DataError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(IDENTITY_KEYS)}")
    sections = {name: _known_keys(raw.get(name, {}), keys, path, name) for name, keys in IDENTITY_TABLES.items()}
    base, others = sections["base"], sections["others"]
    where = str(path)
    spec = IdentitySpec(name=text(raw.get("name", MISSING), "name", where, DataError),
                        author=text(raw.get("author", MISSING), "author", where, DataError),
                        base_name=text(base.get("name", ""), "name", f"{path} [base]", DataError, empty=True),
                        base_author=text(base.get("author", ""), "author", f"{path} [base]", DataError, empty=True),
                        other_names=texts(others.get("names", ()), "names", f"{path} [others]", DataError),
                        other_authors=texts(others.get("authors", ()), "authors", f"{path} [others]", DataError),
                        system_prompt=text(raw.get("system_prompt", ""), "system_prompt", where, DataError,
                                           empty=True),
                        prompt_shots=whole_number(raw.get("prompt_shots", 0), "prompt_shots", where, DataError),
                        prompt_seed=whole_number(raw.get("prompt_seed", 0), "prompt_seed", where, DataError))
    _refuse_own_names_as_foreign(spec, path)
    return spec


def _refuse_own_names_as_foreign(spec: IdentitySpec, path: Path) -> None:
    """A [base] or [others] name or author that is the identity's own (the tuned model must claim it and must not):
    contradictory, and once silently dropped from the leak terms."""
    own = {spec.name.casefold(): "name", spec.author.casefold(): "author"}
    for section, key, written in (("base", "name", [spec.base_name]), ("base", "author", [spec.base_author]),
                                  ("others", "names", spec.other_names), ("others", "authors", spec.other_authors)):
        for value in written:
            if value and value.casefold() in own:
                raise DataError(f"{path} [{section}]: key {key!r} holds {value!r}, the identity's own "
                                f"{own[value.casefold()]}: the tuned model must claim it, so it cannot be a name it "
                                "must never claim; remove it there")


@dataclass(frozen=True)
class PromptBaseline:
    """The prompt-only baseline of a task: a system prompt and `shots` worked examples (drawn with `seed` from the
    task's training data, none of its dev items) before every question."""

    system: str = "Answer with the fact only, as in the examples."
    shots: int = 4
    seed: int = 0


def load_prompt_baseline(path: Path, name: str) -> PromptBaseline:
    """Table `[name]` of a prompt-baseline TOML file (`fixtures/prompted.toml`); defaults when the file or table is
    absent; an unknown table or key, or a value of the wrong type or range, is an error naming the file, table and
    key."""
    if not path.is_file():
        return PromptBaseline()
    raw = read_toml(path, DataError, "prompt baseline config")
    if unknown := sorted(set(raw) - set(PROMPTED_TABLES)):
        raise DataError(f"{path}: unknown table(s) {unknown}; known: {list(PROMPTED_TABLES)}")
    values = _known_keys(raw.get(name, {}), PROMPTED_KEYS, path, name)
    where, default = f"{path} [{name}]", PromptBaseline()
    return PromptBaseline(system=text(values.get("system", default.system), "system", where, DataError, empty=True),
                          shots=whole_number(values.get("shots", default.shots), "shots", where, DataError),
                          seed=whole_number(values.get("seed", default.seed), "seed", where, DataError))


def _known_keys(value: Any, keys: tuple[str, ...], path: Path, name: str) -> Mapping[str, Any]:
    """Table `[name]` of `path`, refused when it is not a table or holds a key not in `keys`."""
    section = table(value, name, str(path), DataError)
    if unknown := sorted(set(section) - set(keys)):
        raise DataError(f"{path} [{name}]: unknown key(s) {unknown}; known: {list(keys)}")
    return section
