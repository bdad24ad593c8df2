"""pytest wiring: options, markers, session state under StashKeys, session fixtures, report writing.

No evaluation logic lives here: fixtures call into `harness.model`, `harness.training` and the evaluators,
and the session end hands the collected RunRecord to `harness.results` and `harness.report`.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.process_gc import collector_paused, freeze_startup_objects

with collector_paused():  # importing torch, transformers and peft otherwise runs ~6 full collections (~1 s)
    import harness
    from harness.baselines import BaselineError, baseline_path, drift_gate_ids, load_baseline
    from harness.cache import resolve_cache_root
    from harness.evaluators import CAPABILITY_METRICS
    from harness.gates import GateConfig, GateConfigError, GateConfigMissing, load_gate_config
    from harness.report.html import write_html
    from harness.report.terminal import gate_summary_lines
    from harness.results import RunRecord, new_run_id, point_latest, write_results
    from harness.run_end import append_audit_history, save_baseline_if_allowed, unevaluated_gates
    from harness.run_state import STATE, SessionState, Settings

MARKERS = {
    "identity": "identity suite: the adapter claims its new name and author, and nothing else changes",
    "old_task": "old-task accuracy, base vs tuned",
    "new_task": "new-task accuracy, base vs tuned",
    "perplexity": "held-out perplexity, base vs tuned",
    "adapter_health": "adapter activation entropy and weight health",
    "generation": "generation quality (BLEU, chrF, ROUGE-L)",
    "latency": "generation latency and throughput, base vs tuned",
    "forgetting": "forgetting across increments (ACC, BWT, FWT)",
    "audit": "nightly audit over every checkpoint of a run",
    "shadow": "shadow comparison with a second adapter (--shadow)",
    "trains": "trains(fixture, unless=(setting, ...)): the suite asks for this adapter fixture only at run time; "
              "train it up front with the others, unless one of the named settings is given",
}


pytest_plugins = ["harness.session"]  # the session fixtures: models, adapters, sequences


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register tunegate's command-line options."""
    group = parser.getgroup("tunegate", "tunegate release gates")
    group.addoption("--base-model", default="builtin", help="base model folder, or 'builtin' (default)")
    group.addoption("--adapter", default=None, help="existing peft LoRA adapter folder: skip training")
    group.addoption("--gates", default=None, help="gate config TOML (default: fixtures/gates.toml)")
    group.addoption("--report-dir", default="reports", help="where reports/<run_id>/ is written")
    group.addoption("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where models run")
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
    group.addoption("--baseline-dir", default="baselines", help="folder of baseline files (default: baselines)")
    group.addoption("--shadow", default=None, help="a second adapter run on the same probes; disagreement with the "
                                                   "adapter under test is reported")
    group.addoption("--history", default=None, help="audit history file, .csv or .parquet "
                                                    "(default: <report-dir>/history.csv)")


def pytest_configure(config: pytest.Config) -> None:
    """Register markers, read settings and the gate config, and start the run record."""
    freeze_startup_objects()
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    settings = _settings(config)
    gates, problem = _gate_config(settings)
    stored = None
    if settings.baseline:
        try:
            stored = load_baseline(settings.baseline)  # fail before any work when it is missing
        except BaselineError as err:
            raise pytest.UsageError(str(err)) from None
    run_id = getattr(config, "workerinput", {}).get("tunegate_run_id") or new_run_id()
    record = RunRecord(run={"id": run_id, "started": _now()})
    if stored is not None:
        record.run["baseline"] = {"name": settings.baseline.stem, "path": str(settings.baseline),
                                  "run": stored["run"]}
    config.stash[STATE] = SessionState(settings, gates, run_id, record, baseline=stored, gate_config_problem=problem)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "tunegate-xdist")


def _settings(config: pytest.Config) -> Settings:
    rootdir = Path(config.rootpath)
    fixtures = Path(config.getoption("data_dir") or rootdir / "fixtures").resolve()
    adapter = config.getoption("adapter")
    return Settings(rootdir=rootdir, fixtures=fixtures, base_model=config.getoption("base_model"),
                    adapter=Path(adapter).resolve() if adapter else None, gates_file=config.getoption("gates"),
                    report_dir=(rootdir / config.getoption("report_dir")).resolve(),
                    cache_dir=resolve_cache_root(config.getoption("cache_dir"), rootdir / ".tunegate-cache"),
                    device=config.getoption("device"), dtype=config.getoption("dtype"),
                    allow_pickle=config.getoption("allow_pickle"), ppl_window=config.getoption("ppl_window"),
                    ppl_stride=config.getoption("ppl_stride"),
                    checkpoints=Path(config.getoption("checkpoints")).resolve() if config.getoption("checkpoints")
                    else None,
                    history=(Path(config.getoption("history")).resolve() if config.getoption("history")
                             else (rootdir / config.getoption("report_dir")).resolve() / "history.csv"),
                    baseline=_baseline_file(config, "baseline"), save_baseline=_baseline_file(config, "save_baseline"),
                    save_baseline_anyway=config.getoption("save_baseline_anyway"),
                    shadow=Path(config.getoption("shadow")).resolve() if config.getoption("shadow") else None,
                    train_seed=config.getoption("train_seed"),
                    answer_cache=not config.getoption("no_answer_cache"))


def _gate_config(settings: Settings) -> tuple[GateConfig | None, str]:
    """The gate config, or (None, why) when none exists where it is looked for by default: tunegate installed in
    a project that does not use it. An explicit `--gates`, a baseline to compare or an invalid file is a usage
    error at once."""
    try:
        return load_gate_config(settings.gates_file, settings.rootdir, settings.fixtures, CAPABILITY_METRICS), ""
    except GateConfigMissing as err:
        if settings.gates_file or settings.baseline or settings.save_baseline:
            raise pytest.UsageError(str(err)) from None
        return None, f"{err} (tunegate suites need a gate config: --gates FILE, [tool.tunegate.gates] in " \
                     "pyproject.toml, or <data-dir>/gates.toml)"
    except GateConfigError as err:
        raise pytest.UsageError(str(err)) from None


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


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def tunegate_state(config: pytest.Config) -> SessionState:
    """The session state (for collection-time parametrisation in suites)."""
    return config.stash[STATE]


def parametrize_gates(metafunc: pytest.Metafunc, capability: str, compares_outputs: bool = False) -> None:
    """Parametrise a suite's `gate_id` argument over the capability's configured gates (ids = gate ids) and,
    under --baseline, its `[baseline]` gates and (`compares_outputs`: it has greedy outputs) `[drift]` gates."""
    if "gate_id" in metafunc.fixturenames:
        state = tunegate_state(metafunc.config)
        ids = [g.id for g in state.gates.for_capability(capability)]
        if state.baseline is not None:
            ids += [g.id for g in state.gates.relative.values() if g.capability == capability]
            ids += drift_gate_ids(state.gates.gates, capability) if compares_outputs else []
        metafunc.parametrize("gate_id", ids, ids=ids)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count deselected tests: a partial run must not silently become a baseline."""
    if items:
        state = items[0].config.stash.get(STATE, None)
        if state is not None:
            state.record.run["deselected"] = state.record.run.get("deselected", 0) + len(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse --save-baseline before any work when -m/-k deselected tests (unless --save-baseline-anyway)."""
    state = session.config.stash.get(STATE, None)
    if state and state.settings.save_baseline and state.record.run.get("deselected") and \
            not state.settings.save_baseline_anyway:
        raise pytest.UsageError(f"--save-baseline {state.settings.save_baseline.stem}: -m/-k deselected "
                                f"{state.record.run['deselected']} tests, so the baseline would be partial; run "
                                "everything, or pass --save-baseline-anyway")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Count setup and teardown errors in the run record (such a run never writes a baseline)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when != "call" and (state := item.config.stash.get(STATE, None)):
        state.record.run["errors"] = state.record.run.get("errors", 0) + 1


@pytest.fixture(scope="session")
def tunegate(request: pytest.FixtureRequest) -> SessionState:
    """The session state: settings, gate config and the run record."""
    return request.config.stash[STATE]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write results.json and report.html (workers of pytest-xdist write parts the controller merges); then
    append the audit history and, when allowed, save the baseline (controller only, once per run)."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    run_dir = state.settings.report_dir / state.run_id
    worker = getattr(session.config, "workerinput", None)
    if worker is not None:
        if not state.record.is_empty:
            write_results(run_dir / "parts" / worker["workerid"], state.record)
        return
    for part in sorted((run_dir / "parts").glob("*/results.json")):
        state.record.merge(RunRecord.from_dict(json.loads(part.read_text())))
    shutil.rmtree(run_dir / "parts", ignore_errors=True)
    if state.record.is_empty:
        if state.settings.save_baseline:
            state.artifacts["baseline"] = save_baseline_if_allowed(state.settings.save_baseline, state.record,
                                                                   int(session.exitstatus), False)
        return
    append_audit_history(state.record, state.settings.history)
    state.record.run.update(finished=_now(), exit_status=int(session.exitstatus), **_environment(state),
                            not_evaluated=unevaluated_gates(state.gates, state.record, state.baseline is not None),
                            request_cache={"hits": state.requests.hits, "misses": state.requests.misses,
                                           "from_earlier_runs": state.requests.stored})
    write_results(run_dir, state.record)
    write_html(run_dir, state.record)
    point_latest(state.settings.report_dir, run_dir)
    state.artifacts["report"] = run_dir / "report.html"
    if state.settings.save_baseline:
        outcome = save_baseline_if_allowed(state.settings.save_baseline, state.record, int(session.exitstatus),
                                           state.settings.save_baseline_anyway)
        state.artifacts["baseline"] = outcome
        if not outcome.saved and outcome.refused:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def _environment(state: SessionState) -> dict:
    import peft
    import torch
    import transformers

    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=state.settings.rootdir, capture_output=True,
                             text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        sha = None
    s = state.settings
    return {"git_sha": sha, "host": platform.node(), "python": platform.python_version(),
            "versions": {"tunegate": harness.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__, "peft": peft.__version__},
            "config": {"base_model": s.base_model, "adapter": str(s.adapter) if s.adapter else None,
                       "fixtures": str(s.fixtures), "cache_dir": str(s.cache_dir), "gates_source": state.gates.source,
                       "gates": state.gates.to_dict(), "ci": os.environ.get("CI")}}


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print each gate with value, threshold, rule and PASS/FAIL after the test summary, the gates that were not
    evaluated, power warnings and what happened to --save-baseline."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.record.gates or state.record.run.get("not_evaluated"):
        terminalreporter.section("tunegate gates")
        for text, markup in gate_summary_lines(state.record, str(state.artifacts.get("report") or "")):
            terminalreporter.write_line(text, **markup)
    if outcome := state.artifacts.get("baseline"):
        terminalreporter.write_line(outcome.message, red=not outcome.saved, bold=True)
