"""Where a training run keeps its checkpoints, in the layouts fine-tuning tools write (docs/options.md, --checkpoints).

HF Trainer / peft / LLaMA-Factory `RUN/checkpoint-N/`, ms-swift's one versioned folder per launch (the newest, or
every launch in order), or a flat folder of adapters ordered by the number in each name. Found in one pass; a
checkpoint without an adapter, a looping or dangling link, or no known layout is a DataError naming the path,
because a nightly audit that silently audits nothing is worse than one that stops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.data import DataError
from harness.foundation.errors import read_json
from harness.foundation.textfiles import read_text_file
from harness.foundation.values import is_number

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_SWIFT_RUN = re.compile(r"^v(\d+)-\d{8}-\d{6}$")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run: its name, training step and adapter folder."""

    name: str
    step: int
    path: Path


@dataclass(frozen=True)
class CheckpointRun:
    """The checkpoints found under a folder, the layout they were found in and a line saying so."""

    checkpoints: list[Checkpoint]
    layout: str
    source: str

    def training_log(self) -> dict:
        """The loss history of the run (`{"log": [...], "source": file}`) from the `trainer_state.json` of its
        last checkpoint that has one; `{}` when none does."""
        return next((log for c in reversed(self.checkpoints) if (log := external_training_log(c.path))), {})


def find_checkpoints(run_dir: Path, launches: str = "newest") -> list[Checkpoint]:
    """The checkpoints of `run_dir` in training order (see `find_run`)."""
    return find_run(run_dir, launches).checkpoints


def find_run(run_dir: Path, launches: str = "newest") -> CheckpointRun:
    """The checkpoints under `run_dir`: its `checkpoint-N/` folders; else those of its newest ms-swift launch (or,
    with `launches="all"`, of every launch in launch order); else its adapter folders. A DataError names the
    folder when none of these is there."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: --checkpoints must be a run directory holding checkpoint-N/ folders")
    if found := _trainer_checkpoints(run_dir):
        return CheckpointRun(found, "trainer", f"{run_dir}: {len(found)} checkpoint-N/ folders")
    found_launches = sorted((int(m[1]), d.name, d) for d in run_dir.iterdir()
                            if (m := _SWIFT_RUN.match(d.name)) and d.is_dir() and any(d.glob("checkpoint-*")))
    if found_launches:
        return _swift_run(run_dir, [d for _, _, d in found_launches], launches)
    adapters = [d for d in sorted(run_dir.iterdir()) if d.is_dir() and (d / "adapter_config.json").is_file()]
    if adapters:
        ordered = sorted(adapters, key=lambda d: (_number(d.name) is None, _number(d.name) or 0, d.name))
        found = [Checkpoint(d.name, _number(d.name) or i, d) for i, d in enumerate(ordered, start=1)]
        return CheckpointRun(found, "flat", f"{run_dir}: {len(found)} adapter folders")
    raise DataError(f"{run_dir}: no checkpoint-N/ folder with an adapter_config.json (nor ms-swift "
                    "v<K>-<date>-<time>/checkpoint-N/ launches, nor adapter folders)")


def _swift_run(run_dir: Path, launches: list[Path], which: str) -> CheckpointRun:
    """The checkpoints of the newest ms-swift launch, or of all of them (named `<launch>/checkpoint-N`)."""
    if which == "all":
        found = [Checkpoint(f"{launch.name}/{c.name}", c.step, c.path)
                 for launch in launches for c in _trainer_checkpoints(launch)]
        return CheckpointRun(found, "ms-swift", f"{run_dir}: {len(found)} checkpoints of all {len(launches)} "
                                                "ms-swift launches, in launch order")
    found = _trainer_checkpoints(launches[-1])
    return CheckpointRun(found, "ms-swift", f"{launches[-1]}: {len(found)} checkpoints of the newest of "
                                            f"{len(launches)} ms-swift launches")


def _number(name: str) -> int | None:
    match = _NUMBER.search(name)
    return int(match[1]) if match else None


def _trainer_checkpoints(folder: Path) -> list[Checkpoint]:
    """The `checkpoint-N/` folders of `folder`, ordered by N; a DataError for one without an adapter (a checkpoint
    saved with its optimizer state only would otherwise be skipped in silence), a bad link, or an adapter folder
    named checkpoint-<not a number> beside them (checkpoint-final: skipped, the run would be audited without it)."""
    found, unnumbered = [], []
    for entry in folder.iterdir():
        if not (m := _CHECKPOINT.match(entry.name)):
            if entry.name.startswith("checkpoint-") and (entry / "adapter_config.json").is_file():
                unnumbered.append(entry)
            continue
        if entry.is_symlink():
            _follow(entry)
        if not entry.is_dir():
            continue
        if not (entry / "adapter_config.json").is_file():
            held = ", ".join(sorted(p.name for p in entry.iterdir())[:6]) or "nothing"
            raise DataError(f"{entry}: no adapter_config.json (it holds {held}): a checkpoint without its adapter "
                            "cannot be audited; remove the folder or save the adapter into it")
        found.append((int(m[1]), entry))
    if found and unnumbered:
        raise DataError(f"{min(unnumbered)}: an adapter beside checkpoint-N/ folders but with no step N in its "
                        "name, so it has no place in the run's order; rename it checkpoint-<step>, or evaluate it "
                        f"alone with --adapter {min(unnumbered)}")
    return [Checkpoint(d.name, step, d) for step, d in sorted(found)]


def _follow(link: Path) -> None:
    """A DataError naming a symbolic link that loops or points at nothing."""
    try:
        link.resolve(strict=True)
    except RuntimeError as err:  # Python < 3.13 reports a loop this way
        raise DataError(f"{link}: symbolic link loop; point it at a checkpoint folder or remove it") from err
    except OSError as err:
        kind = "symbolic link loop" if "loop" in str(err).lower() else "broken symbolic link"
        raise DataError(f"{link}: {kind}; point it at a checkpoint folder or remove it") from err


def external_training_log(adapter: Path) -> dict:
    """The loss log of an adapter trained elsewhere, from HF Trainer's `trainer_state.json` (in the adapter
    folder or its parent), as `{"log": [{"step", "loss" | "eval_loss"}, ...], "source": file}`; `{}` when there
    is none. A file that is not JSON, whose `log_history` is not a list, or a logged step whose step or loss is
    not a number, is a DataError naming it."""
    for candidate in (adapter / "trainer_state.json", adapter.parent / "trainer_state.json"):
        if candidate.is_file():
            return {"log": _loss_rows(candidate), "source": str(candidate)}
    return {}


def _loss_rows(path: Path) -> list[dict]:
    """The logged steps of a `trainer_state.json` that carry a loss, each checked to be numbers."""
    state = read_json(path, read_text_file(path, DataError, "trainer state"), DataError)
    history = state.get("log_history", []) if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise DataError(f"{path}: log_history must be a list of logged steps")
    rows = []
    for index, row in enumerate(history):
        if not (isinstance(row, dict) and "step" in row and ("loss" in row or "eval_loss" in row)):
            continue
        if bad := next((k for k in ("step", "loss", "eval_loss") if k in row and not is_number(row[k])), None):
            raise DataError(f"{path}: log_history[{index}] key {bad!r} must be a number, got {row[bad]!r}; the "
                            "file was not written by the Trainer: restore or remove it")
        rows.append({"step": row["step"], **{k: row[k] for k in ("loss", "eval_loss") if k in row}})
    return rows
