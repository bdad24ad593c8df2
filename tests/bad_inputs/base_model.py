"""The base model folder: config, weights, tokenizer, chat template."""

from __future__ import annotations

from tests.bad_inputs.project import ACCEPTED, BadInput, truncate

TITLE = "the base model"


CASES = [
    BadInput("base-config-not-json", "a base model config.json that is not JSON",
             lambda p: ((p.model / "config.json").write_text('{"model_type": "llama",'), [])[1],
             ("model/config.json:1:", "not valid JSON")),
    BadInput("base-weights-truncated", "a truncated base model.safetensors",
             truncate(lambda p: p.model / "model.safetensors", []), ("model/model.safetensors", "truncated")),
    BadInput("base-no-tokenizer", "a base model folder without tokenizer files",
             lambda p: ((p.model / "tokenizer.json").unlink(), [])[1], ("model", "no tokenizer files")),
    BadInput("base-without-template", "a base whose tokenizer has no chat template (GPT-2 style): the plain format",
             lambda p: ((p.model / "chat_template.jinja").unlink(), [])[1], (), ACCEPTED),
    BadInput("prompt-format-chat-without-template", "--prompt-format chat on a base without a chat template",
             lambda p: ((p.model / "chat_template.jinja").unlink(), ["--prompt-format", "chat"])[1],
             ("--prompt-format chat", "model", "has no chat template")),
    BadInput("prompt-format-unknown", "--prompt-format naming neither a format nor a .jinja file",
             lambda p: ["--prompt-format", "alpaca"], ("--prompt-format alpaca", "expected auto, chat, plain")),
    BadInput("ppl-window-over-context", "--ppl-window longer than max_position_embeddings",
             lambda p: ["--ppl-window", "2048", "--ppl-stride", "1024"],
             ("--ppl-window 2048", "config.json", "max_position_embeddings = 256")),
]
