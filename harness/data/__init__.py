"""Load and validate instruction datasets: alpaca (`instruction`/`input`/`output`), chat (`messages`) or plain
completion (`prompt`/`completion`). Conversion, the validation report and splits: `harness.data.prep`.

Files are `.json` (a list of records) or `.jsonl` (one record per line). Every field is checked for its type:
the turns are strings (an alpaca `input` or `system`, and `history`, may be null: read as absent), an `id` is a
string or a whole number, `lang` and `category` are strings. Every error names the file and the line where the
offending record starts, so a user can jump straight to it.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.errors import ContextOverflowError, DataError
from harness.data.identity import IdentitySpec, PromptBaseline, load_identity_spec, load_prompt_baseline
from harness.foundation import values
from harness.foundation.textfiles import read_text_file
from harness.foundation.values import MISSING, described
from harness.measures.metrics import text_language

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # any {{ name }}: a wrong case is caught
ROLES = ("system", "user", "assistant")
META_TEXT = ("lang", "category")  # fields beside the turns that are read as text
SURROGATE = re.compile("[\ud800-\udfff]")


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
                except RecursionError:
                    raise DataError(_too_deep(path, number)) from None
        return rows
    if path.suffix != ".json":
        raise DataError(f"{path}: unsupported dataset extension {path.suffix!r} (use .json or .jsonl)")
    return _json_list_records(path, text)


def _json_list_records(path: Path, text: str) -> list[tuple[int, Any]]:
    """Decode a top-level JSON list element by element, keeping the line where each element starts."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected a JSON list of records, got "
                        f"{_json_kind(text[pos:pos + 1])} (a .jsonl file holds one record per line)")
    rows: list[tuple[int, Any]] = []
    pos = _skip_space(text, pos + 1)
    line, counted_to = 1, 0  # line number at `counted_to`, advanced incrementally (linear in the file size)
    while not text.startswith("]", pos):
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
        except RecursionError:
            raise DataError(_too_deep(path, text.count("\n", 0, pos) + 1)) from None
        line, counted_to = line + text.count("\n", counted_to, pos), pos
        rows.append((line, record))
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected ',' or ']' between records")
    return rows


def _too_deep(path: Path, line: int) -> str:
    """The message for a record nested deeper than the JSON parser can follow."""
    return (f"{path}:{line}: the record is nested too deeply to read (lists or objects inside one another beyond "
            f"Python's recursion limit of {sys.getrecursionlimit()}); a record is an object of strings")


def _json_kind(first: str) -> str:
    """What a JSON document starting with character `first` is, in words."""
    return {"{": "an object", '"': "a string", "": "an empty file"}.get(first, "a single value")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _to_example(record: Any, where: str, variables: Mapping[str, str], default_id: str) -> Example:
    """Turn one alpaca, chat or completion record into an Example, every field checked for its type."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: a record must be a JSON object, got {described(record)}")
    _refuse_surrogates(record, where)
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
    for key in META_TEXT:
        if key in meta:
            values.text(meta[key], key, where, DataError)
    return Example(id=_record_id(record.get("id", default_id), where), messages=filled,
                   answer=_fill(answer, variables, where), meta=meta, source=where)


def _record_id(value: Any, where: str) -> str:
    """A record's id as text: a string or a whole number (a list, a decimal number or a boolean is refused)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise values.refuse(where, "id", "a non-empty string or a whole number", value, DataError)
    return str(value)


def _refuse_surrogates(record: dict, where: str) -> None:
    """A DataError naming the key whose text holds a lone surrogate (`"\\ud800"`: half of a UTF-16 pair, not a
    character; it cannot be encoded, tokenized or written to a report)."""
    for key, value in record.items():
        pending = [value]
        while pending:  # iterative: a record may nest as deep as the JSON parser allowed
            item = pending.pop()
            if isinstance(item, str) and (found := SURROGATE.search(item)):
                raise DataError(f"{where}: key {key!r} holds a lone surrogate escape '\\u{ord(found[0]):04x}' (half "
                                "of a UTF-16 pair, not a character); write the character itself, or both escapes "
                                "of its pair")
            pending += item if isinstance(item, list) else [*item, *item.values()] if isinstance(item, dict) else []


def _alpaca_turns(record: dict, where: str) -> tuple[list[tuple[str, str]], str]:
    """The turns of an alpaca record: `system`, `history` pairs, then `instruction` (+ `input`); `input`, `system`
    and `history` may be null, read as absent."""
    instruction, output = (values.text(record.get(key, MISSING), key, where, DataError)
                           for key in ("instruction", "output"))
    extra, system = (_optional_text(record.get(key), key, where) for key in ("input", "system"))
    history = record.get("history") or []
    if not isinstance(history, list) or not all(isinstance(turn, list) and len(turn) == 2 and
                                                all(isinstance(t, str) for t in turn) for turn in history):
        raise values.refuse(where, "history", "a list of [question, answer] pairs of strings", history, DataError)
    messages = [("system", system)] if system else []
    for question, answer in history:
        messages += [("user", question), ("assistant", answer)]
    messages.append(("user", instruction + ("\n" + extra if extra else "")))
    return messages, output


def _optional_text(value: Any, key: str, where: str) -> str:
    """A string field that may be absent or null (read as empty)."""
    return "" if value is None else values.text(value, key, where, DataError, empty=True)


def _completion_turns(record: dict, where: str) -> tuple[list[tuple[str, str]], str]:
    prompt, completion = (values.text(record.get(key, MISSING), key, where, DataError)
                          for key in ("prompt", "completion"))
    return [("user", prompt)], completion


def _chat_turns(turns: Any, where: str) -> tuple[list[tuple[str, str]], str]:
    if not isinstance(turns, list) or len(turns) < 2:
        raise values.refuse(where, "messages", "a list of at least a user and an assistant turn", turns, DataError)
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise values.refuse(where, f"messages[{i}]", "an object with 'role' and 'content'", turn, DataError)
        if turn.get("role", MISSING) not in ROLES:
            raise values.refuse(where, f"messages[{i}].role", f"one of {ROLES}", turn.get("role", MISSING),
                                DataError)
        messages.append((turn["role"], values.text(turn.get("content", MISSING), f"messages[{i}].content", where,
                                                   DataError, empty=True)))
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
    harness.data.errors.DataError: f.json:3: placeholder {{Name}} has no value (did you mean {{NAME}}?; known: ['NAME'])
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
    """Non-empty lines of a UTF-8 text file (held-out perplexity text, vocabulary sentences); a file with none is
    an error (a figure over no text would be judged as if it were measured)."""
    text = read_text_file(Path(path), DataError, "text file")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: has no text ({'only blank lines' if text else 'the file is empty'}); write plain "
                        "text into it, or delete it to leave its gates unjudged")
    return lines

__all__ = ["ContextOverflowError", "DataError", "Example", "IdentitySpec", "PromptBaseline", "load_examples",
           "load_identity_spec", "load_prompt_baseline", "load_text_lines"]
