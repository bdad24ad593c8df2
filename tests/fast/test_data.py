"""Dataset loading: alpaca, chat and jsonl formats; errors name the file and line."""

from __future__ import annotations

import json

import pytest

from harness.data import DataError, load_examples, load_identity_spec


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_alpaca_json_list_with_input_system_and_history(tmp_path):
    rows = [{"instruction": "Add", "input": "2 and 3", "output": "5", "system": "Be brief",
             "history": [["hi", "hello"]], "category": "arithmetic"}]
    [ex] = load_examples(write(tmp_path, "d.json", json.dumps(rows)))
    assert ex.messages == (("system", "Be brief"), ("user", "hi"), ("assistant", "hello"), ("user", "Add\n2 and 3"))
    assert ex.answer == "5" and ex.meta == {"category": "arithmetic"}


def test_chat_jsonl(tmp_path):
    line = {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "Me"}]}
    [ex] = load_examples(write(tmp_path, "d.jsonl", json.dumps(line) + "\n\n"))
    assert ex.messages == (("user", "Who are you?"),) and ex.answer == "Me"


def test_placeholders_are_filled(tmp_path):
    rows = [{"instruction": "Who?", "output": "I am {{NAME}} by {{AUTHOR}}."}]
    [ex] = load_examples(write(tmp_path, "d.json", json.dumps(rows)), {"NAME": "Aurora", "AUTHOR": "K"})
    assert ex.answer == "I am Aurora by K."


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('[\n {"instruction": "a", "output": "b"},\n {"instruction": "a"}\n]', 3, "key 'output'"),
    ('[\n {"instruction": "a", "output": "b"},\n {"question": "a"}\n]', 3, "unknown record format"),
    ('[\n {"instruction": "a", "output": "b"},\n {"prompt": "a"}\n]', 3, "key 'completion' must be a non-empty"),
    ('[\n {"instruction": "a", "output": "b"}\n {"instruction": "c", "output": "d"}\n]', 3, "expected ','"),
    ('[\n {"instruction": "a", "output": "b",}\n]', 2, "invalid JSON"),
    ('[\n {"instruction": "{{WHO}}", "output": "b"}\n]', 2, "placeholder {{WHO}}"),
    ('[\n {"id": "x", "instruction": "a", "output": "b"},\n {"id": "x", "instruction": "a", "output": "b"}\n]',
     3, "duplicate id 'x'"),
])
def test_errors_name_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(DataError) as err:
        load_examples(path)
    assert str(err.value).startswith(f"{path}:{line}:") and fragment in str(err.value)


def test_jsonl_error_line(tmp_path):
    path = write(tmp_path, "bad.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": \n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: invalid JSON"):
        load_examples(path)


def test_chat_last_turn_must_be_assistant(tmp_path):
    path = write(tmp_path, "c.json", json.dumps([{"messages": [{"role": "user", "content": "a"},
                                                               {"role": "user", "content": "b"}]}]))
    with pytest.raises(DataError, match="last message must be the assistant"):
        load_examples(path)


def test_project_fixtures_load(project_root):
    spec = load_identity_spec(project_root / "fixtures/identity/identity.toml")
    base = load_examples(project_root / "fixtures/tasks/base/train.json")
    dev = load_examples(project_root / "fixtures/tasks/base/dev.json")
    cognition = load_examples(project_root / "fixtures/identity/self_cognition.json", spec.variables)
    assert len(base) > 1000 and {ex.id for ex in dev} <= {ex.id for ex in base}
    assert 200 <= len(cognition) <= 300 and all(spec.name in ex.answer for ex in cognition)
