"""The base model folder: config, weights, tokenizer, chat template."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

from tests.bad_inputs.project import ACCEPTED, BadInput, Plant, Project, file_option, truncate

TITLE = "the base model"


def header(path: Callable[[Project], Path], edit: Callable[[dict], object], option: list[str]) -> Plant:
    """The safetensors header of the file at `path(project)` replaced by `edit(header)` (the data kept); the run
    gets `option` ({adapter} filled)."""
    def plant(p: Project) -> list[str]:
        data = path(p).read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        raw = json.dumps(edit(json.loads(data[8:8 + length]))).encode()
        path(p).write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length:])
        return [a.format(adapter=p.adapter) for a in option]
    return plant


def first_tensor(**fields: object) -> Callable[[dict], dict]:
    """A header edit: the first tensor's entry (by name) updated with `fields`."""
    def edit(document: dict) -> dict:
        name = min(k for k in document if k != "__metadata__")
        return {**document, name: {**document[name], **fields}}
    return edit


def base_config(**fields: object) -> Plant:
    """The base model's config.json with `fields` replaced."""
    return lambda p: (p.edit_json(p.model / "config.json", lambda c: {**c, **fields}), [])[1]


def tokenizer_config(**fields: object) -> Plant:
    """The base model's tokenizer_config.json with `fields` replaced."""
    return lambda p: (p.edit_json(p.model / "tokenizer_config.json", lambda c: {**c, **fields}), [])[1]


def base_file(name: str, text: str) -> Plant:
    """The base model folder's file `name` replaced by `text`."""
    return lambda p: ((p.model / name).write_text(text), [])[1]


def _template_in_tokenizer_config(p: Project) -> list[str]:
    (p.model / "chat_template.jinja").unlink()
    p.edit_json(p.model / "tokenizer_config.json", lambda c: {**c, "chat_template": "{{ bos }}\n{% for m in "
                                                              "messages %}{{ m['content'] }}"})
    return []


def _weights(p: Project) -> Path:
    return p.model / "model.safetensors"


CONFIG = "model/config.json"
def _cut_mid_character(p: Project) -> list[str]:
    """tokenizer.json cut one byte into its first multi-byte character (a copy interrupted there)."""
    data = (p.model / "tokenizer.json").read_bytes()
    (p.model / "tokenizer.json").write_bytes(data[: next(i for i, b in enumerate(data) if b >= 0xC0) + 1])
    return []


CASES = [
    BadInput("base-config-not-json", "a base model config.json that is not JSON",
             lambda p: ((p.model / "config.json").write_text('{"model_type": "llama",'), [])[1],
             ("model/config.json:1:", "not valid JSON")),
    BadInput("base-config-array", "a base model config.json holding an array, not an object",
             base_file("config.json", '[{"model_type": "llama"}]'), (CONFIG, "expected a JSON object, got list")),
    BadInput("base-context-string", "config.json max_position_embeddings a string",
             base_config(max_position_embeddings="256"),
             (CONFIG, "key 'max_position_embeddings'", "a positive integer, got '256'")),
    BadInput("base-context-zero", "config.json max_position_embeddings = 0 (not a --ppl-window problem)",
             base_config(max_position_embeddings=0), (CONFIG, "key 'max_position_embeddings'",
                                                     "a positive integer, got 0")),
    BadInput("base-vocab-size-string", "config.json vocab_size a string", base_config(vocab_size="1185"),
             (CONFIG, "key 'vocab_size'", "a positive integer, got '1185'")),
    BadInput("base-hidden-size-float", "config.json hidden_size a float", base_config(hidden_size=128.5),
             (CONFIG, "key 'hidden_size'", "a positive integer, got 128.5")),
    BadInput("base-layers-bool", "config.json num_hidden_layers true", base_config(num_hidden_layers=True),
             (CONFIG, "key 'num_hidden_layers'", "a positive integer, got True")),
    BadInput("base-tie-embeddings-string", "config.json tie_word_embeddings \"false\" (a string: transformers' "
             "own field check, run at configure)", base_config(tie_word_embeddings="false"),
             (CONFIG, "'tie_word_embeddings'", "expected bool")),
    BadInput("base-model-type-unknown", "config.json model_type unknown to transformers (a typo)",
             base_config(model_type="lama"), (CONFIG, "key 'model_type'", "'lama'", "unknown to transformers")),
    BadInput("base-vocab-mismatch", "config.json vocab_size disagreeing with the embedding's rows",
             base_config(vocab_size=1200), ("model/model.safetensors", "model.embed_tokens.weight",
                                            "[1185, 128]", "key 'vocab_size' is 1200")),
    BadInput("base-hidden-mismatch", "config.json hidden_size disagreeing with the embedding's width",
             base_config(hidden_size=256), ("model/model.safetensors", "model.embed_tokens.weight",
                                            "[1185, 128]", "key 'hidden_size' is 256")),
    BadInput("base-more-layers", "config.json num_hidden_layers larger than the layers in the weights",
             base_config(num_hidden_layers=3), ("model/model.safetensors", "layers 0-1",
                                                "key 'num_hidden_layers' is 3")),
    BadInput("base-header-not-object", "a base safetensors header that is JSON but not an object",
             header(_weights, lambda h: list(h), []), ("model/model.safetensors", "header is a list")),
    BadInput("base-header-past-end", "a base safetensors header length beyond the end of the file",
             lambda p: ((f := _weights(p)).write_bytes(struct.pack("<Q", 1 << 40) + f.read_bytes()[8:]), [])[1],
             ("model/model.safetensors", "truncated or not safetensors")),
    BadInput("base-tensor-dtype-unknown", "a base tensor of an unknown dtype",
             header(_weights, first_tensor(dtype="F13"), []),
             ("model/model.safetensors", "'model.embed_tokens.weight'", "dtype 'F13'")),
    BadInput("base-header-metadata-not-strings", "a base safetensors __metadata__ holding a number",
             header(_weights, lambda h: {**h, "__metadata__": {"format": 1}}, []),
             ("model/model.safetensors", "'__metadata__' must be an object of strings")),
    BadInput("base-weights-trailing-bytes", "base weights with bytes after the last tensor's data",
             lambda p: ((f := _weights(p)).write_bytes(f.read_bytes() + bytes(64)), [])[1],
             ("model/model.safetensors", "64 bytes after the last tensor's data")),
    BadInput("base-weights-truncated", "a truncated base model.safetensors",
             truncate(lambda p: p.model / "model.safetensors", []), ("model/model.safetensors", "truncated")),
    BadInput("base-no-tokenizer", "a base model folder without tokenizer files",
             lambda p: ((p.model / "tokenizer.json").unlink(), [])[1], ("model", "no tokenizer files")),
    BadInput("base-tokenizer-truncated", "a truncated tokenizer.json",
             lambda p: ((f := p.model / "tokenizer.json").write_text(f.read_text()[:2000]), [])[1],
             ("model/tokenizer.json:", "not valid JSON")),
    BadInput("base-tokenizer-config-array", "a tokenizer_config.json holding an array",
             base_file("tokenizer_config.json", "[]"), ("model/tokenizer_config.json", "expected a JSON object")),
    BadInput("base-tokenizer-config-template-number", "tokenizer_config.json chat_template a number",
             tokenizer_config(chat_template=3),
             ("model/tokenizer_config.json", "key 'chat_template'", "got 3")),
    BadInput("base-tokenizer-eos-number", "tokenizer_config.json eos_token a number (a token id, not a token)",
             tokenizer_config(eos_token=1), ("model/tokenizer_config.json", "key 'eos_token'", "got 1")),
    BadInput("base-tokenizer-max-length-string", "tokenizer_config.json model_max_length a string",
             tokenizer_config(model_max_length="256"), ("model/tokenizer_config.json", "key 'model_max_length'",
                                                        "got '256'")),
    BadInput("base-tokenizer-padding-side", "tokenizer_config.json padding_side neither left nor right",
             tokenizer_config(padding_side="middle"), ("model/tokenizer_config.json", "key 'padding_side'",
                                                       "got 'middle'")),
    BadInput("base-chat-template-syntax", "a chat_template.jinja with a Jinja syntax error",
             base_file("chat_template.jinja", "{% for m in messages %}\n{{ m['content'] }\n{% endfor %}"),
             ("model/chat_template.jinja:2:", "not a valid Jinja template")),
    BadInput("base-tokenizer-config-template-syntax", "tokenizer_config.json's chat_template with a Jinja syntax "
             "error", _template_in_tokenizer_config,
             ("model/tokenizer_config.json", "key 'chat_template'", "line 2", "not a valid Jinja template")),
    BadInput("base-without-template", "a base whose tokenizer has no chat template (GPT-2 style): the plain format",
             lambda p: ((p.model / "chat_template.jinja").unlink(), [])[1], (), ACCEPTED),
    BadInput("prompt-format-chat-without-template", "--prompt-format chat on a base without a chat template",
             lambda p: ((p.model / "chat_template.jinja").unlink(), ["--prompt-format", "chat"])[1],
             ("--prompt-format chat", "model", "has no chat template")),
    BadInput("prompt-format-unknown", "--prompt-format naming neither a format nor a .jinja file",
             lambda p: ["--prompt-format", "alpaca"], ("--prompt-format alpaca", "expected auto, chat, plain")),
    BadInput("prompt-format-file-syntax", "--prompt-format FILE.jinja with a Jinja syntax error",
             file_option("broken.jinja", "{% for m in messages %}\n{{ m['content'] }\n{% endfor %}", "--prompt-format"),
             ("broken.jinja:2:", "not a valid Jinja template")),
    BadInput("ppl-window-over-context", "--ppl-window longer than max_position_embeddings",
             lambda p: ["--ppl-window", "2048", "--ppl-stride", "1024"],
             ("--ppl-window 2048", "config.json", "max_position_embeddings = 256")),
    BadInput("base-tokenizer-cut-mid-character", "a tokenizer.json cut inside a multi-byte character (once: "
             "\"not UTF-8, save the file as UTF-8\")", _cut_mid_character,
             ("model/tokenizer.json", "ends in the middle of a UTF-8 character", "the file looks cut short")),
]
