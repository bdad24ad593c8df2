"""Prompt encoding shared by evaluation and training: a conversation through the tokenizer's chat template,
an answer followed by the end-of-turn token."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def chat_messages(messages: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """(role, content) pairs as the dicts `apply_chat_template` expects."""
    return [{"role": role, "content": content} for role, content in messages]


def prompt_ids(tokenizer, messages: Sequence[tuple[str, str]]) -> list[int]:
    """Token ids of the conversation rendered with the chat template, ending with the assistant cue."""
    encoded = tokenizer.apply_chat_template(chat_messages(messages), add_generation_prompt=True, tokenize=True)
    return list(encoded["input_ids"])


PLAIN_TEMPLATE = (  # a base without a chat template (GPT-2 style) is prompted in this documented plain format
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}Question: {{ message['content'] }}\n"
    "{% else %}Answer: {{ message['content'] }}\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}Answer:{% endif %}")
PROMPT_FORMATS = ("auto", "chat", "plain")  # or the path of a .jinja chat template


def prompt_template(tokenizer, prompt_format: str = "auto") -> str:
    """The chat template a run prompts with: the tokenizer's own ("auto" falls back to `PLAIN_TEMPLATE` when it
    has none, "chat" requires it), `PLAIN_TEMPLATE` ("plain"), or the text of a `.jinja` file. A ValueError says
    what is missing."""
    if prompt_format == "plain":
        return PLAIN_TEMPLATE
    if prompt_format not in PROMPT_FORMATS:
        path = Path(prompt_format)
        if path.suffix != ".jinja" or not path.is_file():
            raise ValueError(f"--prompt-format {prompt_format}: expected auto, chat, plain or a .jinja file")
        return path.read_text(encoding="utf-8")
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, str) and own:
        return own
    if prompt_format == "chat":
        raise ValueError("--prompt-format chat: the tokenizer has no chat template; use --prompt-format plain or "
                         "--prompt-format FILE.jinja")
    return PLAIN_TEMPLATE


END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>", "<|eom_id|>")


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    """Every token that ends an answer: the tokenizer's eos, the model's generation config's eos ids, and each
    known end-of-turn token the chat template writes (`<|im_end|>` for Qwen, `<|eot_id|>` for Llama 3,
    `<end_of_turn>` for Gemma ...) that is a single token of this tokenizer. Generation stops at any of them."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(generation_config, "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    template = getattr(tokenizer, "chat_template", None) or ""
    for token in END_OF_TURN:
        if token in template and token in tokenizer.get_vocab():
            ids.append(tokenizer.convert_tokens_to_ids(token))
    return sorted({i for i in ids if isinstance(i, int)})


def answer_ids(tokenizer, answer: str) -> list[int]:
    """Token ids of an answer followed by the end-of-turn (eos) token."""
    return [*tokenizer(answer, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
