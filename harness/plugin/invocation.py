"""Runs refused because of how pytest was invoked, each with one message saying what to do instead: tunegate's
own suites run from another project, an option value pytest took for a test path (which moved its rootdir and
dropped your pytest configuration), a tunegate suite collected where no gate config exists, process
variables of `accelerate launch` left in the environment of a plain run, and a `$GITHUB_STEP_SUMMARY` that names
no file the run can append to."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from itertools import pairwise
from pathlib import Path

import pytest

from harness.foundation.launch import launch_rank, launch_world_size
from harness.plugin.options import declared
from harness.plugin.settings import Settings

CHECKOUT = Path(__file__).resolve().parents[2]  # a source checkout of tunegate (its own suites/ beside harness/)
PATH_OPTIONS = tuple(spec.flag for _, spec in declared(Settings) if spec.path)
SKIPPED_FOLDERS = frozenset({"venv", "node_modules", "site-packages", "__pycache__", "build", "dist"})
SUITE_IMPORT = re.compile(r"^\s*(from|import)\s+harness\b", re.MULTILINE)  # a test module importing tunegate


LAUNCH_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")  # what accelerate launch sets


def launch_environment_problem(environ: Mapping[str, str]) -> str | None:
    """Why the process variables of `accelerate launch` in `environ` cannot be this run's (None when they can):
    one that is not a whole number, or a RANK above 0 outside a launch of that many processes, which would make
    this process a silent worker that writes no report."""
    for name in LAUNCH_VARIABLES:
        if name in environ and not environ[name].strip().isdigit():
            return (f"environment variable {name}={environ[name]!r} is not a whole number: it tells tunegate which "
                    "process of an `accelerate launch` this is; unset it (or fix it) for a plain run")
    world, rank = launch_world_size(environ), launch_rank(environ)
    if world == 0:
        return ("environment variable WORLD_SIZE=0: a launch of no processes; unset it for a plain run (or set the "
                "number of processes)")
    if rank >= max(world, 1):  # process RANK of a launch of WORLD_SIZE processes (unset: one)
        return (f"environment variable RANK={rank} with WORLD_SIZE={environ.get('WORLD_SIZE', 'unset')}: a process "
                "of no launch this large (left over from an `accelerate launch`?); only process 0 writes the report, "
                "so this run would write none: unset RANK and WORLD_SIZE, or run under `accelerate launch`")
    if world > 1 and (absent := [n for n in ("RANK", "MASTER_ADDR", "MASTER_PORT") if n not in environ]):
        return (f"environment variable WORLD_SIZE={world} without {', '.join(absent)}: not a process of an "
                "`accelerate launch` (which sets them all; left over from one?), and process 0 would wait for the "
                f"other {world - 1} forever once a model runs: unset WORLD_SIZE, or run under `accelerate launch`")
    return None


def step_summary_problem(environ: Mapping[str, str]) -> str | None:
    """Why `$GITHUB_STEP_SUMMARY` cannot take the run's summary at its end (None when it can, or is unset): it
    names a folder, or a file in a folder that does not exist."""
    value = environ.get("GITHUB_STEP_SUMMARY")
    if not value:
        return None
    path = Path(value)
    why = "is a folder" if path.is_dir() else f"its folder {path.parent} does not exist" \
        if not path.parent.is_dir() else None
    return (f"environment variable GITHUB_STEP_SUMMARY={value!r}: {why}; the end of the run appends summary.md to "
            "that file (GitHub Actions sets it to one): point it at a file, or unset it") if why else None


def own_suites_from_elsewhere(config: pytest.Config) -> str | None:
    """Why a run of tunegate's own `suites/` from another project is refused (None when it is not one): pytest
    would take the tunegate checkout as rootdir, with its data and built-in model, and write the report there."""
    own, here = CHECKOUT / "suites", Path(config.invocation_params.dir).resolve()
    if not own.is_dir() or config.option.rootdir or here == CHECKOUT or CHECKOUT in here.parents:
        return None
    for arg in config.invocation_params.args:
        path = (here / str(arg).split("::")[0]).resolve()
        if path == own or own in path.parents:
            return (f"{path}: tunegate's own suites (the tunegate checkout {CHECKOUT}) run from {here}: pytest "
                    f"would take {CHECKOUT} as rootdir, judge its built-in data ({CHECKOUT / 'fixtures'}) instead of "
                    f"yours and write the report into {CHECKOUT / 'reports'}. In {here} run `tunegate init` once, "
                    "then `pytest` there (docs/your-repository.md)")
    return None


def misread_option_value(config: pytest.Config) -> str | None:
    """Why a run whose pytest configuration was left out because of an option's value is refused (None when it is
    not one).

    pytest settles its rootdir and configuration file before it loads plugins, so `--adapter /elsewhere/ckpt`
    reads `/elsewhere/ckpt` as a test path: the rootdir moves above it and the repository's pytest.ini (its
    addopts: --base-model, --data-dir) is silently left out. `--adapter=/elsewhere/ckpt` is read right."""
    from _pytest.config.findpaths import determine_setup

    args = [str(a) for a in config.invocation_params.args]
    spaced = [(a, b) for a, b in pairwise(args) if a in PATH_OPTIONS and not b.startswith("-")]
    if not spaced or config.option.help:  # only a value of tunegate's own options is ours to point out
        return None
    try:
        meant, inifile, _, _ = determine_setup(
            inifile=config.option.inifilename, override_ini=config.option.override_ini,
            args=[str(a) for a in getattr(config.option, "file_or_dir", None) or []],
            rootdir_cmd_arg=config.option.rootdir or None,
            invocation_dir=Path(config.invocation_params.dir))
    except (TypeError, ValueError, AttributeError, pytest.UsageError):  # another pytest's private API: not ours
        return None
    if meant == config.rootpath or inifile is None or inifile == config.inipath:  # nothing of yours left out
        return None
    here = Path(config.invocation_params.dir).resolve()
    option, value = next(((a, b) for a, b in spaced if not (here / b).resolve().is_relative_to(here)), spaced[0])
    return (f"pytest took {value} (the value of {option}) for a test path, so it chose {config.rootpath} as "
            f"rootdir instead of {meant} and left out {inifile}: write {option}={value} (with '='), or pass "
            f"--rootdir {meant}")


def first_tunegate_suite(args: list[str]) -> Path | None:
    """The first test module under the run's paths that imports tunegate's suites or its suite API (read as text:
    nothing is imported; hidden folders and virtual environments are not searched)."""
    for arg in args:
        path = Path(str(arg).split("::")[0])
        candidates = [path] if path.is_file() else _test_modules(path) if path.is_dir() else []
        for candidate in candidates:
            if _imports_tunegate(candidate):
                return candidate
    return None


def _test_modules(folder: Path) -> Iterator[Path]:
    """Test modules under `folder`, hidden folders, virtual environments and node_modules never entered."""
    for here, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS)
        yield from (Path(here) / f for f in sorted(files)
                    if f.endswith(".py") and (f.startswith("test_") or f.endswith("_test.py")))


def _imports_tunegate(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(SUITE_IMPORT.search(text))
