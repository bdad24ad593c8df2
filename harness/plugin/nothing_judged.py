"""Runs refused at collection end because they would judge nothing (exit 4, before any model loads): a `-m`
naming a marker no test carries and none registers (a typo), a `-m`/`-k` that deselects every test, a selection
whose suite tests would all be skipped (their data files are missing), and a capability named in `-m` whose data
is missing. The message reads like the run's headline ("tunegate NOT JUDGED: ...") and names the missing files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from harness.gating.verdict import configured_gate_ids
from harness.plugin.selection import capability_of, missing_reads

if TYPE_CHECKING:
    from harness.plugin.state import SessionState

_WORDS = re.compile(r"[A-Za-z_][\w]*")
_OPERATORS = {"and", "or", "not", "True", "False", "None"}


def marker_names(expression: str) -> list[str]:
    """The marker names a `-m` expression uses (operators, quoted strings and keyword arguments left out).

    >>> marker_names("identity and not (audit or slow) or mark(kind='x')")
    ['identity', 'audit', 'slow', 'mark']
    """
    plain = re.sub(r"(['\"]).*?\1", "", expression)
    plain = re.sub(r"\b\w+\s*=", "", plain)
    return [w for w in dict.fromkeys(_WORDS.findall(plain)) if w not in _OPERATORS]


def registered_markers(config: pytest.Config) -> set[str]:
    """The markers registered in this run (ini `markers` lines: pytest's, plugins', tunegate's capabilities)."""
    lines: Iterable[str] = config.getini("markers")
    return {re.split(r"[:(]", line, maxsplit=1)[0].strip() for line in lines}


def unknown_marker(config: pytest.Config, state: SessionState, carried: set[str]) -> str | None:
    """Why `-m` names a marker that is neither registered nor carried by any collected test (None when none)."""
    expression = config.option.markexpr
    known = registered_markers(config) | carried
    for word in re.findall(r"\w+(?:-\w+)+", expression or ""):  # `-m old-task`: pytest reads 'old', then fails
        if (meant := word.replace("-", "_")) in known:
            return (f"-m {expression!r}: {word!r} is no marker name (a marker has no '-'); did you mean {meant!r}? "
                    "fix -m")
    for name in marker_names(expression or ""):
        if name not in known:
            capabilities = sorted(state.capabilities.markers())
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return (f"-m {expression!r}: no test carries the marker {name!r} and no plugin registers it ({hint}the "
                    f"capability markers: {', '.join(capabilities)}); its tests would not be judged: fix -m")
    return None


def headline(state: SessionState, why: str) -> str:
    """The refusal, in the words of the run's headline: 'tunegate NOT JUDGED: 0 of 40 configured gates judged; ...'."""
    configured = len(configured_gate_ids(state.gates, state.baseline is not None))
    return f"tunegate NOT JUDGED: 0 of {configured} configured gates judged; {why}"


def _skip_reason(item: pytest.Item) -> str | None:
    """The reason of the skip mark a selected test carries (None when it will run)."""
    mark = item.get_closest_marker("skip")
    if mark is None:
        return None
    return str(mark.kwargs.get("reason") or (mark.args[0] if mark.args else "skipped"))


def _missing(state: SessionState, items: Iterable[pytest.Item]) -> list[str]:
    """The data files the given tests' `reads` marks need and the data folder lacks, each once."""
    found: list[str] = []
    for item in items:
        found += missing_reads(state.settings.fixtures, list(item.iter_markers("reads")))
    return list(dict.fromkeys(found))


def nothing_to_judge(config: pytest.Config, state: SessionState, items: list[pytest.Item],
                     deselected_suite_tests: int) -> str | None:
    """Why this selection judges nothing, or leaves out a capability `-m` names (None when it judges something)."""
    suite_tests = [i for i in items if capability_of(i, state)]
    if not suite_tests and not deselected_suite_tests:
        return None  # no tunegate suite in the paths given: other tests, not tunegate's business
    if any(_skip_reason(i) is None for i in items):
        return _named_without_data(config, state, suite_tests)
    if not suite_tests:
        flags = " and ".join(f"-{f} {v!r}" for f, v in (("m", config.option.markexpr), ("k", config.option.keyword))
                             if v)
        return headline(state, f"{flags or 'the selection'} deselected every suite test ({deselected_suite_tests}) "
                               "and left no other test to run; select at least one (`pytest --collect-only -q` "
                               "lists their ids)")
    if missing := _missing(state, suite_tests):
        return headline(state, f"every selected suite test would be skipped: {state.settings.fixtures} lacks "
                               f"{', '.join(missing)} (the suites read them); add them (docs/data-folder.md) or "
                               "select suites whose data is there")
    if ungated := sorted({str(capability_of(i, state)) for i in suite_tests
                          if str(_skip_reason(i)).startswith("got empty parameter set")}):
        return headline(state, f"{state.gates.source} configures no gate of {', '.join(ungated)}, so its suite "
                               "tests would be skipped; add its gates there (docs/gates.md) or select others")
    reasons = sorted({str(_skip_reason(i)).split(": ", 1)[0] for i in suite_tests})
    return headline(state, f"every selected suite test would be skipped ({'; '.join(reasons)})")


def _named_without_data(config: pytest.Config, state: SessionState, suite_tests: list[pytest.Item]) -> str | None:
    """Why a capability `-m` names cannot run at all for lack of its data files (None when each named one can)."""
    named = set(marker_names(config.option.markexpr or ""))
    for capability in sorted(named & set(state.capabilities.markers())):
        own = [i for i in suite_tests if capability_of(i, state) == capability]
        if own and all(_skip_reason(i) for i in own) and (missing := _missing(state, own)):
            return (f"-m {config.option.markexpr!r} selects {capability}, but {state.settings.fixtures} lacks "
                    f"{', '.join(missing)} (the {capability} suite reads them): add them (docs/data-folder.md), or "
                    f"leave {capability} out of -m")
    return None
