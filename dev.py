#!/usr/bin/env python3
"""Set everything up and run tunegate: the Quick-start commands of the README.

    python3 dev.py gate [PYTEST ARGS]   # the release gate: pytest suites/ on the built-in model
    python3 dev.py test [PYTEST ARGS]   # mypy over harness/, the harness's own tests (tests/fast, tests/model,
                                        # tests/e2e), then an end-to-end pytest suites/
    python3 dev.py fast [PYTEST ARGS]   # the fast tier only: pytest tests/fast (no model, no training; under a minute)
    python3 dev.py types                # only the type check: mypy over harness/ ([tool.mypy] in pyproject.toml)
    python3 dev.py docs                 # rewrite the generated tables: docs/options.md's (the `Settings` fields)
                                        # and docs/refusals.md's refused inputs (tests/bad_inputs/)
    python3 dev.py refusals             # only docs/refusals.md's table

Creates (or reuses) the virtual environment `.venv`, installs torch==2.13.0 first (an open torch range would
pull a multi-GB CUDA build), then the project with its dev extras; re-installs only when pyproject.toml
changes. Needs nothing but Python >= 3.10.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".tunegate-installed"
TORCH = "torch==2.13.0"
TIERS = ["tests/fast", "tests/model", "tests/e2e"]  # the test folder's tiers, fastest first: all of tests/
OPTIONS_TABLE = ("import sys; from pathlib import Path; from harness.plugin.settings import Settings; "
                 "from harness.plugin.options import options_table, rewrite_table; "
                 "changed = rewrite_table(Path(sys.argv[1]), options_table(Settings)); "
                 "print(f'{sys.argv[1]}: options table ' + ('rewritten' if changed else 'already current'))")
# run in the venv: needs pytest


def ensure_environment() -> None:
    """Create the venv and install the stack unless the install stamp matches pyproject.toml."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"[dev] creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print(f"[dev] installing {TORCH} (CPU wheel where available)", flush=True)
    subprocess.run([*pip, TORCH], check=True)
    print("[dev] installing tunegate and its stack", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def ensure_browser() -> None:
    """Headless Chromium and its driver for the report's browser tests: installed from Debian when missing and
    this runs as root with apt-get; otherwise those tests skip, saying why."""
    import shutil

    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print("[dev] Chromium is missing and cannot be installed here (needs root and apt-get): the report's "
              "browser tests will be skipped", flush=True)
        return
    print("[dev] installing chromium, chromium-driver and fonts-noto-cjk (apt-get)", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    installed = subprocess.run(["apt-get", "update", "-qq"], **quiet).returncode == 0 and subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver", "fonts-noto-cjk"], **quiet).returncode == 0
    if not installed:
        print("[dev] apt-get could not install Chromium: the report's browser tests will be skipped", flush=True)


def pytest(args: list[str]) -> int:
    """Run pytest in the venv, offline; exit status 5 (no tests collected) counts as a failure."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HOME": os.environ.get("HF_HOME", str(ROOT / ".tunegate-cache" / "hf")),
           "TOKENIZERS_PARALLELISM": "false"}
    print(f"[dev] pytest {' '.join(args)}", flush=True)
    code = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env).returncode
    return 1 if code == 5 else code


def rewrite_docs(command: str) -> int:
    """Rewrite docs/refusals.md's table and, for `docs`, docs/options.md's (generated from the declarations)."""
    code = subprocess.run([str(PYTHON), "-m", "tests.bad_inputs", str(ROOT / "docs/refusals.md")],
                          cwd=ROOT).returncode
    if command == "docs" and not code:
        code = subprocess.run([str(PYTHON), "-c", OPTIONS_TABLE, str(ROOT / "docs/options.md")], cwd=ROOT).returncode
    return code


def typecheck() -> int:
    """mypy in basic mode over harness/ (its settings: [tool.mypy] in pyproject.toml)."""
    print("[dev] mypy harness/", flush=True)
    return subprocess.run([str(PYTHON), "-m", "mypy"], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    """Dispatch `gate`, `test`, `fast`, `types`, `docs` or `refusals`."""
    if not argv or argv[0] not in {"gate", "test", "fast", "types", "docs", "refusals"}:
        print(__doc__)
        return 2
    ensure_environment()
    command, extra = argv[0], argv[1:]
    if command in {"docs", "refusals"}:
        return rewrite_docs(command)
    if command == "gate":
        return pytest(["suites/", *extra])
    if command == "fast":
        return pytest(["tests/fast", *extra])
    if command == "types":
        return typecheck()
    if typecheck():  # a type error fails the test command before any test runs
        return 1
    ensure_browser()
    code = pytest([*TIERS, *extra])
    return code or pytest(["suites/"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
