"""Load and validate instruction datasets: alpaca (`instruction`/`input`/`output`), chat (`messages`) or plain
completion (`prompt`/`completion`). Conversion, the validation report and splits: `harness.data.prep`.

Files are `.json` (a list of records) or `.jsonl` (one record per line). Every error names the file and the
line where the offending record starts, so a user can jump straight to it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.foundation.errors import InputError
from harness.foundation.textfiles import read_text_file
from harness.measures.metrics import text_language

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # any {{ name }}: a wrong case is caught
ROLES = ("system", "user", "assistant")


class DataError(InputError):
    """A dataset record is malformed; the message starts with `file:line:`."""


class ContextOverflowError(DataError):
    """An input longer than the model's context: `detail` says which and by how much, `remedy` what to do."""

    def __init__(self, detail: str, remedy: str = "shorten or drop that record") -> None:
        super().__init__(f"{detail}; {remedy}")
        self.detail = detail


@dataclass(frozen=True)
class Example:
    """One supervised example: the conversation before the answer, and the answer itself.

    >>> ex = Example(id="q1", messages=(("user", "Hi"),), answer="Hello")
    >>> ex.prompt_text
    'Hi'
    """

    id: str
    messages: tuple[tuple[str, str], ...]
    answer: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def prompt_text(self) -> str:
        """The last user turn, as shown in reports."""
        return next(content for role, content in reversed(self.messages) if role == "user")

    @property
    def language(self) -> str:
        """The record's `lang` tag, or the language of its answer when the data has none."""
        return str(self.meta.get("lang") or text_language(self.answer))


def load_examples(path: str | Path, variables: Mapping[str, str] | None = None) -> list[Example]:
    """Load every record of an alpaca, chat or completion dataset file, filling `{{PLACEHOLDER}}`s from `variables`.

    Raises DataError naming `file:line` for bad JSON, unknown formats, missing or empty fields and
    placeholders with no value.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such dataset file")
    stat = path.stat()
    return list(_parsed(path, stat.st_mtime_ns, stat.st_size, tuple(sorted((variables or {}).items()))))


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, mtime_ns: int, size: int, variables: tuple[tuple[str, str], ...]) -> tuple[Example, ...]:
    """The examples of one version of a file (the modification time and size name the version), parsed once."""
    examples: list[Example] = []
    for line, record in _records(path):
        where = f"{path}:{line}"
        examples.append(_to_example(record, where, dict(variables), default_id=f"{path.stem}-{len(examples)}"))
    if not examples:
        raise DataError(f"{path}: the dataset has no records")
    _check_unique_ids(examples)
    return tuple(examples)


def _records(path: Path) -> list[tuple[int, Any]]:
    """(line, record) pairs of a .json list or a .jsonl file."""
    text = read_text_file(path, DataError, "dataset file")
    if path.suffix == ".jsonl":
        rows = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    rows.append((number, json.loads(raw)))
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: invalid JSON: {err.msg}") from None
        return rows
    if path.suffix != ".json":
        raise DataError(f"{path}: unsupported dataset extension {path.suffix!r} (use .json or .jsonl)")
    return _json_list_records(path, text)


def _json_list_records(path: Path, text: str) -> list[tuple[int, Any]]:
    """Decode a top-level JSON list element by element, keeping the line where each element starts."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected a JSON list of records")
    rows: list[tuple[int, Any]] = []
    pos = _skip_space(text, pos + 1)
    line, counted_to = 1, 0  # line number at `counted_to`, advanced incrementally (linear in the file size)
    while not text.startswith("]", pos):
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
        line, counted_to = line + text.count("\n", counted_to, pos), pos
        rows.append((line, record))
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected ',' or ']' between records")
    return rows


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _to_example(record: Any, where: str, variables: Mapping[str, str], default_id: str) -> Example:
    """Turn one alpaca, chat or completion record into an Example."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    if "messages" in record:
        messages, answer = _chat_turns(record["messages"], where)
    elif "instruction" in record:
        messages, answer = _alpaca_turns(record, where)
    elif "prompt" in record:
        messages, answer = _completion_turns(record, where)
    else:
        raise DataError(f"{where}: unknown record format: expected 'instruction' (alpaca), 'messages' (chat) or "
                        f"'prompt' + 'completion'; keys are {sorted(record)}")
    filled = tuple((role, _fill(text, variables, where)) for role, text in messages)
    meta = {k: v for k, v in record.items() if k not in {"messages", "instruction", "input", "output",
                                                          "system", "history", "id", "prompt", "completion"}}
    return Example(id=str(record.get("id", default_id)), messages=filled,
                   answer=_fill(answer, variables, where), meta=meta, source=where)


def _alpaca_turns(record: dict, where: str) -> tuple[list[tuple[str, str]], str]:
    for key in ("instruction", "output"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise DataError(f"{where}: key {key!r} must be a non-empty string")
    extra = record.get("input") or ""
    if not isinstance(extra, str):
        raise DataError(f"{where}: key 'input' must be a string")
    messages: list[tuple[str, str]] = []
    if record.get("system"):
        messages.append(("system", str(record["system"])))
    for turn in record.get("history") or []:
        if not (isinstance(turn, list) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise DataError(f"{where}: key 'history' must be a list of [question, answer] pairs")
        messages += [("user", turn[0]), ("assistant", turn[1])]
    messages.append(("user", record["instruction"] + ("\n" + extra if extra else "")))
    return messages, record["output"]


def _completion_turns(record: dict, where: str) -> tuple[list[tuple[str, str]], str]:
    for key in ("prompt", "completion"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise DataError(f"{where}: key {key!r} must be a non-empty string")
    return [("user", record["prompt"])], record["completion"]


def _chat_turns(turns: Any, where: str) -> tuple[list[tuple[str, str]], str]:
    if not isinstance(turns, list) or len(turns) < 2:
        raise DataError(f"{where}: key 'messages' must be a list of at least a user and an assistant turn")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise DataError(f"{where}: messages[{i}] needs 'role' in {ROLES} and a string 'content'")
        messages.append((turn["role"], turn["content"]))
    if messages[-1][0] != "assistant":
        raise DataError(f"{where}: the last message must be the assistant's answer")
    return messages[:-1], messages[-1][1]


def _fill(text: str, variables: Mapping[str, str], where: str) -> str:
    """`text` with every `{{NAME}}` replaced by its value; a placeholder with no value (a wrong case, a typo, or a
    file read without variables) is an error naming the record, so no literal placeholder reaches a reference.

    >>> _fill("I am {{NAME}}.", {"NAME": "Aurora"}, "f.json:3")
    'I am Aurora.'
    >>> _fill("I am {{Name}}.", {"NAME": "Aurora"}, "f.json:3")
    Traceback (most recent call last):
    ...
    harness.data.DataError: f.json:3: placeholder {{Name}} has no value (did you mean {{NAME}}?; known: ['NAME'])
    """
    def value(match: re.Match) -> str:
        name = match[1]
        if name in variables:
            return variables[name]
        near = next((known for known in variables if known.lower() == name.lower()), None)
        hint = f"did you mean {{{{{near}}}}}?; " if near else ""
        known = sorted(variables) or "none"
        raise DataError(f"{where}: placeholder {{{{{name}}}}} has no value ({hint}known: {known})")

    return PLACEHOLDER.sub(value, text)


def _check_unique_ids(examples: list[Example]) -> None:
    seen: dict[str, str] = {}
    for ex in examples:
        if ex.id in seen:
            raise DataError(f"{ex.source}: duplicate id {ex.id!r} (first at {seen[ex.id]})")
        seen[ex.id] = ex.source


def load_text_lines(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file (held-out perplexity text, vocabulary sentences)."""
    text = read_text_file(Path(path), DataError, "text file")
    return [line.strip() for line in text.splitlines() if line.strip()]


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
            if not getattr(self, key).strip():
                raise DataError(f"identity config: key {key!r} must be a non-empty string")

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
    """Read an identity TOML file (`name`, `author`, `[base]`, `[others]`); unknown keys are errors."""
    from harness.foundation.compat import tomllib

    path = Path(path)
    try:
        raw = tomllib.loads(read_text_file(path, DataError, "identity config"))
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"{path}: cannot read identity config: {err}") from None
    allowed = {"name", "author", "base", "others", "system_prompt", "prompt_shots", "prompt_seed"}
    if unknown := set(raw) - allowed:
        raise DataError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    base, others = raw.get("base", {}), raw.get("others", {})
    for section, keys, given in (("base", {"name", "author"}, base), ("others", {"names", "authors"}, others)):
        if unknown := set(given) - keys:
            raise DataError(f"{path}: unknown key(s) in [{section}]: {sorted(unknown)}")
    for key in ("prompt_shots", "prompt_seed"):
        _require_whole_number(raw, key, f"{path}")
    try:
        return IdentitySpec(name=raw.get("name", ""), author=raw.get("author", ""),
                            base_name=base.get("name", ""), base_author=base.get("author", ""),
                            other_names=tuple(others.get("names", ())),
                            other_authors=tuple(others.get("authors", ())),
                            system_prompt=str(raw.get("system_prompt", "")),
                            prompt_shots=raw.get("prompt_shots", 0), prompt_seed=raw.get("prompt_seed", 0))
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


@dataclass(frozen=True)
class PromptBaseline:
    """The prompt-only baseline of a task: a system prompt and `shots` worked examples (drawn with `seed` from the
    task's training data, none of its dev items) before every question."""

    system: str = "Answer with the fact only, as in the examples."
    shots: int = 4
    seed: int = 0


def load_prompt_baseline(path: Path, table: str) -> PromptBaseline:
    """Table `[table]` of a prompt-baseline TOML file (`fixtures/prompted.toml`); defaults when the file or table is
    absent; an unknown key or a bad value is an error naming the file, table and key."""
    from harness.foundation.compat import tomllib

    if not path.is_file():
        return PromptBaseline()
    try:
        raw = tomllib.loads(read_text_file(path, DataError, "prompt baseline config")).get(table, {})
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"{path}: cannot read the prompt baseline config: {err}") from None
    known = {"system", "shots", "seed"}
    if unknown := sorted(set(raw) - known):
        raise DataError(f"{path} [{table}]: unknown key(s) {unknown}; known: {sorted(known)}")
    _require_whole_number(raw, "shots", f"{path} [{table}]")
    return PromptBaseline(**raw)


def _require_whole_number(raw: dict, key: str, where: str) -> None:
    """A DataError naming `where` and `key` unless `raw[key]` (when given) is a whole number >= 0."""
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: key {key!r} must be a whole number >= 0, got {value!r}")

