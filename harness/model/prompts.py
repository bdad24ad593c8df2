"""Prompt encoding shared by evaluation and training: a conversation through the tokenizer's chat template,
an answer followed by the end-of-turn token."""

from __future__ import annotations

from collections.abc import Sequence


def chat_messages(messages: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """(role, content) pairs as the dicts `apply_chat_template` expects."""
    return [{"role": role, "content": content} for role, content in messages]


def prompt_ids(tokenizer, messages: Sequence[tuple[str, str]]) -> list[int]:
    """Token ids of the conversation rendered with the chat template, ending with the assistant cue."""
    encoded = tokenizer.apply_chat_template(chat_messages(messages), add_generation_prompt=True, tokenize=True)
    return list(encoded["input_ids"])


def answer_ids(tokenizer, answer: str) -> list[int]:
    """Token ids of an answer followed by the end-of-turn (eos) token."""
    return [*tokenizer(answer, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
