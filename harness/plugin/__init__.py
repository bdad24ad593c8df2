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

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.foundation.cache import resolve_cache_root
from harness.foundation.errors import InputError, InputWarning
from harness.foundation.process_gc import collector_paused, freeze_startup_objects
from harness.gating.baselines import BaselineError, baseline_path
from harness.gating.gate_config import gate_config_source
from harness.gating.verdict import GATED_TESTS
from harness.plugin import hookspecs
from harness.plugin.invocation import first_tunegate_suite, misread_option_value, own_suites_from_elsewhere
from harness.plugin.selection import (
    capability_of,
    deselection,
    missing_data,  # noqa: F401  (suites copied before harness.api import it from here)
    note_unjudged,
    skip_reason,
    skip_unjudgeable,
)
from harness.plugin.settings import DORMANT, STATE, Settings

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
    """Register tunegate's command-line options."""
    group = parser.getgroup("tunegate", "tunegate release gates")
    group.addoption("--base-model", default="builtin", help="base model folder, or 'builtin' (default)")
    group.addoption("--adapter", default=None, help="existing peft LoRA adapter folder: skip training")
    group.addoption("--gates", default=None, help="gate config TOML (default: fixtures/gates.toml)")
    group.addoption("--report-dir", default="reports", help="where reports/<run_id>/ is written")
    group.addoption("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where models run")
    group.addoption("--device-map", default=None, choices=["auto"], help="auto: spread a model larger than one "
                    "GPU over every visible GPU (and CPU memory) with accelerate's device map")
    group.addoption("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                    help="model precision (auto: bfloat16 on GPU, float32 on CPU)")
    group.addoption("--cache-dir", default=None, help="model/adapter cache (default $TUNEGATE_CACHE_DIR or "
                                                     ".tunegate-cache)")
    group.addoption("--data-dir", default=None, help="data and config folder (default: <rootdir>/fixtures)")
    group.addoption("--allow-pickle", action="store_true", help="allow loading pickled .bin weights")
    group.addoption("--ppl-window", type=int, default=256, help="perplexity window in tokens (default 256)")
    group.addoption("--ppl-stride", type=int, default=192, help="perplexity sliding-window stride (default 192)")
    group.addoption("--checkpoints", default=None, help="audit: run directory with checkpoint-N/ adapter folders "
                                                        "(default: the built-in replay sequence's stages)")
    group.addoption("--checkpoint-launches", choices=("newest", "all"), default="newest",
                    help="an ms-swift output folder under --checkpoints: audit the newest launch (v<K>-...) or "
                         "all launches in order (default: newest)")
    group.addoption("--baseline", default=None, help="compare with stored baseline NAME ([baseline] and [drift] "
                                                     "gates); a missing baseline is an error")
    group.addoption("--save-baseline", default=None, help="store this run's metrics and outputs as baseline NAME "
                                                          "(refused when a gate failed or tests were deselected)")
    group.addoption("--save-baseline-anyway", action="store_true", help="save the baseline even when a gate failed "
                                                                       "or -m/-k deselected tests")
    group.addoption("--train-seed", type=int, default=None, help="override the seed of every training recipe "
                                                                 "(the seed sweep)")
    group.addoption("--no-answer-cache", action="store_true", help="recompute every model answer instead of "
                    "reusing those an earlier run stored in the cache for the same weights and environment")
    group.addoption("--request-cache", default=None, help="keep every model answer in this SQLite file (keyed by "
                    "base and adapter digests, request and generation settings) instead of the cache folder's JSON "
                    "files: a re-run after a gate-config change recomputes nothing")
    group.addoption("--baseline-dir", default="baselines", help="folder of baseline files (default: baselines)")
    group.addoption("--tuned-model", default=None, help="a full fine-tuned (or merged) model folder evaluated "
                    "against --base-model instead of an adapter; adapter-specific capabilities are not applicable")
    group.addoption("--shadow", default=None, help="a second adapter run on the same probes; disagreement with the "
                                                   "adapter under test is reported")
    group.addoption("--prompt-format", default="auto", help="how prompts are rendered: auto (the tokenizer's chat "
                    "template, else the plain Question:/Answer: format), chat (the template, required), plain, or "
                    "a .jinja chat template file")
    group.addoption("--batch-size", type=_batch_size, default=64, help="sequences per padded batch when models "
                    "answer: N, or auto (64 on CPU, 256 on a GPU, halved until it fits); default 64. A batch that "
                    "runs out of accelerator memory is halved and retried")
    group.addoption("--max-new-tokens", type=int, default=48, help="longest greedy answer in tokens (default 48)")
    group.addoption("--history", default=None, help="audit history file, .csv or .parquet "
                                                    "(default: <report-dir>/history.csv)")
    group.addoption("--require-all-gates", action="store_true", help="fail the run when any configured gate was "
                    "not judged (deselected, skipped, data missing): for CI jobs that must not pass vacuously")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare tunegate's hooks (`pytest_tunegate_capabilities`)."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    """Read the settings; without a gate config, sleep (a project that only installed tunegate). Otherwise import
    the stack and the session fixtures, build the capability registry (plugins and conftests add theirs),
    register one marker per capability, read the gate config and the baseline, and start the run record."""
    if misuse := own_suites_from_elsewhere(config) or misread_option_value(config):
        raise pytest.UsageError(misuse)
    try:
        settings = _settings(config)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    source = gate_config_source(settings.gates_file, settings.rootdir, settings.fixtures)
    if source is None and not (settings.gates_file or settings.baseline or settings.save_baseline):
        config.stash[DORMANT] = (f"no gate config was found: not {settings.fixtures / 'gates.toml'} (the data "
                                 "folder, --data-dir), no [tool.tunegate.gates] in pyproject.toml, no --gates FILE. "
                                 "`tunegate init` writes one (docs/your-repository.md)")
        return
    with collector_paused():  # importing torch, transformers and peft otherwise runs ~6 full collections (~1 s)
        from harness.plugin.state import SessionState, new_run_record

        config.pluginmanager.import_plugin("harness.plugin.fixtures")
    freeze_startup_objects()
    capabilities = _capabilities(config)
    for name, text in {**capabilities.markers(), "trains": TRAINS_MARKER, "reads": READS_MARKER}.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    run_id = getattr(config, "workerinput", {}).get("tunegate_run_id")
    try:
        record, stored = new_run_record(run_id, settings, ["pytest", *config.invocation_params.args])
    except BaselineError as err:  # fail before any work when the baseline to compare is missing
        raise pytest.UsageError(str(err)) from None
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
    rootdir = Path(config.rootpath)
    fixtures = (rootdir / (config.getoption("data_dir") or "fixtures")).resolve()  # relative: to the rootdir
    base = config.getoption("base_model")  # a relative folder is taken from the rootdir, like --data-dir
    base = base if base == "builtin" or Path(base).is_absolute() else str((rootdir / base).resolve())
    return Settings(rootdir=rootdir, fixtures=fixtures, base_model=base,
                    adapter=_path_option(config, "adapter"), gates_file=config.getoption("gates"),
                    report_dir=(rootdir / config.getoption("report_dir")).resolve(),
                    cache_dir=resolve_cache_root(config.getoption("cache_dir"), rootdir / ".tunegate-cache"),
                    device=config.getoption("device"), dtype=config.getoption("dtype"),
                    device_map=config.getoption("device_map"),
                    allow_pickle=config.getoption("allow_pickle"), ppl_window=config.getoption("ppl_window"),
                    ppl_stride=config.getoption("ppl_stride"),
                    checkpoints=_path_option(config, "checkpoints"),
                    checkpoint_launches=config.getoption("checkpoint_launches"),
                    history=(_path_option(config, "history")
                             or (rootdir / config.getoption("report_dir")).resolve() / "history.csv"),
                    baseline=_baseline_file(config, "baseline"), save_baseline=_baseline_file(config, "save_baseline"),
                    save_baseline_anyway=config.getoption("save_baseline_anyway"),
                    shadow=_path_option(config, "shadow"),
                    train_seed=config.getoption("train_seed"),
                    answer_cache=not config.getoption("no_answer_cache"),
                    prompt_format=_prompt_format(config.getoption("prompt_format")),
                    batch_size=config.getoption("batch_size"), max_new_tokens=config.getoption("max_new_tokens"),
                    tuned_model=_path_option(config, "tuned_model"),
                    request_cache=_path_option(config, "request_cache"),
                    require_all_gates=config.getoption("require_all_gates"))


def _batch_size(text: str) -> int | str:
    """--batch-size: "auto" or a whole number (argparse names the option when this raises)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number, got {text!r}") from None


def _path_option(config: pytest.Config, name: str) -> Path | None:
    """A path option made absolute; None when it was not given."""
    value = config.getoption(name)
    return Path(value).resolve() if value else None


def _prompt_format(value: str) -> str:
    """A .jinja file as an absolute path (it is part of the model's digest); a format name as given."""
    return str(Path(value).resolve()) if value.endswith(".jinja") else value


def _capabilities(config: pytest.Config) -> CapabilityRegistry:
    """The built-in capabilities plus those `pytest_tunegate_capabilities` implementations add."""
    from harness.capabilities import CapabilityError, builtin_capabilities

    registry = builtin_capabilities()
    try:
        config.hook.pytest_tunegate_capabilities(registry=registry, config=config)
    except CapabilityError as err:
        raise pytest.UsageError(f"pytest_tunegate_capabilities: {err}") from None
    return registry


def _gate_config(settings: Settings, capabilities: CapabilityRegistry) -> GateConfig:
    """The gate config, validated against the registry; a missing or invalid file is a usage error."""
    from harness.gating.gate_config import load_gate_config

    try:
        return load_gate_config(settings.gates_file, settings.rootdir, settings.fixtures, capabilities.metric_specs(),
                                capabilities.default_gates(), capabilities.grading(named=True))
    except InputError as err:
        raise pytest.UsageError(str(err)) from None


def _preflight(config: pytest.Config, settings: Settings) -> None:
    """Every input check of `harness.plugin.preflight`: the first problem is a usage error, warnings are shown."""
    from harness.plugin.preflight import preflight

    try:
        warnings = preflight(settings)
    except InputError as err:
        raise pytest.UsageError(str(err)) from None
    for warning in warnings:
        config.issue_config_time_warning(InputWarning(warning), stacklevel=2)


def _baseline_file(config: pytest.Config, option: str) -> Path | None:
    name = config.getoption(option)
    folder = (Path(config.rootpath) / config.getoption("baseline_dir")).resolve()
    try:
        return baseline_path(folder, name) if name else None
    except BaselineError as err:
        raise pytest.UsageError(str(err)) from None


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


def parametrize_gates(metafunc: pytest.Metafunc, capability: str, reads: dict[str, tuple[str, ...]] | None = None
                      ) -> None:
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
            reason = deselection(items[0].config)
            for item in items:
                note_unjudged(state, item, reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, saying why, the suite tests that cannot give a verdict in this run (`harness.plugin.selection`): a data file
    the suite `reads` is missing, an adapter capability under --tuned-model, a capability `[graded_by]` leaves
    out; a suite whose data folder has only a dev set runs what that dev set allows."""
    state = config.stash.get(STATE, None)
    if state is not None:
        skip_unjudgeable(state, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the suite tests this run will run (a run of them that judges nothing fails); refuse --save-baseline
    before any work when -m/-k deselected tests (unless --save-baseline-anyway)."""
    state = session.config.stash.get(STATE, None)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call) -> pytest.TestReport:
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
    if os.environ.get("RANK", "0") != "0":  # `accelerate launch`: process 0 writes the run's files
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
        for text, markup in gate_summary_lines(state.record, str(state.artifacts.get("report") or "")):
            terminalreporter.write_line(text, **markup)
    if outcome := state.artifacts.get("baseline"):
        terminalreporter.write_line(outcome.message, red=not outcome.saved, bold=True)
    for error in state.artifacts.get("end_errors", ()):
        terminalreporter.write_line(f"ERROR at the end of the run: {error} (what was written before is kept)",
                                    red=True, bold=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave the `accelerate launch` process group, if this run joined one, once the run's files are written."""
    if config.stash.get(STATE, None) is not None:
        from harness.model import processes

        processes.finish()
