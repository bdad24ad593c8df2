"""Each option is declared once, as a `Settings` field: pytest's registration, the docs table and the settings
a command line gives are derived from that declaration, so they cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.plugin import pytest_addoption
from harness.plugin.options import declared, options_table, page_table
from harness.plugin.settings import Settings
from tests.conftest import ROOT

SPECS = dict(declared(Settings))


class _Group:
    """Stands in for pytest's option group: keeps what each `addoption` call registered."""

    def __init__(self) -> None:
        self.registered: dict[str, dict[str, Any]] = {}

    def addoption(self, flag: str, **attrs: Any) -> None:
        self.registered[flag] = attrs


class _Parser:
    def __init__(self) -> None:
        self.group = _Group()

    def getgroup(self, name: str, description: str = "") -> _Group:
        return self.group


def test_options_page_is_current():
    """docs/options.md's table is rendered from the declaration (`python3 dev.py docs` rewrites it)."""
    assert page_table(ROOT / "docs/options.md") == options_table(Settings), \
        "docs/options.md's options table is stale: run `python3 dev.py docs`"


def test_every_declared_option_is_registered_with_its_default_help_and_choices():
    parser = _Parser()
    pytest_addoption(parser)
    registered = parser.group.registered
    assert list(registered) == [spec.flag for spec in SPECS.values()]
    for spec in SPECS.values():
        attrs = registered[spec.flag]
        assert (attrs["default"], attrs["help"]) == (spec.default, spec.help), spec.flag
        assert attrs.get("choices") == spec.choices, spec.flag


def test_pytest_parses_each_declared_default_and_lists_each_flag(pytester: pytest.Pytester):
    config = pytester.parseconfig()
    assert {s.flag: config.getoption(s.dest) for s in SPECS.values()} == {s.flag: s.default for s in SPECS.values()}
    shown = pytester.runpytest_inprocess("--help").stdout.str()
    assert [spec.flag for spec in SPECS.values() if spec.flag not in shown] == []


def test_the_defaults_give_the_documented_settings(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """No option given: paths from the rootdir, the answer cache on, the history beside the reports."""
    monkeypatch.delenv("TUNEGATE_CACHE_DIR", raising=False)
    from harness.plugin import _settings

    settings = _settings(pytester.parseconfig())
    root = Path(pytester.path)
    assert (settings.fixtures, settings.report_dir, settings.cache_dir) == (
        root / "fixtures", root / "reports", root / ".tunegate-cache")
    assert settings.history == root / "reports" / "history.csv" and settings.baseline_dir == root / "baselines"
    assert settings.answer_cache and settings.base_model == "builtin" and settings.batch_size == 64


def test_path_options_are_those_declared_with_a_path():
    from harness.plugin.invocation import PATH_OPTIONS

    assert set(PATH_OPTIONS) == {"--adapter", "--tuned-model", "--checkpoints", "--shadow", "--base-model",
                                 "--data-dir", "--gates", "--report-dir", "--cache-dir", "--history",
                                 "--request-cache", "--baseline-dir"}
