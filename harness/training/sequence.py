"""Continual learning: train increment after increment, each stage continuing from the previous adapter.

The layout practitioners use: `tasks/base/`, `tasks/increment_1/`, `tasks/increment_2/`, ... each with
`train.json` and `dev.json`. Stage 0 is the base model (it learned the base task); stage i trains task i
starting from stage i-1's adapter, with the recipe's strategy: plain fine-tuning (naive), replay of earlier
stages' data (`replay_source = "earlier"`), frozen lower layers (`train_top_layers`) or an L2 pull toward the
previous stage (`l2_to_previous`). Every stage is an ordinary cached adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data import DataError, Example, load_examples
from harness.data.folder import BASE_TASK, DataFolder
from harness.model.loading import BaseModel
from harness.training.lora import replay_pool, train_adapter
from harness.training.recipe import LoraRecipe


@dataclass(frozen=True)
class Stage:
    """One checkpoint of a sequence: the task it learned and its adapter (None for the base model)."""

    index: int
    task: str
    adapter: Path | None
    info: dict


def sequence_tasks(fixtures: Path) -> list[str]:
    """`base` then every `increment_N` folder under `fixtures/tasks`, by N; each must have dev.json (what every
    evaluation reads). Their train.json is needed only where something trains (`require_training_data`)."""
    folder = DataFolder(fixtures)
    tasks = [BASE_TASK, *folder.increments()]
    for task in tasks:
        if not folder.task(task, "dev").is_file():
            raise DataError(f"{folder.task(task, 'dev')}: missing; every task folder needs a dev.json (and a "
                            "train.json where tunegate trains: without --adapter or --tuned-model)")
    return tasks


def require_training_data(fixtures: Path, tasks: list[str]) -> None:
    """Every task's train.json, which training the sequence reads: a DataError naming the first one missing."""
    for path in (DataFolder(fixtures).task(task, "train") for task in tasks):
        if not path.is_file():
            raise DataError(f"{path}: missing; this run trains adapters (no "
                            "--adapter or --tuned-model given, and suites selected that train), which needs every "
                            "task's train.json. To judge a model you trained, pass --adapter=PATH (or "
                            "--tuned-model=PATH); to audit a run, -m audit --checkpoints=RUN_DIR: both need only "
                            "the dev sets")


def task_split(fixtures: Path, task: str, split: str) -> list[Example]:
    """`tasks/<task>/<split>.json`."""
    return load_examples(DataFolder(fixtures).task(task, split))


def stage_replay(fixtures: Path, recipe: LoraRecipe, earlier_tasks: list[str]) -> list[Example]:
    """What stage replay draws from: for "earlier", every earlier task's training data, task-balanced (smaller
    tasks repeated up to the largest, so a 120-example increment is replayed as often as a 1215-example base
    task); else `replay_pool`."""
    if not (recipe.replay_ratio and recipe.replay_source == "earlier"):
        return replay_pool(fixtures, recipe)
    per_task = [task_split(fixtures, task, "train") for task in earlier_tasks]
    largest = max(map(len, per_task))
    return [examples[i % len(examples)] for examples in per_task for i in range(largest)]


def train_sequence(base: BaseModel, fixtures: Path, recipe: LoraRecipe, cache_root: Path, strategy: str,
                   stages: int | None = None, train: bool = True) -> list[Stage] | None:
    """Stage 0 (the base model) and one trained, cached stage per increment (only the first `stages` when
    given), each continuing the last. With `train=False` only the cache is looked up: None when a stage is
    not there."""
    tasks = sequence_tasks(fixtures)
    tasks = tasks[: 1 + stages] if stages is not None else tasks
    require_training_data(fixtures, tasks)
    out = [Stage(0, tasks[0], None, {})]
    for index, task in enumerate(tasks[1:], start=1):
        trained = train_adapter(base, task_split(fixtures, task, "train"), recipe, cache_root,
                                replay=stage_replay(fixtures, recipe, tasks[:index]),
                                dev=task_split(fixtures, task, "dev") if recipe.eval_every else (),
                                name=f"{strategy}-{task}", init_from=out[-1].adapter, train=train)
        if trained is None:
            return None
        out.append(Stage(index, task, trained.path, {**trained.info, "log": trained.log}))
    return out
