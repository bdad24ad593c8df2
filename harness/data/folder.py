"""The data folder (`--data-dir`, docs/data-folder.md): every path of its contract, what a folder holds, and which
capability reads which of its files.

Every relative name is written here once; the rest of tunegate asks a `DataFolder` for a path (or, where a name
itself is recorded, as in the built-in model's build key and the not-judged reasons, for the name). The names are
part of the user-facing contract and of cache keys: changing one is a breaking change, not a refactoring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.data import IdentitySpec, load_identity_spec

GATES = "gates.toml"
RECIPES = "recipes.toml"
PROMPTED = "prompted.toml"
IDENTITY = "identity/identity.toml"
SELF_COGNITION = "identity/self_cognition.json"
PROBES = "identity/probes.json"
TASKS = "tasks"
BASE_TASK = "base"
BASE_TRAIN = "tasks/base/train.json"
BASE_DEV = "tasks/base/dev.json"
INCREMENT_TRAINS = "tasks/increment_*/train.json"
INCREMENT_DEVS = "tasks/increment_*/dev.json"
HELDOUT = "perplexity/heldout.txt"
BUILTIN_IDENTITY = "builtin/base_identity.json"
BUILTIN_VOCABULARY = "builtin/vocabulary.txt"
BUILTIN_PROSE = "builtin/prose.txt"
BUILTIN_PROMPT_LESSONS = "builtin/prompt_lessons.json"  # optional: system-prompt lessons (bench/prompt_following.py)
BUILTIN_MODEL = "builtin/model"
SPLITS = ("train", "dev")

IDENTITY_DATA = (IDENTITY, SELF_COGNITION, PROBES)  # what the identity capability needs, all three
CONTRACT = (GATES, IDENTITY, SELF_COGNITION, PROBES, BASE_DEV, BASE_TRAIN, INCREMENT_DEVS, INCREMENT_TRAINS,
            HELDOUT, PROMPTED, RECIPES, BUILTIN_IDENTITY, BUILTIN_VOCABULARY, BUILTIN_PROSE, BUILTIN_PROMPT_LESSONS,
            BUILTIN_MODEL)

_INCREMENT = re.compile(r"^increment_(\d+)$")


def task_file(task: str, split: str) -> str:
    """The relative name of a task's split.

    >>> task_file(BASE_TASK, "dev") == BASE_DEV, task_file("increment_2", "train")
    (True, 'tasks/increment_2/train.json')
    """
    return f"{TASKS}/{task}/{split}.json"


@dataclass(frozen=True)
class Needs:
    """The data files (glob patterns) a capability reads: all of `files`, or else all of `otherwise`; `gates`
    maps a metric to the files only its gates need; `optional` files are read as well when all are present."""

    files: tuple[str, ...]
    otherwise: tuple[str, ...] = ()
    gates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    optional: tuple[str, ...] = ()


NEEDS: Mapping[str, Needs] = {  # capability -> what its suite reads (the suites' `reads` marks come from here)
    "identity": Needs(IDENTITY_DATA),
    "shadow": Needs(IDENTITY_DATA),
    "old_task": Needs((BASE_DEV,)),
    "perplexity": Needs((BASE_DEV,), gates={"heldout_ratio": (HELDOUT,)}),
    "adapter_health": Needs((BASE_DEV,), optional=(IDENTITY, SELF_COGNITION)),
    "generation": Needs(IDENTITY_DATA, otherwise=(BASE_DEV,), gates={"chrf_gain": IDENTITY_DATA}),
    "latency": Needs((BASE_DEV,)),
    "audit": Needs((BASE_DEV,)),
    "new_task": Needs((INCREMENT_DEVS,)),
    "forgetting": Needs((BASE_DEV, INCREMENT_DEVS)),
}


@dataclass(frozen=True)
class DataFolder:
    """One data folder: the path of every file of the contract under `root`, and what is there."""

    root: Path

    def path(self, name: str) -> Path:
        """`root / name` for a relative name of the contract."""
        return self.root / name

    @property
    def gates(self) -> Path:
        """Thresholds and decision rules (`gates.toml`)."""
        return self.root / GATES

    @property
    def recipes(self) -> Path:
        """LoRA recipes (`recipes.toml`)."""
        return self.root / RECIPES

    @property
    def prompted(self) -> Path:
        """The new task's prompt-only baseline (`prompted.toml`)."""
        return self.root / PROMPTED

    @property
    def identity(self) -> Path:
        """The identity to learn and the others' (`identity/identity.toml`)."""
        return self.root / IDENTITY

    @property
    def self_cognition(self) -> Path:
        """The identity training data (`identity/self_cognition.json`)."""
        return self.root / SELF_COGNITION

    @property
    def probes(self) -> Path:
        """The identity probes by kind (`identity/probes.json`)."""
        return self.root / PROBES

    @property
    def heldout(self) -> Path:
        """Plain text the model never trained on (`perplexity/heldout.txt`)."""
        return self.root / HELDOUT

    @property
    def tasks(self) -> Path:
        """The folder of the base task and the increments (`tasks/`)."""
        return self.root / TASKS

    @property
    def base_dev(self) -> Path:
        """The old task's dev set (`tasks/base/dev.json`)."""
        return self.root / BASE_DEV

    @property
    def base_train(self) -> Path:
        """The old task's training data (`tasks/base/train.json`)."""
        return self.root / BASE_TRAIN

    @property
    def builtin_model(self) -> Path:
        """The shipped built-in base model's folder (`builtin/model`)."""
        return self.root / BUILTIN_MODEL

    def task(self, task: str, split: str) -> Path:
        """`tasks/<task>/<split>.json`."""
        return self.root / task_file(task, split)

    def missing(self, patterns: Sequence[str]) -> list[str]:
        """The glob patterns nothing in the folder matches."""
        return [pattern for pattern in patterns if not any(self.root.glob(pattern))]

    def increments(self) -> list[str]:
        """The `increment_N` task folders under `tasks/`, by N (none when there is no `tasks/`)."""
        if not self.tasks.is_dir():
            return []
        found = ((int(m[1]), d.name) for d in self.tasks.iterdir() if d.is_dir() and (m := _INCREMENT.match(d.name)))
        return [name for _, name in sorted(found)]

    def misnamed_increments(self) -> list[str]:
        """Folders under `tasks/` named like an increment but not `increment_N` (`increment_one`, `increment_1_v2`):
        the glob of NEEDS matches them while `increments()` skips them, so new_task would grade no increment."""
        if not self.tasks.is_dir():
            return []
        return sorted(d.name for d in self.tasks.iterdir()
                      if d.is_dir() and d.name.startswith("increment") and not _INCREMENT.match(d.name))

    def trains_increments(self) -> bool:
        """Whether some increment has training data (a sequence can be trained)."""
        return any(self.root.glob(INCREMENT_TRAINS))

    def missing_for(self, capability: str) -> list[str]:
        """What `capability` needs and the folder lacks (empty when its files, or its alternative, are there)."""
        needs = NEEDS[capability]
        gaps = self.missing(needs.files)
        return [] if needs.otherwise and not self.missing(needs.otherwise) else gaps

    def identity_spec(self) -> IdentitySpec | None:
        """The identity of `identity/identity.toml`, None when the folder has none."""
        return load_identity_spec(self.identity) if self.identity.exists() else None
