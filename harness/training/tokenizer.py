"""Train the built-in byte-level BPE tokenizer: one token per CJK character, with a chat template."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, END = "<|pad|>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
CHAT_TEMPLATE = (
    "{%- for m in messages -%}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>\n{% endif -%}"
)


def train_tokenizer(texts: Iterable[str], merges_vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on `texts`, with each CJK character (and CJK punctuation)
    seen in them as a single token, `<|end|>` as eos, `<|pad|>` as padding and a chat template."""
    texts = list(texts)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=merges_vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=[PAD, END, *ROLE_TOKENS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([CJK.sub(" ", t) for t in texts], trainer)
    cjk_chars = sorted({ch for text in texts for ch in CJK.findall(text)})
    tokenizer.add_tokens([AddedToken(ch, normalized=False) for ch in cjk_chars])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=END, pad_token=PAD,
                                   additional_special_tokens=list(ROLE_TOKENS), chat_template=CHAT_TEMPLATE)
