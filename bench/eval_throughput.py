"""The harness's evaluation paths vs the plain ways of doing the same work, measured in one run.

    .venv/bin/python bench/eval_throughput.py [--device cpu|cuda] [--dtype float32|bfloat16] [--json OUT]

For the built-in model and for a larger Llama built from config (random weights, built-in tokenizer; its size
depends on the device), it times:

(a) perplexity: `HFLanguageModel.text_loglikelihood` (batched windows, masks, bookkeeping) vs a plain
    batched Hugging Face forward with a masked cross-entropy over the same texts and batch size; goal: ratio >= 0.9;
(b) generation: `HFLanguageModel.generate` (left-padded batches, length-sorted) vs a naive loop of one
    `model.generate` call per prompt, same greedy settings; goal: >= 10x faster.

Each timing is the best of `--repeats` runs after a warm-up, with the request cache cleared so nothing is
served from memory. Both paths' NLL sums and greedy answers are compared so a fast wrong answer cannot win.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from harness.data import load_examples, load_text_lines
from harness.model.lm import DEFAULT_BATCH_SIZE, HFLanguageModel
from harness.model.loading import DTYPES, BaseModel, resolve_device
from harness.model.prompts import prompt_ids
from harness.model.requests import RequestCache
from harness.training.builtin import builtin_model_folder

ROOT = Path(__file__).resolve().parent.parent
LARGER = {"cpu": dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=1408),
          "cuda": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=16, intermediate_size=5632)}


def best_time(fn: Callable[[], object], repeats: int, device: str) -> tuple[float, object]:
    """(best wall seconds, last result) of `fn` over `repeats` runs after one warm-up run."""
    result = fn()
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        result = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best, result


@torch.inference_mode()
def plain_nll(model: torch.nn.Module, tokenizer, texts: list[str], batch_size: int) -> float:
    """Summed token NLL of every text with a plain right-padded batched forward and masked cross-entropy."""
    device = next(model.parameters()).device
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    total = 0.0
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start:start + batch_size]
        width = max(map(len, batch))
        ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s in batch], device=device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        labels = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        total += float(torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="sum"))
    return total


@torch.inference_mode()
def naive_generate(model: torch.nn.Module, tokenizer, conversations: list, max_new_tokens: int) -> list[str]:
    """One unpadded `generate` call per prompt: the loop the harness's batching replaces."""
    device = next(model.parameters()).device
    out = []
    for conv in conversations:
        ids = torch.tensor([prompt_ids(tokenizer, conv)], device=device)
        new = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                             top_p=None, top_k=None, temperature=None)[0, ids.shape[1]:]
        out.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    return out


def measure(name: str, model: torch.nn.Module, tokenizer, args: argparse.Namespace) -> dict:
    """Both comparisons on one model."""
    texts = (load_text_lines(ROOT / "fixtures/perplexity/heldout.txt")
             + load_text_lines(ROOT / "fixtures/builtin/prose.txt"))
    prompts = [ex.messages for ex in load_examples(ROOT / "fixtures/tasks/base/dev.json")][: args.prompts]
    lm = HFLanguageModel(model, tokenizer, name=name, batch_size=args.batch_size, max_new_tokens=args.new_tokens)

    def harness_nll() -> float:
        lm.cache = RequestCache()
        return -sum(lp for lp, _ in lm.text_loglikelihood(texts, window=args.window, stride=args.window * 3 // 4))

    def harness_generate() -> list[str]:
        lm.cache = RequestCache()
        return lm.generate(prompts)

    t_harness_ppl, nll_harness = best_time(harness_nll, args.repeats, args.device)
    t_plain_ppl, nll_plain = best_time(lambda: plain_nll(model, tokenizer, texts, args.batch_size), args.repeats,
                                       args.device)
    t_harness_gen, batched = best_time(harness_generate, args.repeats, args.device)
    t_naive_gen, naive = best_time(lambda: naive_generate(model, tokenizer, prompts, args.new_tokens), 1,
                                   args.device)
    return {"model": name, "parameters": sum(p.numel() for p in model.parameters()),
            "ppl_texts": len(texts), "ppl_harness_s": t_harness_ppl, "ppl_plain_s": t_plain_ppl,
            "ppl_speed_ratio": t_plain_ppl / t_harness_ppl, "nll_rel_diff": abs(nll_harness - nll_plain) / nll_plain,
            "gen_prompts": len(prompts), "gen_harness_s": t_harness_gen, "gen_naive_s": t_naive_gen,
            "gen_speedup": t_naive_gen / t_harness_gen,
            "gen_agreement": sum(a == b for a, b in zip(batched, naive, strict=True)) / len(prompts)}


def larger_model(tokenizer, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """A Llama built from config with the built-in tokenizer's vocabulary (random weights, seed 0)."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=512, num_key_value_heads=None,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, **LARGER[device])
    return LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()


def print_table(rows: list[dict]) -> None:
    """The benchmark table."""
    print(f"{'model':<10} {'params':>8} | {'ppl harness s':>13} {'plain s':>8} {'ratio':>6} {'nll diff':>9} | "
          f"{'gen harness s':>13} {'naive s':>8} {'speedup':>8} {'agree':>6}")
    for r in rows:
        print(f"{r['model']:<10} {r['parameters'] / 1e6:>7.1f}M | {r['ppl_harness_s']:>13.3f} {r['ppl_plain_s']:>8.3f} "
              f"{r['ppl_speed_ratio']:>6.2f} {r['nll_rel_diff']:>9.1e} | {r['gen_harness_s']:>13.3f} "
              f"{r['gen_naive_s']:>8.2f} {r['gen_speedup']:>7.1f}x {r['gen_agreement']:>6.2f}")
    print("goals: ppl ratio (plain / harness time) >= 0.9; generation speedup >= 10x")


def main() -> None:
    """Parse options, build both models, measure, print (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="batch size of both paths (default: the harness's)")
    parser.add_argument("--prompts", type=int, default=96, help="generation prompts (from the base dev set)")
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    args.device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    base = BaseModel.at(builtin_model_folder(ROOT / "fixtures", ROOT / ".tunegate-cache"), args.device, args.dtype)
    builtin, tokenizer = base.load()
    rows = [measure("builtin", builtin, tokenizer, args),
            measure("larger", larger_model(tokenizer, args.device, dtype), tokenizer, args)]
    print(f"device {args.device}, dtype {args.dtype}, batch {args.batch_size}, torch threads {torch.get_num_threads()}")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"device": args.device, "dtype": args.dtype, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
