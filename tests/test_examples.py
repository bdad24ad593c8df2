"""The worked example in examples/answer_language: a capability added from a user conftest through
`pytest_tunegate_capabilities`, with no edit inside harness/, gets its marker, gates, JUnit names, results.json
entries and report section; its gates fail on a planted regression and pass on the built-in model."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET

import pytest

from harness.capabilities import builtin_capabilities
from harness.data import Example
from harness.gating.gate_config import gate_config_from_mapping
from tests.conftest import ROOT
from tests.fakes import FakeModel

EXAMPLE = ROOT / "examples" / "answer_language"


def example_registry():
    """The built-in registry plus what the example's conftest hook adds."""
    spec = importlib.util.spec_from_file_location("answer_language_conftest", EXAMPLE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = builtin_capabilities()
    module.pytest_tunegate_capabilities(registry=registry, config=None)
    return registry


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


def test_the_example_gates_fail_when_the_tuned_model_answers_chinese_questions_in_english():
    registry = example_registry()
    capability = registry["answer_language"]
    config = gate_config_from_mapping({}, registry.metric_specs(), "example", registry.default_gates())
    data = [Example(f"zh-{i}", (("user", f"问题{i}"),), f"答案{i}") for i in range(30)] + \
        [Example(f"en-{i}", (("user", f"question {i}"),), f"answer {i}") for i in range(30)]
    right = {ex.prompt_text: ex.answer for ex in data}
    english = {**right, **{ex.prompt_text: "I do not know" for ex in data if ex.id.startswith("zh-")}}
    healthy = capability.run(config.for_capability("answer_language"),
                             (FakeModel("base", right), FakeModel("tuned", right)), data, None)[1]
    planted = capability.run(config.for_capability("answer_language"),
                             (FakeModel("base", right), FakeModel("tuned", english)), data, None)[1]
    assert all(v.passed for v in healthy.values()) and set(healthy) == set(planted)
    assert not any(v.passed for v in planted.values())
    assert "30 answers in the wrong language: zh-0" in planted["answer_language.match_rate_zh"].message
