"""pytest wiring only: options, hooks, markers (one per registered capability), the session state under a
StashKey, and the session fixtures (`harness.plugin.fixtures`).

The logic lives elsewhere: the capability registry in `harness.capabilities`, running a capability and ending
the run (worker parts, environment, reports, baseline) in `harness.plugin.state`, baselines in
`harness.gating.baselines`.

Installed, the plugin is loaded by every pytest run of the environment, so it stays light until a run uses
tunegate: when no gate config is found (no `--gates`, no `[tool.tunegate.gates]`, no `<data-dir>/gates.toml`)
it only adds its options and sleeps; torch, transformers, peft, the registry and the session fixtures are
imported in `pytest_configure` of a run that has a gate config.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.foundation.errors import InputError, InputWarning
from harness.foundation.launch import launch_rank
from harness.foundation.process_gc import collector_paused, freeze_startup_objects
from harness.gating.baselines import BaselineError
from harness.gating.gate_config import gate_config_source
from harness.gating.verdict import GATED_TESTS
from harness.plugin import hookspecs
from harness.plugin.invocation import (
    first_tunegate_suite,
    launch_environment_problem,
    misread_option_value,
    own_suites_from_elsewhere,
    step_summary_problem,
)
from harness.plugin.options import declared, values
from harness.plugin.selection import (
    capability_of,
    deselection,
    missing_data,  # noqa: F401  (suites copied before harness.api import it from here)
    note_unjudged,
    skip_reason,
    skip_unjudgeable,
)
from harness.plugin.settings import Settings
from harness.plugin.stash import DESELECTED_MARKS, DORMANT, STATE

if TYPE_CHECKING:
    from harness.capabilities import CapabilityRegistry
    from harness.gating.gate_config import GateConfig
    from harness.plugin.state import SessionState

READS_MARKER = ("reads(pattern, ..., otherwise=(pattern, ...)): the data files (glob patterns under the data folder) "
                "the suite reads, or the alternative it falls back to; when neither is all there, its tests are "
                "skipped naming the missing files")
TRAINS_MARKER = ("trains(fixture, unless=(setting, ...)): the suite asks for this adapter fixture only at run time; "
                 "train it up front with the others, unless one of the named settings is given")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register tunegate's command-line options: one per declared `Settings` field."""
    group = parser.getgroup("tunegate", "tunegate release gates")
    for _, spec in declared(Settings):
        spec.register(group)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare tunegate's hooks (`pytest_tunegate_capabilities`)."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    """Read the settings; without a gate config, sleep (a project that only installed tunegate). Otherwise import
    the stack and the session fixtures, build the capability registry (plugins and conftests add theirs),
    register one marker per capability, read the gate config and the baseline, and start the run record."""
    if misuse := own_suites_from_elsewhere(config) or misread_option_value(config):
        raise pytest.UsageError(misuse)
    settings = _settings(config)
    with usage_error(InputError):
        source = gate_config_source(settings.gates_file, settings.rootdir, settings.fixtures)
    if source is None and not (settings.gates_file or settings.baseline or settings.save_baseline):
        config.stash[DORMANT] = (f"no gate config was found: not {settings.data_folder.gates} (the data "
                                 "folder, --data-dir), no [tool.tunegate.gates] in pyproject.toml, no --gates FILE. "
                                 "`tunegate init` writes one (docs/your-repository.md)")
        return
    if source and source.endswith("[tool.tunegate.gates]") and settings.data_folder.gates.is_file():
        config.issue_config_time_warning(InputWarning(
            f"gates read from {source} only: {settings.data_folder.gates} is not read, and a capability the table "
            "does not name has no gates; keep one of the two"), stacklevel=2)
    if problem := launch_environment_problem(os.environ) or step_summary_problem(os.environ):
        raise pytest.UsageError(problem)
    with collector_paused():  # importing torch, transformers and peft otherwise runs ~6 full collections (~1 s)
        from harness.plugin.state import SessionState, new_run_record

        config.pluginmanager.import_plugin("harness.plugin.fixtures")
    freeze_startup_objects()
    capabilities = _capabilities(config)
    for name, text in {**capabilities.markers(), "trains": TRAINS_MARKER, "reads": READS_MARKER}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    run_id = getattr(config, "workerinput", {}).get("tunegate_run_id")
    with usage_error(BaselineError):  # fail before any work when the baseline to compare is missing
        record, stored = new_run_record(run_id, settings, ["pytest", *config.invocation_params.args])
    config.stash[STATE] = SessionState(settings, capabilities, _gate_config(settings, capabilities), record,
                                       baseline=stored)
    if run_id is None and not config.option.help:  # the controller (or a run without xdist) checks the inputs
        # once, before any model loads
        _preflight(config, settings)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "tunegate-xdist")


def pytest_collection(session: pytest.Session) -> None:
    """A run with no gate config anywhere whose paths hold a tunegate suite stops here, before any module is
    imported, with one message and exit status 4 (not one collection traceback per suite)."""
    why = session.config.stash.get(DORMANT, None)
    if why is not None and (suite := first_tunegate_suite(session.config.args)):
        raise pytest.UsageError(f"{suite}: a tunegate suite, but {why}")


def _settings(config: pytest.Config) -> Settings:
    """The settings the command line gives (a bad value, or a bad baseline name, is a usage error)."""
    with usage_error(ValueError):
        return Settings(rootdir=Path(config.rootpath), **values(Settings, config))


@contextmanager
def usage_error(*errors: type[Exception], prefix: str = "") -> Iterator[None]:
    """Turn the given errors into a pytest usage error with their message: exit status 4, no traceback (the
    message names the input to fix; the code around the raise would only hide it)."""
    try:
        yield
    except errors as err:
        raise pytest.UsageError(f"{prefix}{err}") from None


def _capabilities(config: pytest.Config) -> CapabilityRegistry:
    """The built-in capabilities plus those `pytest_tunegate_capabilities` implementations add."""
    from harness.capabilities import CapabilityError, builtin_capabilities

    registry = builtin_capabilities()
    with usage_error(CapabilityError, prefix="pytest_tunegate_capabilities: "):
        config.hook.pytest_tunegate_capabilities(registry=registry, config=config)
    return registry


def _gate_config(settings: Settings, capabilities: CapabilityRegistry) -> GateConfig:
    """The gate config, validated against the registry; a missing or invalid file is a usage error."""
    from harness.gating.gate_config import load_gate_config

    with usage_error(InputError):
        return load_gate_config(settings.gates_file, settings.rootdir, settings.fixtures, capabilities.metric_specs(),
                                capabilities.default_gates(), capabilities.grading(named=True))


def _preflight(config: pytest.Config, settings: Settings) -> None:
    """Every input check of `harness.plugin.preflight`: the first problem is a usage error, warnings are shown."""
    from harness.plugin.preflight import preflight

    with usage_error(InputError):
        warnings = preflight(settings)
    for warning in warnings:
        config.issue_config_time_warning(InputWarning(warning), stacklevel=2)


class _XdistHooks:
    """Hand the controller's run id to every worker, so their parts merge into one report."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """Pass the run id to a starting worker (controller side)."""
        node.workerinput["tunegate_run_id"] = node.config.stash[STATE].run_id


def tunegate_state(config: pytest.Config) -> SessionState:
    """The session state (for collection-time parametrisation in suites); a usage error saying where the gate
    config was looked for when this run has none."""
    state = config.stash.get(STATE, None)
    if state is None:
        raise pytest.UsageError(config.stash.get(DORMANT, "tunegate was not configured in this run"))
    return state


def parametrize_gates(metafunc: pytest.Metafunc, capability: str,
                      reads: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Parametrise a suite's `gate_id` argument over the verdicts the capability yields (ids = gate ids): its
    configured gates and, under --baseline, its `[baseline]` and `[drift]` gates. `reads` maps a metric to the
    data files only its gates need: those gates carry a `reads` mark (skipped, naming the file, without it)."""
    if "gate_id" in metafunc.fixturenames:
        ids = tunegate_state(metafunc.config).gate_ids(capability)
        needs = {gate_id: files for gate_id in ids for metric, files in (reads or {}).items()
                 if gate_id.endswith(f".{metric}")}
        metafunc.parametrize("gate_id", [pytest.param(i, marks=[pytest.mark.reads(*needs[i])] if i in needs else [])
                                         for i in ids], ids=ids)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count deselected tests (a partial run must not silently become a baseline) and keep why their gates were
    not judged."""
    if items:
        state = items[0].config.stash.get(STATE, None)
        if state is not None:
            state.record.run.deselected += len(items)
            marks = items[0].config.stash.setdefault(DESELECTED_MARKS, {})
            for name in (name for item in items for name in {m.name for m in item.iter_markers()}):
                marks[name] = marks.get(name, 0) + 1
            reason = deselection(items[0].config)
            for item in items:
                note_unjudged(state, item, reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, saying why, the suite tests that cannot give a verdict in this run (`harness.plugin.selection`): a
    data file the suite `reads` is missing, an adapter capability under --tuned-model, a capability `[graded_by]` leaves
    out; a suite whose data folder has only a dev set runs what that dev set allows."""
    state = config.stash.get(STATE, None)
    if state is not None:
        skip_unjudgeable(state, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse a selection that would judge nothing (`harness.plugin.nothing_judged`); count the suite tests this
    run will run (a run of them that judges nothing fails); refuse --save-baseline before any work when -m/-k
    deselected tests (unless --save-baseline-anyway)."""
    state = session.config.stash.get(STATE, None)
    if state and not session.testsfailed and not hasattr(session.config, "workerinput"):
        _refuse_judging_nothing(session, state)
    if state and not session.config.option.collectonly:
        capabilities = [capability_of(item, state) for item in session.items]
        gated = sum(1 for c in capabilities if c is not None and state.gates.for_capability(c))
        if gated:  # tests of suites with configured gates: if they judge nothing, the run fails
            state.record.run.sections[GATED_TESTS] = gated
    if state and state.settings.save_baseline and state.record.run.deselected and \
            not state.settings.save_baseline_anyway:
        raise pytest.UsageError(f"--save-baseline {state.settings.save_baseline.stem}: -m/-k deselected "
                                f"{state.record.run.deselected} tests, so the baseline would be partial; run "
                                "everything, or pass --save-baseline-anyway")


def _refuse_judging_nothing(session: pytest.Session, state: SessionState) -> None:
    """A usage error when -m names an unknown marker or the selection would judge nothing."""
    from harness.plugin.nothing_judged import nothing_to_judge, unknown_marker

    deselected = session.config.stash.get(DESELECTED_MARKS, {})
    carried = {m.name for item in session.items for m in item.iter_markers()} | set(deselected)
    suites_deselected = sum(deselected.get(name, 0) for name in state.capabilities.markers())
    if problem := unknown_marker(session.config, state, carried) or \
            nothing_to_judge(session.config, state, session.items, suites_deselected):
        raise pytest.UsageError(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Count setup and teardown errors in the run record (such a run never writes a baseline). A fixture that
    fails on bad input (an `InputError`: a dataset, adapter or model the run cannot use) stops the session with
    that one message and exit status 4, instead of one identical error per test that uses it (suites' tests,
    those with a capability marker, only: a failing test of other code stays one test's failure)."""
    report = yield
    state = item.config.stash.get(STATE, None)
    if state is not None and report.skipped and not hasattr(report, "wasxfail"):
        note_unjudged(state, item, skip_reason(report))
    if state is None or not report.failed:
        return report
    if report.when != "call":
        state.record.run.errors += 1
    if report.when == "setup" and isinstance(getattr(call.excinfo, "value", None), InputError) and \
            any(item.iter_markers(name) for name in state.capabilities.markers()):
        report.longrepr = str(call.excinfo.value)  # the message, without the code around the raise
        state.record_run("bad_input", str(call.excinfo.value))  # a pytest-xdist worker's part carries it
        item.session.shouldstop = "bad input (the error above); fix it and run again"
    return report


@pytest.fixture(scope="session")
def tunegate(request: pytest.FixtureRequest) -> SessionState:
    """The session state: settings, gate config and the run record."""
    return tunegate_state(request.config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End the run: a pytest-xdist worker writes its part; the controller merges the parts and finishes the run
    (results.json, report.html, history, baseline), which may turn a refused --save-baseline into exit status 4.
    Under `accelerate launch` only process 0 finishes: every process holds every answer, so its record is whole."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    worker = getattr(session.config, "workerinput", None)
    if worker is not None:
        state.write_worker_part(worker["workerid"])
        return
    if launch_rank():  # `accelerate launch`: process 0 writes the run's files
        return
    state.merge_worker_parts()
    if "bad_input" in state.record.run.sections:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    if (status := state.finish(int(session.exitstatus))) is not None:
        session.exitstatus = status


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config):
    """After pytest's own summary (failures, the short test summary), so that the verdict is the last thing
    before the final count: each gate (the failed first) with value, threshold, rule and PASS/FAIL, the gates
    not judged and why, power warnings, the audit's nightly answer, the headline, and what happened to
    --save-baseline."""
    try:
        return (yield)
    finally:
        _gate_summary(terminalreporter, config)


def _gate_summary(terminalreporter, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.record.gates or state.record.run.not_evaluated:
        from harness.report.terminal import gate_summary_lines

        terminalreporter.section("tunegate gates")
        for text, markup in gate_summary_lines(state.record, str(state.artifacts.report or "")):
            terminalreporter.write_line(text, **markup)
    if outcome := state.artifacts.baseline:
        terminalreporter.write_line(outcome.message, red=not outcome.saved, bold=True)
    for warning in state.artifacts.end_warnings:
        terminalreporter.write_line(f"WARNING: {warning}", yellow=True)
    for error in state.artifacts.end_errors:
        terminalreporter.write_line(f"ERROR at the end of the run: {error} (what was written before is kept)",
                                    red=True, bold=True)
    for line in [*state.artifacts.notes, state.artifacts.interrupted or ""]:
        if line:
            terminalreporter.write_line(line, red=True, bold=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave the `accelerate launch` process group, if this run joined one, once the run's files are written."""
    if config.stash.get(STATE, None) is not None:
        from harness.model import processes

        processes.finish()
