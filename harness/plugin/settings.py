"""The effective options of one tunegate run, and the stash key its session state lives under.

Light on purpose: the plugin reads these before deciding whether a run uses tunegate at all, so a project that
only installed it never imports torch (see `harness.plugin`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.model.answer_stores import sqlite_file_problem


@dataclass(frozen=True)
class Settings:
    """The effective command-line configuration of one run."""

    rootdir: Path
    fixtures: Path
    base_model: str
    adapter: Path | None
    gates_file: str | None
    report_dir: Path
    cache_dir: Path
    device: str
    dtype: str
    allow_pickle: bool
    ppl_window: int = 256
    ppl_stride: int = 192
    checkpoints: Path | None = None
    history: Path | None = None
    baseline: Path | None = None
    save_baseline: Path | None = None
    save_baseline_anyway: bool = False
    shadow: Path | None = None
    train_seed: int | None = None
    answer_cache: bool = True
    prompt_format: str = "auto"
    batch_size: int | str = 64  # or "auto"
    max_new_tokens: int = 48
    tuned_model: Path | None = None
    checkpoint_launches: str = "newest"
    device_map: str | None = None
    request_cache: Path | None = None
    require_all_gates: bool = False

    @property
    def brings_model(self) -> bool:
        """Whether the user brought what is evaluated (--adapter or --tuned-model): then nothing is trained."""
        return self.adapter is not None or self.tuned_model is not None

    def __post_init__(self) -> None:
        """Reject values no run can use, naming the option."""
        if self.ppl_window < 2:
            raise ValueError(f"--ppl-window must be at least 2 tokens, got {self.ppl_window}")
        if not 0 < self.ppl_stride < self.ppl_window:
            raise ValueError(f"--ppl-stride must be in [1, {self.ppl_window - 1}] (below --ppl-window "
                             f"{self.ppl_window}: every window keeps context), got {self.ppl_stride}")
        if self.history is not None and self.history.suffix not in (".csv", ".parquet"):
            raise ValueError(f"--history {self.history}: the file must end in .csv or .parquet")
        if self.adapter is not None and self.tuned_model is not None:
            raise ValueError("--adapter and --tuned-model: give one (an adapter over --base-model, or a full "
                             "fine-tuned model)")
        for option, path in (("--adapter", self.adapter), ("--shadow", self.shadow),
                             ("--checkpoints", self.checkpoints), ("--tuned-model", self.tuned_model)):
            if path is not None and not path.exists():
                raise ValueError(f"{option} {path}: no such file or folder")
        for option, folder in (("--report-dir", self.report_dir), ("--cache-dir", self.cache_dir)):
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"{option} {folder}: is a file, expected a folder (it is created when missing)")
        if self.history is not None and self.history.is_dir():
            raise ValueError(f"--history {self.history}: is a folder, expected a .csv or .parquet file")
        if self.prompt_format not in ("auto", "chat", "plain") and not (
                self.prompt_format.endswith(".jinja") and Path(self.prompt_format).is_file()):
            raise ValueError(f"--prompt-format {self.prompt_format}: expected auto, chat, plain or an existing "
                             ".jinja chat template file")
        for option, value in (("--batch-size", self.batch_size), ("--max-new-tokens", self.max_new_tokens)):
            if value != "auto" and value < 1:
                raise ValueError(f"{option} must be at least 1, got {value}")
        if self.device_map and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ValueError("--device-map auto spreads one model over every GPU; under accelerate launch each "
                             "process has its own GPU: use one or the other")
        self._check_request_cache()
        if self.save_baseline_anyway and self.save_baseline is None:
            raise ValueError("--save-baseline-anyway needs --save-baseline NAME")


    def _check_request_cache(self) -> None:
        """--request-cache must name an SQLite file (or a new one) and is an answer cache: not with
        --no-answer-cache."""
        if self.request_cache is None:
            return
        if not self.answer_cache:
            raise ValueError("--request-cache and --no-answer-cache: give one (keep answers in the file, or "
                             "recompute every answer)")
        problem = sqlite_file_problem(self.request_cache)
        if problem:
            raise ValueError(f"--request-cache {self.request_cache}: {problem}")


STATE = pytest.StashKey["SessionState"]()  # the session state of a run that uses tunegate
DORMANT = pytest.StashKey[str]()  # why tunegate sleeps in this run: no gate config was found
