"""The worked example in examples/answer_language: a capability added from a user conftest through
`pytest_tunegate_capabilities`, with no edit inside harness/, gets its marker, gates, JUnit names, results.json
entries and report section on the built-in model (its gates on a planted regression:
tests/fast/test_examples_fast.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT
from tests.example_capability import EXAMPLE, example_registry


def test_the_example_capability_runs_like_a_built_in_one(pytester: pytest.Pytester, tunegate, adapter_under_test):
    reports, junit = pytester.path / "reports", pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        str(EXAMPLE), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--strict-markers", "-m", "answer_language",
        "--report-dir", str(reports), "--cache-dir", str(tunegate.settings.cache_dir), "--junitxml", str(junit),
        timeout=600)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    gate_ids = [f"answer_language.{m}" for m in example_registry()["answer_language"].default_gates]
    names = {case.get("name") for case in ET.parse(junit).iter("testcase")}
    assert names == {f"test_gate[{gate}]" for gate in gate_ids}
    record = json.loads((reports / "latest" / "results.json").read_text())
    assert sorted(g["id"] for g in record["gates"] if g["capability"] == "answer_language") == sorted(gate_ids)
    assert {m["checkpoint"] for m in record["metrics"] if m["capability"] == "answer_language"} == {"base", "tuned"}
    assert any(s["capability"] == "answer_language" for s in record["samples"])
    html = (reports / "latest" / "report.html").read_text()
    assert "<h2 id='answer_language'>" in html and "Answer language by reference language" in html
