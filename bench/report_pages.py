"""Height and size of report.html for a healthy, a failing and an audit run, measured in one run.

    .venv/bin/python bench/report_pages.py [--root DIR] [--cache-dir DIR] [--kinds healthy,failing-x8,audit]
                                           [--json PATH]

Runs `pytest suites/` three ways from the repository root (`--root`, default this checkout) with the warm cache
(`--cache-dir`, default the root's `.tunegate-cache`): `healthy` (the plain gate on the built-in model), `failing-x8`
(the trained built-in identity adapter with every `lora_B` tensor multiplied by 8, as `--adapter`, with
`-m "not latency"`; it is meant to fail) and `audit` (`-m audit`: the built-in replay sequence's stages). Each run's
report.html is opened in headless Chromium at a 1400x900 and a 390x844 viewport, and the table gives its pytest
exit code, its size and its `document.documentElement.scrollHeight` at both widths. pytest runs with this script's
interpreter and `PYTHONPATH=<root>`, so a worktree's own `harness` package is imported, not the editable install.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("healthy", "failing-x8", "audit")
DESKTOP, PHONE = (1400, 900), (390, 844)
B_SCALE = 8.0


def gate_environment(root: Path, cache: Path) -> dict[str, str]:
    """The environment of the runs: offline, the root's harness package first on the path."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "HF_HOME": str(cache / "hf"), "PYTHONPATH": path}


def identity_adapter(cache: Path) -> Path:
    """The newest completed folder of the built-in `identity` adapter in the cache (not identity-no-replay etc.)."""
    found = []
    for folder in cache.glob("adapter-identity-*"):
        info = folder / "training_info.json"
        if folder.is_dir() and info.is_file() and json.loads(info.read_text()).get("name") == "identity":
            found.append(folder)
    if not found:
        raise SystemExit(f"no trained identity adapter in {cache} (run the gate once first)")
    return max(found, key=lambda folder: folder.stat().st_mtime)


def scaled_adapter(source: Path, target: Path, scale: float) -> Path:
    """A copy of the adapter in `source` with every `lora_B` tensor multiplied by `scale`."""
    from safetensors.torch import load_file, save_file

    weights = next(source.rglob("adapter_model.safetensors"))
    target.mkdir(parents=True, exist_ok=True)
    tensors = {name: (t * scale if "lora_B" in name else t) for name, t in load_file(str(weights)).items()}
    save_file(tensors, str(target / "adapter_model.safetensors"))
    shutil.copy2(weights.parent / "adapter_config.json", target / "adapter_config.json")
    return target


def pytest_args(kind: str, cache: Path, work: Path) -> list[str]:
    """The extra pytest arguments of one kind of run."""
    if kind == "failing-x8":
        adapter = scaled_adapter(identity_adapter(cache), work / "adapter-x8", B_SCALE)
        return [f"--adapter={adapter}", "-m", "not latency"]
    if kind == "audit":
        return ["-m", "audit"]
    return []


def run_gate(kind: str, root: Path, cache: Path, work: Path, env: dict[str, str]) -> tuple[int, Path]:
    """Exit code and report.html of one `pytest suites/` run of the given kind."""
    reports = work / kind
    command = [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider",
               "--report-dir", str(reports), "--cache-dir", str(cache), *pytest_args(kind, cache, work)]
    code = subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL).returncode
    return code, reports / "latest" / "report.html"


def open_browser():
    """A headless Chromium session through selenium."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


def page_height(browser, page: Path, size: tuple[int, int]) -> int:
    """`document.documentElement.scrollHeight` of `page` in a viewport of `size` CSS pixels."""
    browser.set_window_size(*size)
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    browser.set_window_size(2 * size[0] - inner[0], 2 * size[1] - inner[1])  # window chrome around the viewport
    browser.get(page.as_uri())
    return int(browser.execute_script("return document.documentElement.scrollHeight"))


def measure(kinds: list[str], root: Path, cache: Path) -> list[dict]:
    """Run each kind of gate and measure its report; one row per kind."""
    env = gate_environment(root, cache)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(kind, *run_gate(kind, root, cache, Path(tmp), env)) for kind in kinds]
        browser = open_browser()
        try:
            for kind, code, page in runs:
                row = {"kind": kind, "exit": code, "size_bytes": None, "height_1400": None, "height_390": None}
                if page.is_file():
                    row.update(size_bytes=page.stat().st_size, height_1400=page_height(browser, page, DESKTOP),
                               height_390=page_height(browser, page, PHONE))
                rows.append(row)
        finally:
            browser.quit()
    return rows


def print_table(rows: list[dict]) -> None:
    """Print one line per kind of run."""
    print(f"{'kind':<12} {'exit':>4} {'size MB':>8} {'px @1400':>9} {'px @390':>9}")
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:.2f}" if row["size_bytes"] is not None else "-"
        print(f"{row['kind']:<12} {row['exit']:>4} {size:>8} {row['height_1400'] or '-':>9} "
              f"{row['height_390'] or '-':>9}")


def main() -> int:
    """Measure, print the table and write the JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to run pytest in")
    parser.add_argument("--cache-dir", type=Path, help="tunegate cache (default: ROOT/.tunegate-cache)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    root = args.root.resolve()
    cache = (args.cache_dir or root / ".tunegate-cache").resolve()
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    rows = measure(kinds, root, cache)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"root": str(root), "cache_dir": str(cache), "runs": rows}, indent=1) + "\n")
    return 0 if all(row["size_bytes"] is not None for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
