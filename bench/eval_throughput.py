"""The harness's evaluation paths vs raw Hugging Face doing the same work, measured in one run.

    .venv/bin/python bench/eval_throughput.py [--device cpu|cuda] [--dtype float32|bfloat16]
                                              [--models builtin,llama-86m] [--json OUT]

Models: the built-in model, and shapes built from config with random weights and the built-in tokenizer:
`llama-86m` (hidden 768, 12 layers: the ~100M Llama of the CPU figures), `qwen2.5-0.5b` and `qwen2.5-7b` (the
published Qwen2.5 configs: GQA, 152k vocabulary; the GPU figures). Default: builtin + llama-86m on CPU, the two
Qwen2.5 shapes on CUDA. For each model it times:

(a) perplexity: `HFLanguageModel.text_loglikelihood` (length-sorted batches, masks, log-probs gathered without a
    full-vocabulary float32 copy) vs a plain batched forward with a masked cross-entropy, over `--ppl-texts` texts
    of about `--ppl-tokens` tokens in batches of `--batch-size`; scored tokens per second; goal: >= 0.95x;
(b) generation: `HFLanguageModel.generate` (left-padded, length-sorted batches, stop tokens, decoding) vs one raw
    left-padded `model.generate` per batch, and vs one `generate` call per prompt; new tokens per second; goals:
    >= 0.95x raw batched, >= 20x the per-prompt loop.

Each timing is the best of `--repeats` runs after a warm-up (the per-prompt loop: one run), with the harness's
request cache emptied before each so nothing is served from memory. NLL sums and greedy answers of the paths are
compared, so a fast wrong answer cannot win.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from harness.data import load_examples, load_text_lines
from harness.model.lm import HFLanguageModel
from harness.model.loading import DTYPES, BaseModel, resolve_device
from harness.model.prompts import prompt_ids
from harness.model.requests import RequestCache
from harness.training.builtin import builtin_model_folder

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {  # name -> (config class, model class, config values beyond the tokenizer's)
    "llama-86m": (LlamaConfig, LlamaForCausalLM, dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                                      intermediate_size=2048)),
    "qwen2.5-0.5b": (Qwen2Config, Qwen2ForCausalLM, dict(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                                         num_hidden_layers=24, num_attention_heads=14,
                                                         num_key_value_heads=2, tie_word_embeddings=True)),
    "qwen2.5-7b": (Qwen2Config, Qwen2ForCausalLM, dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                                                       num_hidden_layers=28, num_attention_heads=28,
                                                       num_key_value_heads=4, tie_word_embeddings=False)),
}
DEFAULTS = {"cpu": dict(models="builtin,llama-86m", ppl_tokens=256, ppl_texts=64, prompts=64, new_tokens=24),
            "cuda": dict(models="qwen2.5-0.5b,qwen2.5-7b", ppl_tokens=512, ppl_texts=256, prompts=64, new_tokens=64)}


def best_time(fn: Callable[[], object], repeats: int, device: str, warm_up: bool = True) -> tuple[float, object]:
    """(best wall seconds, last result) of `fn` over `repeats` runs (after one warm-up run unless not `warm_up`)."""
    result = fn() if warm_up else None
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


def benchmark_texts(tokenizer, count: int, tokens: int) -> list[str]:
    """`count` texts of about `tokens` tokens: the fixtures' prose, concatenated and cut, cycled as needed."""
    lines = [line for name in ("perplexity/heldout.txt", "builtin/prose.txt")
             for line in load_text_lines(ROOT / "fixtures" / name)]
    ids = tokenizer(" ".join(lines), add_special_tokens=False)["input_ids"]
    starts = [(i * tokens // 3) % max(1, len(ids) - tokens) for i in range(count)]
    return [tokenizer.decode(ids[s:s + tokens]) for s in starts]


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
def raw_generate(model: torch.nn.Module, tokenizer, conversations: list, new_tokens: int) -> list[list[int]]:
    """Greedy new token ids of each conversation (encoded with its chat template, as the harness does) from one
    left-padded `model.generate` over all of them (eos kept)."""
    device, pad = next(model.parameters()).device, tokenizer.pad_token_id
    prompts = [prompt_ids(tokenizer, c) for c in conversations]
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = (ids != pad).long() if pad is not None else torch.ones_like(ids)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=pad, top_p=None, top_k=None,
                         temperature=None)[:, width:]
    return [_until_eos(row.tolist(), tokenizer.eos_token_id, pad) for row in out]


def _until_eos(ids: list[int], eos: int, pad: int) -> list[int]:
    """The generated ids up to and including the first eos, without trailing padding."""
    return ids[:ids.index(eos) + 1] if eos in ids else [t for t in ids if t != pad]


def batched(fn: Callable[[list], list], items: list, size: int) -> list:
    """`fn` over consecutive slices of `size` items, results concatenated."""
    return [out for start in range(0, len(items), size) for out in fn(items[start:start + size])]


def measure(name: str, model: torch.nn.Module, tokenizer, args: argparse.Namespace) -> dict:
    """Perplexity and generation, harness vs raw, on one model."""
    texts = benchmark_texts(tokenizer, args.ppl_texts, args.ppl_tokens)
    conversations = [ex.messages for ex in load_examples(ROOT / "fixtures/tasks/base/dev.json")][: args.prompts]
    lm = HFLanguageModel(model, tokenizer, name=name, batch_size=args.batch_size, max_new_tokens=args.new_tokens)

    def harness_nll() -> float:
        lm.cache = RequestCache()
        return -sum(lp for lp, _ in lm.text_loglikelihood(texts, window=args.ppl_tokens + 16, stride=args.ppl_tokens))

    def harness_generate() -> list[str]:
        lm.cache = RequestCache()
        return lm.generate(conversations)

    scored = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) - 1 for t in texts)
    t_ppl, nll = best_time(harness_nll, args.repeats, args.device)
    t_ppl_raw, nll_raw = best_time(lambda: plain_nll(model, tokenizer, texts, args.batch_size), args.repeats,
                                   args.device)
    t_gen, answers = best_time(harness_generate, args.repeats, args.device)
    t_gen_raw, raw_ids = best_time(lambda: batched(lambda b: raw_generate(model, tokenizer, b, args.new_tokens),
                                                   conversations, args.batch_size), args.repeats, args.device)
    t_loop, loop_ids = best_time(lambda: batched(lambda b: raw_generate(model, tokenizer, b, args.new_tokens),
                                                 conversations, 1), 1, args.device, warm_up=False)
    new_tokens = sum(len(ids) for ids in raw_ids)
    decoded = [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in raw_ids]
    return {"model": name, "parameters": sum(p.numel() for p in model.parameters()),
            "ppl_tokens": scored, "ppl_tok_s": scored / t_ppl, "ppl_raw_tok_s": scored / t_ppl_raw,
            "ppl_ratio": t_ppl_raw / t_ppl, "nll_rel_diff": abs(nll - nll_raw) / nll_raw,
            "gen_prompts": len(conversations), "new_tokens": new_tokens, "gen_tok_s": new_tokens / t_gen,
            "gen_raw_tok_s": new_tokens / t_gen_raw, "gen_loop_tok_s": sum(map(len, loop_ids)) / t_loop,
            "gen_ratio": t_gen_raw / t_gen, "gen_speedup": t_loop / t_gen,
            "gen_agreement": sum(a == b for a, b in zip(answers, decoded, strict=True)) / len(conversations)}


def build(name: str, tokenizer, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """Shape `name` built from config on `device` (random weights, seed 0; the built-in tokenizer's special ids)."""
    config_class, model_class, values = SHAPES[name]
    torch.manual_seed(0)
    config = config_class(**{"vocab_size": len(tokenizer), **values}, max_position_embeddings=4096,
                          pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                          bos_token_id=tokenizer.bos_token_id)
    with torch.device(device):
        return model_class(config).to(dtype=dtype).eval()


def print_table(rows: list[dict]) -> None:
    """The benchmark table."""
    print(f"{'model':<13} {'params':>8} | {'ppl tok/s':>10} {'raw':>10} {'ratio':>6} {'nll diff':>8} | "
          f"{'gen tok/s':>9} {'raw':>8} {'ratio':>6} {'loop':>7} {'speedup':>8} {'agree':>6}")
    for r in rows:
        print(f"{r['model']:<13} {r['parameters'] / 1e6:>7.1f}M | {r['ppl_tok_s']:>10,.0f} "
              f"{r['ppl_raw_tok_s']:>10,.0f} {r['ppl_ratio']:>6.2f} {r['nll_rel_diff']:>8.0e} | "
              f"{r['gen_tok_s']:>9,.0f} {r['gen_raw_tok_s']:>8,.0f} {r['gen_ratio']:>6.2f} "
              f"{r['gen_loop_tok_s']:>7,.1f} {r['gen_speedup']:>7.1f}x {r['gen_agreement']:>6.2f}")
    print("goals: perplexity and generation ratio (raw time / harness time) >= 0.95; speedup over the per-prompt "
          "loop >= 20x")


def main() -> None:
    """Parse options, build the models one at a time, measure, print (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dtype", default="auto", choices=["auto", *sorted(DTYPES)],
                        help="auto: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--models", default=None, help=f"comma-separated: builtin, {', '.join(SHAPES)}")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of every batched path")
    for option in ("ppl-tokens", "ppl-texts", "prompts", "new-tokens"):
        parser.add_argument(f"--{option}", type=int, default=None, help="default: per device (see DEFAULTS)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    args.device = resolve_device(args.device)
    for key, value in DEFAULTS[args.device].items():
        setattr(args, key, getattr(args, key) if getattr(args, key) is not None else value)
    args.dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if args.device == "cuda" else "float32")
    if args.threads:
        torch.set_num_threads(args.threads)
    base = BaseModel.at(builtin_model_folder(ROOT / "fixtures", ROOT / ".tunegate-cache"), args.device, args.dtype)
    builtin, tokenizer = base.load()
    rows = []
    for name in args.models.split(","):
        model = builtin if name == "builtin" else build(name, tokenizer, args.device, DTYPES[args.dtype])
        rows.append(measure(name, model, tokenizer, args))
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    header = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "dtype": args.dtype,
              "batch_size": args.batch_size, "threads": torch.get_num_threads(), "torch": torch.__version__}
    print(json.dumps(header))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({**header, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
