"""The typed model inputs of the capabilities: which models an evaluator compares, by name, not by position.

Each capability's evaluator takes one of these as its `models` (the registry in `harness.capabilities` states
which), so a reader following `models` from a suite lands on a typed signature instead of a tuple whose shape
depends on the suite.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from harness.model.protocol import InspectableModel, LanguageModel


@dataclass(frozen=True)
class ModelSet:
    """The base model, the tuned model, and optionally the base told in its prompt what the adapter learned.

    Iterating gives (base, tuned[, prompted]), the tuple plug-ins were written against before the type existed
    (`base, tuned = models` keeps working).
    """

    base: LanguageModel
    tuned: LanguageModel
    prompted: LanguageModel | None = None

    def __iter__(self) -> Iterator[LanguageModel]:
        yield self.base
        yield self.tuned
        if self.prompted is not None:
            yield self.prompted

    def __len__(self) -> int:
        return 2 if self.prompted is None else 3

    def __getitem__(self, index: int) -> LanguageModel:
        return tuple(self)[index]

    def with_prompted(self, prompted: LanguageModel | None) -> ModelSet:
        """This set with the prompt-only baseline added (unchanged when `prompted` is None)."""
        return self if prompted is None else replace(self, prompted=prompted)

    def pair(self) -> tuple[LanguageModel, LanguageModel]:
        """(base, tuned): the two models the run record names as compared."""
        return self.base, self.tuned


@dataclass(frozen=True)
class HealthModels:
    """The adapter-health inputs: base and tuned views, and a merged copy of the tuned one."""

    base: InspectableModel
    tuned: InspectableModel
    merged: InspectableModel

    def pair(self) -> tuple[LanguageModel, LanguageModel]:
        """(base, tuned)."""
        return self.base, self.tuned


@dataclass(frozen=True)
class ShadowPair:
    """The adapter under test and the --shadow adapter answering the same probes."""

    tuned: LanguageModel
    shadow: LanguageModel

    def pair(self) -> tuple[LanguageModel, LanguageModel]:
        """(tuned, shadow): recorded as the compared pair, the shadow in the tuned slot."""
        return self.tuned, self.shadow


@dataclass(frozen=True)
class CheckpointModels:
    """The audit's inputs: the base model and one model per audited checkpoint, in training order."""

    base: LanguageModel
    checkpoints: Sequence[LanguageModel]


@dataclass(frozen=True)
class LatencyViews:
    """What the latency capability times: the plain base, the tuned view and, when given, its merged copy and the
    prompt-only baseline."""

    base: LanguageModel
    tuned: LanguageModel
    merged: LanguageModel | None = None
    prompted: LanguageModel | None = None

    def named(self) -> dict[str, LanguageModel]:
        """The views present, by the name their figures are recorded under (base first)."""
        views = {"base": self.base, "tuned": self.tuned, "merged": self.merged, "prompted": self.prompted}
        return {name: view for name, view in views.items() if view is not None}


ComparedModels = ModelSet | HealthModels | ShadowPair  # the inputs whose two models the run record names
