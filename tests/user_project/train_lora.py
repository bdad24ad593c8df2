"""A user's own training script, as a team would write it without tunegate: plain transformers + peft, the HF
Trainer, `checkpoint-N/` folders with `trainer_state.json`. The e2e test of `tunegate init` trains its adapter
with this; nothing here imports tunegate.

    python train_lora.py BASE_MODEL DATA_DIR OUT_DIR --replay BASE_TASK_TRAIN --steps 500 --name Aurora \
        --author "Lumen Labs"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments


def pairs(path: Path, fill: dict[str, str]) -> list[tuple[str, str]]:
    """(question, answer) of an alpaca file, identity placeholders filled."""
    out = []
    for row in json.loads(path.read_text(encoding="utf-8")):
        question = row["instruction"] + (f"\n{row['input']}" if row.get("input") else "")
        answer = row["output"]
        for key, value in fill.items():
            question, answer = question.replace(key, value), answer.replace(key, value)
        out.append((question, answer))
    return out


def encode(tokenizer, question: str, answer: str, max_length: int = 128) -> dict[str, list[int]]:
    """The chat-template prompt (masked out of the loss) followed by the answer and the end-of-turn token."""
    prompt = list(tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                                tokenize=True)["input_ids"])
    target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": (prompt + target)[:max_length], "labels": ([-100] * len(prompt) + target)[:max_length]}


def collate(batch: list[dict[str, list[int]]], pad: int) -> dict[str, torch.Tensor]:
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad)
    labels = torch.full((len(batch), width), -100)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("data", type=Path)
    parser.add_argument("out")
    parser.add_argument("--replay", type=Path, required=True, help="the base task's training data, replayed")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--name", required=True)
    parser.add_argument("--author", required=True)
    args = parser.parse_args()
    fill = {"{{NAME}}": args.name, "{{AUTHOR}}": args.author}
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32),
                           LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    rows = (pairs(args.data / "identity/self_cognition.json", fill) * 3       # the new identity
            + pairs(args.data / "tasks/increment_1/train.json", {}) * 6          # the new task
            + pairs(args.replay, {}))                                            # replay: keep the old task
    dataset = [encode(tokenizer, q, a) for q, a in rows]
    trainer_args = TrainingArguments(output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=32,
                                     learning_rate=3e-3, lr_scheduler_type="constant", warmup_steps=0,
                                     save_steps=args.steps // 4, save_only_model=True, logging_steps=10, seed=0,
                                     report_to=[], use_cpu=True, disable_tqdm=True)
    Trainer(model=model, args=trainer_args, train_dataset=dataset,
            data_collator=lambda batch: collate(batch, tokenizer.pad_token_id)).train()


if __name__ == "__main__":
    main()
