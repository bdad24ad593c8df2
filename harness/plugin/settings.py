"""The effective options of one tunegate run, each declared once as a field (flag, default, help, conversion,
check, docs row: `harness.plugin.options`).

Light on purpose: the plugin reads these before deciding whether a run uses tunegate at all, so a project that
only installed it never imports torch (see `harness.plugin`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.folder import DataFolder
from harness.foundation.cache import resolve_cache_root
from harness.foundation.launch import launch_world_size
from harness.gating.baselines import baseline_path
from harness.model.answer_stores import sqlite_file_problem
from harness.plugin.options import REQUIRED, Convert, Given, check_values, option


def _absolute(value: str | None, _: Given) -> Path | None:
    """A path made absolute (from the working directory); None when not given."""
    return Path(value).resolve() if value else None


def _model_folder(value: str, given: Given) -> str:
    """'builtin', or a folder taken from the rootdir when relative (like --data-dir)."""
    return value if value == "builtin" or Path(value).is_absolute() else str((given.rootdir / value).resolve())


def _data_folder(value: str | None, given: Given) -> Path:
    """The data folder (default `fixtures`); one given that is not a folder raises ValueError naming it."""
    folder = (given.rootdir / (value or "fixtures")).resolve()
    if value and not folder.is_dir():
        what = "is a file, expected the data folder" if folder.exists() else "no such folder"
        raise ValueError(f"--data-dir {folder}: {what} (a relative path is taken from the rootdir {given.rootdir}); "
                         "`tunegate init` writes one (docs/data-folder.md)")
    return folder


def _cache_root(value: str | None, given: Given) -> Path:
    return resolve_cache_root(value, given.rootdir / ".tunegate-cache")


def _in_rootdir(value: str, given: Given) -> Path:
    return given.in_rootdir(value)


def _history(value: str | None, given: Given) -> Path:
    """--history made absolute without following a link (it is written through), else the report folder's."""
    return Path(os.path.abspath(value)) if value else given.in_rootdir(given.values["report_dir"]) / "history.csv"


def _baseline(flag: str) -> Convert:
    """`<baseline-dir>/NAME.json` for `flag`; a name with other characters than letters, digits, '.', '_' and '-'
    raises ValueError naming `flag` (an empty one is refused for every option: `options.refuse_empty`)."""
    def convert(value: str | None, given: Given) -> Path | None:
        try:
            return baseline_path(given.in_rootdir(given.values["baseline_dir"]), value) if value else None
        except ValueError as err:
            raise ValueError(f"{flag} {value}: {err}") from None
    return convert


def _prompt_format(value: str, _: Given) -> str:
    """A .jinja file as an absolute path (it is part of the model's digest); a format name as given."""
    return str(Path(value).resolve()) if value.endswith(".jinja") else value


def _batch_size(text: str) -> int | str:
    """--batch-size: "auto" or a whole number (argparse names the option when this raises)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number, got {text!r}") from None


def _at_least(least: int, unit: str = "") -> Any:
    return lambda flag, value: (f"{flag} must be at least {least}{unit}, got {value}"
                                if value != "auto" and value < least else None)


def _within(low: int, high: int, why: str) -> Any:
    return lambda flag, value: (f"{flag} must be in [{low}, {high}] ({why}), got {value}"
                                if value is not None and not low <= value <= high else None)


def _exists(flag: str, path: Path | None) -> str | None:
    return f"{flag} {path}: no such file or folder" if path is not None and not path.exists() else None


def _folder(flag: str, folder: Path | None) -> str | None:
    if folder is not None and folder.exists() and not folder.is_dir():
        return f"{flag} {folder}: is a file, expected a folder (it is created when missing)"
    return None


def _history_file(flag: str, path: Path | None) -> str | None:
    if path is not None and path.suffix not in (".csv", ".parquet"):
        return f"{flag} {path}: the file must end in .csv or .parquet"
    if path is not None and path.is_dir():
        return f"{flag} {path}: is a folder, expected a .csv or .parquet file"
    return None


def _format(flag: str, value: str) -> str | None:
    if value in ("auto", "chat", "plain") or (value.endswith(".jinja") and Path(value).is_file()):
        return None
    return f"{flag} {value}: expected auto, chat, plain or an existing .jinja chat template file"


def _one_process(flag: str, value: str | None) -> str | None:
    if value and launch_world_size() > 1:  # a value that is no number is named at configure
        return (f"{flag} auto spreads one model over every GPU; under accelerate launch each process has its own "
                "GPU: use one or the other")
    return None


def _sqlite(flag: str, path: Path | None) -> str | None:
    problem = sqlite_file_problem(path) if path is not None else None
    return f"{flag} {path}: {problem}" if problem else None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The effective configuration of one run: every field with a flag is a pytest option (`option(...)`), in
    the order of `pytest --help` and of the table in docs/options.md (`python3 dev.py docs` rewrites it)."""

    rootdir: Path
    base_model: str = option(
        "--base-model", "base model folder, or 'builtin' (default)", default="builtin", path=True,
        convert=_model_folder, metavar="PATH|builtin",
        doc="base model folder (HF format, safetensors) or the built-in toy model")
    adapter: Path | None = option(
        "--adapter", "existing peft LoRA adapter folder: skip training", path=True, convert=_absolute,
        check=_exists, metavar="PATH",
        doc="evaluate an existing peft LoRA adapter (peft, LLaMA-Factory, ms-swift format); skips training. A "
            "folder peft saved with several adapters grades its default one (the others are listed in results.json "
            "`run.adapters`); name another as `PATH/<adapter_name>`")
    gates_file: str | None = option(
        "--gates", "gate config TOML (default: <data-dir>/gates.toml)", path=True, metavar="FILE",
        shown="`<data-dir>/gates.toml`", doc="gate thresholds (TOML; [gates.md](gates.md))")
    require_all_gates: bool = option(
        "--require-all-gates", "fail the run when any configured gate was not judged (deselected, skipped, data "
        "missing): for CI jobs that must not pass vacuously", default=False, switch=True,
        doc="fail the run (exit 1, headline `FAIL (--require-all-gates)`) when any configured gate was not judged: "
            "deselected, skipped, its data missing; for CI jobs that must not pass vacuously")
    report_dir: Path = option(
        "--report-dir", "where reports/<run_id>/ is written", default="reports", value=REQUIRED, path=True,
        convert=_in_rootdir, check=_folder, metavar="DIR",
        doc="reports go to `DIR/<run_id>/`, `DIR/latest` points at the newest (a folder or file named `latest` "
            "there is refused, not replaced)")
    device: str = option(
        "--device", "where models run", default="auto", choices=("auto", "cpu", "cuda"),
        doc="where models run (`auto`: CUDA if visible)")
    device_map: str | None = option(
        "--device-map", "auto: spread a model larger than one GPU over every visible GPU (and CPU memory) with "
        "accelerate's device map", choices=("auto",), check=_one_process, shown="off",
        doc="spread a model larger than one GPU over every visible GPU (then CPU memory) with accelerate's device "
            "map; refused under `accelerate launch`, where each process holds its own copy")
    dtype: str = option(
        "--dtype", "model precision (auto: bfloat16 on GPU, float32 on CPU)", default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        doc="precision (`auto`: bfloat16 on a GPU that has it, else float32)")
    cache_dir: Path = option(
        "--cache-dir", "model/adapter cache (default $TUNEGATE_CACHE_DIR or .tunegate-cache)", value=REQUIRED,
        path=True, convert=_cache_root, check=_folder, metavar="DIR",
        shown="`$TUNEGATE_CACHE_DIR` or `.tunegate-cache`", doc="trained adapters and the models' stored answers")
    answer_cache: bool = option(
        "--no-answer-cache", "recompute every model answer instead of reusing those an earlier run stored in the "
        "cache for the same weights and environment", default=False, value=True, switch=True,
        convert=lambda value, _: not value,
        doc="recompute every model answer instead of reusing those stored by an earlier run")
    request_cache: Path | None = option(
        "--request-cache", "keep every model answer in this SQLite file (keyed by base and adapter digests, request "
        "and generation settings) instead of the cache folder's JSON files: a re-run after a gate-config change "
        "recomputes nothing", path=True, convert=_absolute, check=_sqlite, metavar="PATH",
        doc="keep every model answer in this SQLite file (created when missing) instead of "
            "`<cache-dir>/answers/`; see \"One model interface, one request cache\"")
    fixtures: Path = option(  # the data folder (user code reads `tunegate.settings.fixtures`)
        "--data-dir", "data and config folder (default: <rootdir>/fixtures)", value=REQUIRED, path=True,
        convert=_data_folder, metavar="DIR", shown="`fixtures`",
        doc="the data folder ([data-folder.md](data-folder.md)); a relative path is taken from the rootdir (the "
            "folder of your pytest configuration), like `--report-dir`")
    allow_pickle: bool = option(
        "--allow-pickle", "allow loading pickled .bin weights", default=False, switch=True,
        doc="allow pickled `.bin` weights (refused by default: pickle can run code)")
    ppl_window: int = option(
        "--ppl-window", "perplexity window in tokens (default %(default)s)", default=256, parse=int,
        check=_at_least(2, " tokens"), metavar="N", doc="perplexity window in tokens")
    ppl_stride: int = option(
        "--ppl-stride", "perplexity sliding-window stride (default %(default)s)", default=192, parse=int, metavar="N",
        doc="sliding-window stride for texts longer than the window (1 to window - 1)")
    checkpoints: Path | None = option(
        "--checkpoints", "audit: run directory with checkpoint-N/ adapter folders (default: the built-in replay "
        "sequence's stages)", path=True, convert=_absolute, check=_exists, metavar="DIR",
        shown="the built-in replay sequence",
        doc="audit: a run's checkpoints: `DIR/checkpoint-N/` (HF Trainer, peft, LLaMA-Factory), ms-swift's "
            "`DIR/v<K>-<date>-<time>/checkpoint-N/` (the newest launch, named in the report), or a flat folder of "
            "adapter folders (ordered by the number in each name); the loss history of the last checkpoint's "
            "`trainer_state.json` (or its parent's) is charted in the report's training section")
    checkpoint_launches: str = option(
        "--checkpoint-launches", "an ms-swift output folder under --checkpoints: audit the newest launch "
        "(v<K>-...) or all launches in order (default: %(default)s)", default="newest", choices=("newest", "all"),
        doc="an ms-swift output folder: audit its newest launch, or every launch in launch order (checkpoints "
            "named `v<K>-.../checkpoint-N`)")
    prompt_format: str = option(
        "--prompt-format", "how prompts are rendered: auto (the tokenizer's chat template, else the plain "
        "Question:/Answer: format), chat (the template, required), plain, or a .jinja chat template file",
        default="auto", convert=_prompt_format, check=_format, metavar="auto|chat|plain|FILE.jinja",
        doc="how prompts are rendered: the tokenizer's chat template, else (a GPT-2 style base without one) the "
            "plain format `Question: ...\\nAnswer:` (system text first, earlier turns as `Answer: ...` lines); "
            "`chat` requires the template; a `.jinja` file replaces it. Part of the model's digest")
    batch_size: int | str = option(
        "--batch-size", "sequences per padded batch when models answer: N, or auto (64 on CPU, 256 on a GPU, "
        "halved until it fits); default %(default)s. A batch that runs out of accelerator memory is halved and retried",
        default=64, parse=_batch_size, check=_at_least(1), metavar="N|auto",
        doc="sequences per padded batch when models answer or are scored (length-sorted); a batch that runs out of "
            "accelerator memory is run in halves, and the smaller size is kept for the rest of the run. `auto` "
            "starts at 64 on CPU and 256 on a GPU and lets that back-off find what fits")
    max_new_tokens: int = option(
        "--max-new-tokens", "longest greedy answer in tokens (default %(default)s)", default=48, parse=int,
        check=_at_least(1), metavar="N",
        doc="longest greedy answer; generation also stops at eos and at the chat template's end-of-turn token "
            "(`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>` ...)")
    history: Path | None = option(
        "--history", "audit history file, .csv or .parquet (default: <report-dir>/history.csv)", path=True,
        convert=_history, check=_history_file, metavar="FILE", shown="`<report-dir>/history.csv`",
        doc="audit history, `.csv` or `.parquet`, appended (a symbolic link stays one: its target is appended to)")
    save_baseline: Path | None = option(
        "--save-baseline", "store this run's metrics and outputs as baseline NAME (refused when a gate failed or "
        "tests were deselected)", convert=_baseline("--save-baseline"), metavar="NAME",
        doc="store this run's metrics and outputs as baseline NAME (refused, exit 4, when a gate failed or tests "
            "were deselected; never after an interrupted or erroring run)")
    save_baseline_anyway: bool = option(
        "--save-baseline-anyway", "save the baseline even when a gate failed or -m/-k deselected tests",
        default=False, switch=True,
        doc="save the baseline even when a gate failed or `-m`/`-k` deselected tests")
    train_seed: int | None = option(
        "--train-seed", "override the seed of every training recipe (the seed sweep)", parse=int, metavar="N",
        check=_within(0, 2**32 - 1, "a seed torch, Python and NumPy all take"), shown="the recipes' seeds",
        doc="replace the seed of every training recipe (what `bench/seed_sweep.py` varies)")
    baseline: Path | None = option(
        "--baseline", "compare with stored baseline NAME ([baseline] and [drift] gates); a missing baseline is an "
        "error", convert=_baseline("--baseline"), metavar="NAME",
        doc="compare with baseline NAME (`[baseline]` and `[drift]` gates); missing = error")
    baseline_dir: Path | None = option(  # None when built without pytest (then no baseline is named)
        "--baseline-dir", "folder of baseline files (default: baselines)", default="baselines", value=None,
        path=True, convert=_in_rootdir, check=_folder, metavar="DIR", doc="where baselines live")
    tuned_model: Path | None = option(
        "--tuned-model", "a full fine-tuned (or merged) model folder evaluated against --base-model instead of an "
        "adapter; adapter-specific capabilities are not applicable", path=True, convert=_absolute, check=_exists,
        metavar="DIR",
        doc="a full fine-tuned (or merged) model evaluated against `--base-model` instead of an adapter (same "
            "`model_type`, vocabulary and width, checked at configure); adapter health reports \"not applicable\"; "
            "nothing is trained; not with `--adapter`")
    shadow: Path | None = option(
        "--shadow", "a second adapter run on the same probes; disagreement with the adapter under test is "
        "reported", path=True, convert=_absolute, check=_exists, metavar="PATH",
        doc="a second adapter whose answers are compared with the adapter under test's")

    @property
    def data_folder(self) -> DataFolder:
        """The data folder (`--data-dir`; `fixtures` is its path), which knows every file of the contract."""
        return DataFolder(self.fixtures)

    @property
    def brings_model(self) -> bool:
        """Whether the user brought what is evaluated (--adapter or --tuned-model): then nothing is trained."""
        return self.adapter is not None or self.tuned_model is not None

    def __post_init__(self) -> None:
        """Reject values no run can use, naming the option: each option's own check, then the combinations."""
        check_values(self)
        if not 0 < self.ppl_stride < self.ppl_window:
            raise ValueError(f"--ppl-stride must be in [1, {self.ppl_window - 1}] (below --ppl-window "
                             f"{self.ppl_window}: every window keeps context), got {self.ppl_stride}")
        if self.adapter is not None and self.tuned_model is not None:
            raise ValueError("--adapter and --tuned-model: give one (an adapter over --base-model, or a full "
                             "fine-tuned model)")
        if self.request_cache is not None and not self.answer_cache:
            raise ValueError("--request-cache and --no-answer-cache: give one (keep answers in the file, or "
                             "recompute every answer)")
        if self.save_baseline_anyway and self.save_baseline is None:
            raise ValueError("--save-baseline-anyway needs --save-baseline NAME")

