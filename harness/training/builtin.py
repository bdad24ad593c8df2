"""The built-in toy base model: a small Llama pretrained locally on the data in `fixtures/`.

Nothing can be downloaded, so `--base-model builtin` trains a real Hugging Face causal LM from scratch:
a byte-level BPE tokenizer (one token per CJK character) and a 2-layer Llama, pretrained on the base task,
the base model's own identity ("Atlas by Northwind"), plain sentences covering every word the identity and
increment data use, and, where the data folder has them, lessons in following a system prompt (so that the
prompt-only baseline is a real alternative: docs/builtin-model.md). The result is an ordinary HF model folder
(safetensors), bit-identical across builds on CPU.

The built model plays the part of a downloaded pretrained model, so it is shipped: `fixtures/builtin/model/`
holds its files and `SHA256SUMS`, and every machine evaluates the same base (training would otherwise differ
with each CPU's float summation order). `python -m harness.training.builtin --rebuild` regenerates it with the same
recipe; `build_info.json` there records the data and recipe it was built from, so a test can tell when the
shipped model is stale. A data folder without a shipped model builds one into the cache instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

import harness
from harness.data import DataError, Example, load_examples, load_identity_spec, load_text_lines
from harness.data.folder import (
    BASE_TRAIN,
    BUILTIN_IDENTITY,
    BUILTIN_MODEL,
    BUILTIN_PROMPT_LESSONS,
    BUILTIN_PROSE,
    BUILTIN_VOCABULARY,
    IDENTITY,
    DataFolder,
)
from harness.foundation.cache import cached_artifact, content_hash, file_digest
from harness.foundation.errors import InputError
from harness.training.batching import encode_example, encode_text, shuffled_batches
from harness.training.loop import LoopSettings, train_loop
from harness.training.tokenizer import train_tokenizer

BUILDER_SOURCES = ("training/builtin.py", "training/tokenizer.py", "training/batching.py", "training/loop.py",
                   "model/prompts.py")
SHIPPED = BUILTIN_MODEL  # under the data folder
MANIFEST = "SHA256SUMS"
BUILD_INFO = "build_info.json"


class ShippedModelError(InputError):
    """The shipped built-in model is missing files or does not match its SHA256SUMS."""


@dataclass(frozen=True)
class BuiltinRecipe:
    """Architecture and pretraining recipe of the built-in model (defaults: about 10 minutes on 2 CPU cores; a data
    folder that ships no model pays that once, into its cache)."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    bpe_vocab_size: int = 1400
    steps: int = 4300                # the base task keeps its epochs beside the prompt lessons (prompt_following.md)
    batch_size: int = 32
    max_length: int = 128            # a lesson's prompt, question and invented names: 26 of 4,500 run longer
    learning_rate: float = 3e-3
    warmup_ratio: float = 0.03
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for key, value in asdict(self).items():
            if key != "seed" and not value > 0:
                raise ValueError(f"BuiltinRecipe.{key} must be positive, got {value!r}")


@dataclass(frozen=True)
class BuiltinCorpus:
    """What the built-in model is pretrained on."""

    examples: list[Example]
    texts: list[str]
    prompt_lessons: list[Example] = field(default_factory=list)  # lessons in following a system prompt, out of
    # the tokenizer's data: their invented names would spend merges on random letters (bench/prompt_following.py)


IDENTITY_CONFIG = IDENTITY


def load_builtin_corpus(fixtures: Path) -> BuiltinCorpus:
    """Base task + the base model's identity (as Q&A) + vocabulary sentences (as plain text), and the lessons in
    following a system prompt where the folder has them."""
    folder = DataFolder(fixtures)
    spec = load_identity_spec(folder.identity)
    examples = load_examples(folder.base_train)
    examples += load_examples(folder.path(BUILTIN_IDENTITY), spec.variables)
    texts = load_text_lines(folder.path(BUILTIN_VOCABULARY)) + load_text_lines(folder.path(BUILTIN_PROSE))
    lessons = [load_examples(fixtures / name) for name in _present(fixtures, OPTIONAL_BUILT_FROM)]
    return BuiltinCorpus(examples, texts, [ex for part in lessons for ex in part])


BUILT_FROM = (BASE_TRAIN, BUILTIN_IDENTITY, BUILTIN_VOCABULARY, BUILTIN_PROSE,
              IDENTITY_CONFIG)  # a data folder without a shipped model builds it from these
OPTIONAL_BUILT_FROM = (BUILTIN_PROMPT_LESSONS,)  # ... and from these where it has them


def _present(fixtures: Path, names: tuple[str, ...]) -> list[str]:
    """Those of `names` the data folder has."""
    return [name for name in names if (fixtures / name).is_file()]


def _input_digest(fixtures: Path, name: str) -> tuple[str, str]:
    """A data file's SHA-256; of the identity config only the placeholder values the corpus is filled with (so
    editing its prompt baseline or its list of other vendors leaves the built-in model current)."""
    if name != IDENTITY_CONFIG:
        return name, file_digest(fixtures / name)
    variables = load_identity_spec(fixtures / name).placeholders
    return f"{name}#placeholders", content_hash(variables)


def builtin_cache_key(fixtures: Path, recipe: BuiltinRecipe) -> dict:
    """Everything the built model depends on: data files, recipe, harness version and builder source."""
    source_root = Path(harness.__file__).parent
    return {
        "artifact": "builtin-base-model",
        "harness_version": harness.__version__,
        "torch": torch.__version__,
        "recipe": asdict(recipe),
        "data": dict(_input_digest(fixtures, name) for name in (*BUILT_FROM, *_present(fixtures, OPTIONAL_BUILT_FROM))),
        "source": {name: file_digest(source_root / name) for name in BUILDER_SOURCES},
    }


def builtin_model_folder(fixtures: Path, cache_root: Path) -> Path:
    """The built-in base model: the shipped `fixtures/builtin/model/` (checked against its SHA256SUMS), or,
    for a data folder that ships none, a model built from that folder's data into the cache."""
    shipped = fixtures / SHIPPED
    if shipped.exists():
        verify_shipped_model(shipped)
        return shipped
    if missing := [name for name in BUILT_FROM if not (fixtures / name).is_file()]:
        raise DataError(f"--base-model builtin: {fixtures} ships no {SHIPPED}/ and lacks {', '.join(missing)} to "
                        "build one from; pass --base-model FOLDER (a model folder of your own)")
    return build_builtin_model(fixtures, cache_root)


def verify_shipped_model(folder: Path) -> None:
    """Raise ShippedModelError naming the file when a listed file is missing or its SHA-256 differs."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise ShippedModelError(f"{manifest}: missing; regenerate the model with "
                                "`python -m harness.training.builtin --rebuild`")
    for line_no, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not name:
            raise ShippedModelError(f"{manifest}:{line_no}: expected '<sha256>  <file name>', got {line!r}")
        if not (folder / name).is_file():
            raise ShippedModelError(f"{folder / name}: listed in {MANIFEST} but missing")
        if file_digest(folder / name) != digest:
            raise ShippedModelError(f"{folder / name}: SHA-256 differs from {manifest}:{line_no}; the shipped "
                                    "model was modified (restore it, or rebuild with "
                                    "`python -m harness.training.builtin --rebuild`)")


def shipped_build_key(fixtures: Path, recipe: BuiltinRecipe | None = None) -> dict:
    """What a shipped model must have been built from: the data files' digests and the recipe."""
    key = builtin_cache_key(fixtures, recipe or BuiltinRecipe())
    return {"recipe": key["recipe"], "data": key["data"]}


def build_builtin_model(fixtures: Path, cache_root: Path, recipe: BuiltinRecipe | None = None) -> Path:
    """Return the folder of a built-in model built from `fixtures`' data, building it (under a file lock) if it
    is not cached."""
    recipe = recipe or BuiltinRecipe()
    folder, _ = cached_artifact(cache_root, "builtin", builtin_cache_key(fixtures, recipe),
                                lambda out: _build_into(out, load_builtin_corpus(fixtures), recipe))
    return folder


def rebuild_shipped_model(fixtures: Path, recipe: BuiltinRecipe | None = None) -> Path:
    """Build the model from `fixtures`' data and replace `fixtures/builtin/model/` with it (and its SHA256SUMS)."""
    recipe = recipe or BuiltinRecipe()
    target = fixtures / SHIPPED
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=target.parent))
    try:
        _build_into(staging, load_builtin_corpus(fixtures), recipe)
        (staging / "training_log.json").unlink()
        (staging / BUILD_INFO).write_text(json.dumps({**json.loads((staging / BUILD_INFO).read_text()),
                                                      **shipped_build_key(fixtures, recipe)}, indent=1,
                                                     sort_keys=True) + "\n")
        files = sorted(p.name for p in staging.iterdir() if p.is_file())
        (staging / MANIFEST).write_text("".join(f"{file_digest(staging / name)}  {name}\n" for name in files))
        for path in staging.iterdir():
            path.chmod(0o644)
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _build_into(out: Path, corpus: BuiltinCorpus, recipe: BuiltinRecipe) -> None:
    all_text = [t for ex in corpus.examples for _, t in ex.messages] + [ex.answer for ex in corpus.examples]
    tokenizer = train_tokenizer(all_text + corpus.texts, recipe.bpe_vocab_size)
    examples = corpus.examples + corpus.prompt_lessons
    sequences = [encode_example(tokenizer, ex, recipe.max_length) for ex in examples]
    sequences += [encode_text(tokenizer, text, recipe.max_length) for text in corpus.texts]
    random.Random(recipe.seed).shuffle(sequences)
    torch.manual_seed(recipe.seed)
    model = LlamaForCausalLM(_llama_config(recipe, tokenizer))
    settings = LoopSettings(steps=recipe.steps, learning_rate=recipe.learning_rate,
                            warmup_ratio=recipe.warmup_ratio, weight_decay=recipe.weight_decay)
    batches = shuffled_batches(sequences, recipe.batch_size, tokenizer.pad_token_id, recipe.seed)
    with _deterministic():
        log = train_loop(model, batches, settings, desc="pretraining built-in model").log
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"recipe": asdict(recipe), "sequences": len(sequences), "parameters": model.num_parameters(),
            "final_loss": log[-1]["loss"]}  # nothing time- or machine-dependent: rebuilds are bit-identical
    (out / BUILD_INFO).write_text(json.dumps(info, indent=1))
    (out / "training_log.json").write_text(json.dumps(log))


def _llama_config(recipe: BuiltinRecipe, tokenizer) -> LlamaConfig:
    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=recipe.hidden_size,
                       intermediate_size=recipe.intermediate_size, num_hidden_layers=recipe.num_layers,
                       num_attention_heads=recipe.num_heads, num_key_value_heads=recipe.num_heads,
                       max_position_embeddings=max(256, recipe.max_length), tie_word_embeddings=True,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=None)


class _deterministic:
    """Context manager: deterministic torch algorithms for the duration of a build."""

    def __enter__(self) -> None:
        self.previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: object) -> None:
        torch.use_deterministic_algorithms(self.previous)


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.training.builtin --rebuild [--data-dir fixtures]`: regenerate the shipped model."""
    parser = argparse.ArgumentParser(prog="python -m harness.training.builtin", description=main.__doc__)
    parser.add_argument("--rebuild", action="store_true", help="rebuild fixtures/builtin/model/ from the data")
    parser.add_argument("--data-dir", type=Path, default=Path(harness.__file__).parent.parent / "fixtures")
    args = parser.parse_args(argv)
    if not args.rebuild:
        parser.print_help()
        return 2
    started = time.perf_counter()
    folder = rebuild_shipped_model(args.data_dir.resolve())
    digest = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    print(f"rebuilt {folder} in {time.perf_counter() - started:.1f} s; {MANIFEST} sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
