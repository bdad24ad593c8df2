"""Session fixtures: the base model, the adapters under test (trained once, cached, file-locked), their
base / tuned / merged views, and the continual-learning sequences.

Registered by `harness.plugin` in `pytest_configure` of a run that uses tunegate; each fixture records what it
built in the run record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NamedTuple, TypeVar

import pytest

from harness.foundation.process_gc import collector_paused

with collector_paused():  # peft's import otherwise runs full collections (see harness.foundation.process_gc)
    from harness.data import IdentitySpec, load_identity_spec
    from harness.evaluators.checkpoints import external_training_log
    from harness.foundation.cpu import processes_sharing_cores, share_cores_among_workers, usable_cores
    from harness.foundation.errors import InputError
    from harness.model import processes
    from harness.model.answer_stores import AnswerStore, FolderStore, SqliteStore
    from harness.model.files import named_adapters
    from harness.model.lm import answer_fingerprint
    from harness.model.loading import BaseModel, adapter_digest, resolve_batch_size, resolve_device, resolve_dtype
    from harness.model.protocol import LanguageModel
    from harness.model.sets import ModelSet
    from harness.model.views import base_and_full, base_and_tuned, base_tuned_and_shadow
    from harness.plugin.settings import Settings
    from harness.plugin.stash import STATE
    from harness.plugin.state import SessionState
    from harness.training.jobs import SideBySide, TrainingJob, train_identity, train_side_by_side
    from harness.training.lora import TrainedAdapter
    from harness.training.recipe import LoraRecipe, load_recipe
    from harness.training.sequence import Stage, require_training_data, sequence_tasks, train_sequence

SEQUENCE_STRATEGIES = ("replay", "naive")  # the first is gated; the rest are reported for comparison


T = TypeVar("T")


@pytest.fixture(scope="session")
def base_model(tunegate: SessionState) -> BaseModel:
    """The base model: a folder given by --base-model, or the built-in toy model (built once, cached)."""
    from harness.training.builtin import builtin_model_folder

    s = tunegate.settings
    sharing = processes.current()  # under `accelerate launch`: joins the process group, picks this rank's GPU
    device = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype, device)
    folder = builtin_model_folder(s.fixtures, s.cache_dir) if s.base_model == "builtin" else Path(s.base_model)
    base = BaseModel.at(folder, device=device, dtype=dtype, allow_pickle=s.allow_pickle, prompt_format=s.prompt_format,
                        batch_size=resolve_batch_size(s.batch_size, device), max_new_tokens=s.max_new_tokens,
                        device_map=s.device_map)
    if device == "cpu":
        share_cores_among_workers()
    if s.answer_cache:
        store = _answer_store(s, answer_fingerprint(device, dtype, base.batch_size))
        tunegate.requests.persist(store, write=sharing.is_main and store.writable())
    run = tunegate.record.run
    run.base_model = {"name": s.base_model, "path": base.path, "sha256": base.digest}
    run.device, run.dtype = device, dtype
    if sharing.world > 1:
        run.sections["processes"] = sharing.describe()
    return base


def _answer_store(s: Settings, fingerprint: dict) -> AnswerStore:
    """Where answers outlive the session: the --request-cache SQLite file, else JSON files in the cache folder."""
    if s.request_cache is not None:
        return SqliteStore(s.request_cache, fingerprint)
    return FolderStore(s.cache_dir / "answers", fingerprint)


@pytest.fixture(scope="session")
def identity_spec(tunegate: SessionState) -> IdentitySpec:
    """The identity the adapter must learn (fixtures/identity/identity.toml)."""
    return load_identity_spec(tunegate.settings.data_folder.identity)


@pytest.fixture(scope="session")
def trained_adapters(request: pytest.FixtureRequest, tunegate: SessionState, base_model: BaseModel
                     ) -> Iterator[SideBySide]:
    """Train, side by side, every adapter chain the selected tests use that the cache lacks: on a multi-core CPU
    the longest chain (the gated sequence) in a helper process while this one trains the others and then goes on
    evaluating; on a GPU or under pytest-xdist (whose workers already share the cores) one after another. A
    suite that asks for an adapter only at run time (getfixturevalue) declares it with a `trains` mark; one that
    does not is trained when asked."""
    s = tunegate.settings
    used = _fixtures_used(request.session.items, s)
    jobs: list[TrainingJob] = []
    if _uses_sequences(used, s):
        jobs.append(_sequence_job(s, base_model, SEQUENCE_STRATEGIES[0]))  # the longest first: the helper's
    if "adapter_under_test" in used and not s.brings_model:
        jobs.append(_identity_job(s, base_model))
    if "sequences" in used:
        jobs += [_sequence_job(s, base_model, strategy) for strategy in SEQUENCE_STRATEGIES[1:]]
    alone = base_model.device != "cpu" or processes_sharing_cores() > 1
    processes = 1 if alone else usable_cores()
    training = train_side_by_side(_worker_order(jobs), processes)
    if training.trained:
        tunegate.record.run.trained_side_by_side = {"chains": training.trained,
                                                       "processes": min(processes, len(training.trained))}
    yield training
    end_training(request, training, tunegate)


def end_training(request: pytest.FixtureRequest, training: SideBySide, state: SessionState) -> None:
    """Wait for the helpers' chains (cached for the next run); after a Ctrl-C stop them at once instead, and say
    so in the terminal summary."""
    if request.session.exitstatus != pytest.ExitCode.INTERRUPTED:
        training.finish()
    elif stopped := training.stop():
        state.artifacts.notes.append(f"Ctrl-C: stopped the training helper process(es) {', '.join(map(str, stopped))}"
                                     "; the adapters they had not finished are not cached (the next run trains them)")


def _worker_order(jobs: list[TrainingJob]) -> list[TrainingJob]:
    """The jobs rotated by the pytest-xdist worker's number, so that workers start on different chains (each waits
    on the cache's lock for a chain another worker is training); unchanged outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    shift = int(worker) % len(jobs) if worker.isdigit() and jobs else 0
    return jobs[shift:] + jobs[:shift]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the continual-learning sequences run after the others (keeping their order otherwise):
    on a multi-core CPU the sequence trains in a helper process while the others are evaluated."""
    settings = config.stash[STATE].settings
    items.sort(key=lambda item: _uses_sequences(_fixtures_used([item], settings), settings))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, before any model loads, a run whose selected tests will train while a train.json they read is
    missing: every task's for the sequences, the base task's (replay) for the identity adapter. A run that trains
    nothing, such as `-m audit --checkpoints=DIR`, needs only the dev sets. (A pytest-xdist worker leaves this to
    the training fixtures, whose bad-input error stops the session the same way.)"""
    settings = session.config.stash[STATE].settings
    if hasattr(session.config, "workerinput") or session.config.option.collectonly or \
            not settings.data_folder.tasks.is_dir():
        return
    used = _fixtures_used(session.items, settings)
    tasks = sequence_tasks(settings.fixtures) if _uses_sequences(used, settings) else \
        ["base"] if "adapter_under_test" in used and not settings.brings_model else []
    try:
        require_training_data(settings.fixtures, tasks)
    except InputError as err:
        raise pytest.UsageError(str(err)) from None


def _uses_sequences(used: set[str], settings: Settings) -> bool:
    return "sequences" in used or ("new_task_adapter" in used and not settings.brings_model)


def _fixtures_used(items: list[pytest.Item], settings: Settings) -> set[str]:
    """Fixtures the items use: their fixture closures plus what their `trains` marks name (a mark whose
    `unless` settings are all unset)."""
    used: set[str] = set()
    for item in items:
        used.update(getattr(item, "fixturenames", ()))
        for mark in item.iter_markers("trains"):
            if not any(getattr(settings, name) for name in mark.kwargs.get("unless", ())):
                used.update(mark.args)
    return used


def _identity_job(settings: Settings, base_model: BaseModel) -> TrainingJob[TrainedAdapter]:
    return TrainingJob("identity", partial(train_identity, base_model, settings.fixtures,
                                           recipe_for(settings, "identity"), settings.cache_dir))


def _sequence_job(settings: Settings, base_model: BaseModel, strategy: str) -> TrainingJob[list[Stage]]:
    return TrainingJob(f"sequence.{strategy}", partial(train_sequence, base_model, settings.fixtures,
                                                       recipe_for(settings, f"sequence.{strategy}"),
                                                       settings.cache_dir, strategy))


@pytest.fixture(scope="session")
def adapter_under_test(tunegate: SessionState, base_model: BaseModel, trained_adapters: SideBySide) -> Path | None:
    """The adapter under test: --adapter PATH, or one trained on the identity data (cached, file-locked); None
    under --tuned-model (a full model, no adapter)."""
    s = tunegate.settings
    if s.tuned_model:
        return None
    if external := _external_adapter(tunegate, "identity"):
        return external
    trained_adapters.wait("identity")
    trained = _identity_job(s, base_model).result()
    _record_adapter(tunegate, "identity", trained.path, {**trained.info, "log": trained.log})
    return trained.path


@pytest.fixture(scope="session")
def new_task_adapter(tunegate: SessionState, base_model: BaseModel, trained_adapters: SideBySide) -> Path | None:
    """The new-task adapter: --adapter PATH, or the gated sequence's last stage (base -> ... -> the newest
    increment, recipe `[sequence.replay]`; trained once, cached, shared with the forgetting and audit suites); None
    under --tuned-model."""
    s = tunegate.settings
    if s.tuned_model:
        return None
    if external := _external_adapter(tunegate, "new_task"):
        return external
    job = _sequence_job(s, base_model, SEQUENCE_STRATEGIES[0])
    trained_adapters.wait(job.name)
    stage = job.result()[-1]
    adapter = _needed(stage.adapter)  # the last stage of a sequence is trained, never the base
    _record_adapter(tunegate, "new_task", adapter, stage.info)
    return adapter


def _external_adapter(state: SessionState, role: str) -> Path | None:
    """--adapter PATH (recorded under its folder name, with the roles it is graded in and its Trainer loss log if
    any), or None."""
    adapter = state.settings.adapter
    if adapter:
        name = brought_adapter_name(adapter)
        roles = state.record.run.adapters.get(name, {}).get("roles", [])
        _record_adapter(state, name, adapter, external_training_log(adapter))
        state.record.run.adapters[name]["roles"] = sorted({*roles, role})
    return adapter


def brought_adapter_name(path: Path) -> str:
    """How reports name an --adapter: its folder name, with the parent's where the folder name alone says little
    ('checkpoint-500' stays, 'run-3/adapter' for a folder called 'adapter')."""
    generic = {"adapter", "lora", "final", "output", "model", "best", "latest"}
    return f"{path.parent.name}/{path.name}" if path.name.lower() in generic and path.parent.name else path.name


def recipe_for(settings: Settings, name: str) -> LoraRecipe:
    """Recipe `[name]` of the data folder's recipes.toml, its seed replaced by --train-seed when given."""
    recipe = load_recipe(settings.data_folder.recipes, name)
    return recipe if settings.train_seed is None else replace(recipe, seed=settings.train_seed)


def _record_adapter(state: SessionState, name: str, path: Path, training: dict) -> None:
    state.record.run.adapters[name] = {"path": str(path), "sha256": adapter_digest(path)}
    if others := named_adapters(path):  # peft saved several: this is the default one, the others not graded
        state.record.run.adapters[name]["other_adapters_in_folder"] = others
    state.record.run.training[name] = training


@pytest.fixture(scope="session")
def full_models(base_model: BaseModel, tunegate: SessionState) -> ModelSet | None:
    """Under --tuned-model: the base view and the tuned view of the base and the full model (described, digested and
    recorded once, for every suite); None otherwise."""
    s = tunegate.settings
    if s.tuned_model is None:
        return None
    tuned = BaseModel.at(s.tuned_model, base_model.device, base_model.dtype, s.allow_pickle, s.prompt_format,
                         base_model.batch_size, s.max_new_tokens, s.device_map)
    tunegate.record_run("tuned_model", {"path": str(s.tuned_model), "sha256": tuned.digest})
    return base_and_full(base_model, tuned, tunegate.requests)


class AdapterViews(NamedTuple):
    """The views over one copy of the base weights: base and tuned, and the --shadow adapter's when given."""

    models: ModelSet
    shadow: LanguageModel | None


@pytest.fixture(scope="session")
def adapter_views(base_model: BaseModel, adapter_under_test: Path | None, tunegate: SessionState) -> AdapterViews:
    """The base and tuned views (and the --shadow view) over one copy of the base weights with the adapter under
    test (and the --shadow adapter) loaded into it."""
    s, adapter = tunegate.settings, _needed(adapter_under_test)
    if s.shadow:
        return AdapterViews(*base_tuned_and_shadow(base_model, adapter, s.shadow, s.allow_pickle, tunegate.requests))
    return AdapterViews(base_and_tuned(base_model, adapter, s.allow_pickle, tunegate.requests), None)


def _needed(value: T | None) -> T:
    """An adapter (or view) a fixture needs: there is always one where the fixture runs (never under
    --tuned-model, whose views are the full models; the shadow only with --shadow)."""
    if value is None:
        raise RuntimeError("an adapter a view needs is missing: a fixture was asked for outside its run mode")
    return value


@pytest.fixture(scope="session")
def models_under_test(request: pytest.FixtureRequest, full_models: ModelSet | None) -> ModelSet:
    """The base view and the tuned view over one copy of the base weights with the adapter under test attached;
    under --tuned-model, the base and the full tuned model."""
    return full_models or request.getfixturevalue("adapter_views").models


@pytest.fixture(scope="session")
def shadow_model(request: pytest.FixtureRequest, base_model: BaseModel, full_models, tunegate: SessionState
                 ) -> LanguageModel:
    """The --shadow adapter's view: over the adapter under test's copy of the base (under --tuned-model, over a
    base of its own)."""
    s = tunegate.settings
    if full_models:
        return base_and_tuned(base_model, _needed(s.shadow), s.allow_pickle, tunegate.requests).tuned
    return _needed(request.getfixturevalue("adapter_views").shadow)


@pytest.fixture(scope="session")
def merged_model(models_under_test: ModelSet, tunegate: SessionState) -> LanguageModel:
    """A merged copy (`merge_and_unload()`) of the tuned model under test (a --tuned-model is one already)."""
    tuned = models_under_test.tuned
    return tuned if tunegate.settings.tuned_model else tuned.merged()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def new_task_models(base_model: BaseModel, new_task_adapter: Path | None,
                    full_models: ModelSet | None, tunegate: SessionState) -> ModelSet:
    """The base view and the tuned view with the new-task adapter (or the --tuned-model pair); base answers are
    shared with the other suites."""
    return full_models or base_and_tuned(base_model, _needed(new_task_adapter), tunegate.settings.allow_pickle,
                                         tunegate.requests)


@pytest.fixture(scope="session")
def sequences(base_model: BaseModel, tunegate: SessionState, trained_adapters: SideBySide
              ) -> dict[str, list[Stage]]:
    """Every strategy's sequence base -> increment_1 -> ... (recipes `[sequence.<strategy>]`), stages cached."""
    s = tunegate.settings
    out = {}
    for strategy in SEQUENCE_STRATEGIES:
        job = _sequence_job(s, base_model, strategy)
        trained_adapters.wait(job.name)
        out[strategy] = job.result()
        for stage in out[strategy][1:]:
            _record_adapter(tunegate, f"{strategy}-{stage.task}", _needed(stage.adapter), stage.info)
    return out
